#pragma once

// An in-memory `connection_io`: the test plays the peer. What the
// connection writes is collected as bytes (`written_frames`); what the peer
// "sends" goes straight to the connection's frame sink (`deliver`), as the
// I/O thread would hand it over. No sockets, no threads: with CAF's
// deterministic scheduler, the connection actor's timers (connect,
// handshake, heartbeats, peer timeout) run on virtual time.

#include <string>
#include <vector>

#include "transport/src/framing.hpp"
#include "transport/src/io.hpp"
#include "troupe/wire.pb.h"

namespace troupe::testing {

class memory_connection final : public transport::internal::connection_io {
public:
  using frame_sink_ptr = transport::internal::frame_sink_ptr;
  using verdict = transport::internal::frame_sink::verdict;

  memory_connection() {
    set_address("memory:1");
  }

  // -- connection_io ----------------------------------------------------------

  void connect(frame_sink_ptr sink, std::string host, uint16_t port) override {
    set_address(host + ":" + std::to_string(port));
    sink_ = std::move(sink);
  }

  void start(frame_sink_ptr sink) override {
    sink_ = std::move(sink);
  }

  void resume() override {
    paused_ = false;
  }

  void raise_frame_limit(uint32_t max_frame_size) override {
    frame_limit_ = max_frame_size;
  }

  bool encrypted() const noexcept override {
    return encrypted_;
  }

  std::string channel_binding() const override {
    return binding_;
  }

  /// Plays a connection that runs over TLS with `binding` as its channel
  /// binding (default: plaintext).
  void set_encrypted(bool x, std::string binding = {}) {
    encrypted_ = x;
    binding_ = std::move(binding);
  }

  // -- what the connection did --------------------------------------------------

  /// The frame limit the connection raised to after its handshake; 0 until
  /// then.
  uint32_t frame_limit() const {
    return frame_limit_;
  }

  // -- the test's side ----------------------------------------------------------

  /// The dial succeeded.
  void connected() {
    sink_->on_connected();
  }

  /// The peer sends `frame`; returns false if the connection stopped reading
  /// (it paused and was not resumed, or it failed the frame).
  bool deliver(const wire::Frame& frame) {
    if (paused_ || closed_ || !sink_)
      return false;
    auto bytes = frame.SerializeAsString();
    caf::error err;
    auto v = sink_->on_frame(bytes, err);
    sink_->on_batch_end();
    if (err) {
      sink_->on_closed(std::move(err));
      return false;
    }
    paused_ = v == verdict::pause;
    return true;
  }

  /// The socket broke.
  void break_off(caf::error reason) {
    auto sink = std::move(sink_);
    closed_ = true;
    sink->on_closed(std::move(reason));
  }

  /// Every frame the connection wrote since the last call, in order.
  std::vector<wire::Frame> written_frames() {
    std::vector<wire::Frame> result;
    decoder_.feed(written_.data(), written_.size());
    written_.clear();
    for (;;) {
      wire::Frame frame;
      if (decoder_.next(frame) != transport::internal::frame_decoder::status::frame)
        break;
      result.push_back(std::move(frame));
    }
    return result;
  }

  /// Whether the connection closed its side.
  bool closed() const {
    return closed_;
  }

protected:
  void start_writing() override {
    std::string out;
    bool close_after = false;
    while (take_pending(out, close_after)) {
      written_ += out;
      out.clear();
    }
    if (close_after)
      close_side();
  }

  void flush_later(caf::execution_unit*) override {
    flush(); // nothing runs concurrently here: write at once
  }

  void start_closing() override {
    close_side();
  }

  void abort(caf::error err) override {
    if (auto sink = std::move(sink_))
      sink->on_closed(std::move(err));
    close_side();
  }

  /// Like a closed socket, lets go of the sink (the dispatcher, which holds
  /// the connection actor).
  void close_side() {
    closed_ = true;
    sink_ = nullptr;
  }

private:
  frame_sink_ptr sink_;
  uint32_t frame_limit_ = 0;
  bool encrypted_ = false;
  std::string binding_;
  bool paused_ = false;
  bool closed_ = false;
  std::string written_;
  transport::internal::frame_decoder decoder_{16u * 1024u * 1024u};
};

} // namespace troupe::testing
