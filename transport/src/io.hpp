#pragma once

// Internal: the node's I/O side behind small interfaces, so actors never see
// Asio (and Asio stays out of the CAF-heavy translation units). The TCP
// implementation lives in tcp_io.cpp.
//
// Contract: every member function of `connection_io` is thread-safe. Inbound
// frames are handed to the connection's `frame_sink` on the I/O thread, one
// at a time and in order; the sink decides what goes straight to actors (the
// hot path: envelopes, replies) and what goes to the connection actor.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "adaptive_mutex.hpp"
#include "troupe/transport/node_config.hpp"

namespace troupe::transport::internal {

/// Frames and bytes a node's connections read and wrote. Relaxed atomics:
/// added once per read and once per write batch, read at a scrape.
struct io_counters {
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> frames_out{0};
  std::atomic<uint64_t> bytes_out{0};
};

/// The io_context and its thread(s).
class io_runtime {
public:
  virtual ~io_runtime();

  /// What every connection of this runtime (one node's) read and wrote.
  io_counters& counters() noexcept {
    return counters_;
  }

  /// Lets pending I/O finish (every socket is closed by then) and joins the
  /// thread(s); stops the loop after `bound` if it does not finish.
  virtual void shutdown(caf::timespan bound) = 0;

private:
  io_counters counters_;
};

using io_runtime_ptr = std::shared_ptr<io_runtime>;

/// Starts `threads` I/O threads.
io_runtime_ptr make_io_runtime(uint32_t threads);

/// A node's TLS settings with its certificates, key and CAs loaded (an
/// OpenSSL context, shared by all its connections). Defined in tcp_io.cpp.
class tls_context;

using tls_context_ptr = std::shared_ptr<tls_context>;

/// Loads `cfg`'s files. Error: `invalid_config` naming the file and
/// OpenSSL's reason.
caf::expected<tls_context_ptr> make_tls_context(const tls_config& cfg);

/// Receives what a connection reads. Called on the I/O thread only, never
/// concurrently for one connection.
class frame_sink {
public:
  /// What the reader does after a frame.
  enum class verdict : uint8_t {
    /// Go on with the next frame.
    next,
    /// Stop decoding until `connection_io::resume` (the connection actor
    /// must see this frame before any later one is dispatched).
    pause,
  };

  virtual ~frame_sink();

  /// The dialed connection is up (reading starts next).
  virtual void on_connected() = 0;

  /// The bytes of one frame (a `troupe.wire.Frame` without its length
  /// prefix), valid until `on_batch_end`. Setting `err` ends the connection
  /// with it (e.g. `malformed_frame`): nothing after this frame is read.
  virtual verdict on_frame(std::string_view frame, caf::error& err) = 0;

  /// The frames of one read are done.
  virtual void on_batch_end() = 0;

  /// The connection ended (EOF, I/O error, framing error, failed dial);
  /// reported once, after which nothing else is called.
  virtual void on_closed(caf::error reason) = 0;
};

using frame_sink_ptr = std::shared_ptr<frame_sink>;

/// One TCP connection: decodes frames for its sink, writes bytes.
///
/// Writes: every writer appends encoded frames to one buffer under a short
/// lock (`write`). The first writer after the connection went idle takes the
/// writer role and sends the buffer itself, with a non-blocking system call
/// on its own thread; bytes the socket does not take at once, and everything
/// appended meanwhile, are written by the I/O thread. A TLS connection has
/// no direct send (an SSL object is used by one thread at a time): its
/// writer role posts the writing to the I/O thread. A writer that runs
/// inside a CAF actor (`host` set) defers even that to the end of the actor's
/// current activation (a job on the same scheduler thread), so everything an
/// actor writes while handling a batch of messages leaves in one system call.
/// Nobody ever waits for the socket, and the I/O thread is woken only when
/// the socket is full.
class connection_io {
public:
  virtual ~connection_io();

  /// Dials `host:port`; reports `on_connected` or `on_closed(connect_failed)`
  /// to `sink`, then reads.
  virtual void connect(frame_sink_ptr sink, std::string host, uint16_t port) = 0;

  /// Starts reading an accepted connection for `sink`.
  virtual void start(frame_sink_ptr sink) = 0;

  /// Continues decoding after a `verdict::pause`.
  virtual void resume() = 0;

  /// The handshake is done: frames up to `max_frame_size` may follow. A
  /// connection starts with the (small) handshake limit. Call before the
  /// `resume` that follows the last handshake frame: both run on the I/O
  /// side in the order they were called.
  virtual void raise_frame_limit(uint32_t max_frame_size) = 0;

  /// Appends bytes produced by `encode(std::string& buffer)` (which returns
  /// a `caf::error` and leaves the buffer as it was on error) and makes sure
  /// they get written: at the end of the current activation of `host` (up to
  /// `defer_limit` buffered bytes), else at once on this thread, unless
  /// someone is writing already.
  /// Returns `encode`'s error, or `node_stopped` once the connection is
  /// closing (nothing is appended then).
  template <class Encode>
  caf::error write(Encode&& encode, caf::execution_unit* host = nullptr) {
    std::unique_lock<adaptive_mutex> guard{wmtx_};
    if (wclosed_)
      return closed_error();
    if (auto err = encode(wbuf_))
      return err;
    ++wframes_;
    if (wbuf_.size() > write_limit_) {
      // The peer does not take what it is sent: drop it, not our memory.
      auto err = slow_peer_error(address_, wbuf_.size());
      std::string{}.swap(wbuf_);
      wframes_ = 0;
      wclosed_ = true;
      guard.unlock();
      abort(err);
      return err;
    }
    if (writing_ || wbuf_.empty())
      return caf::none; // the current writer takes these bytes too
    if (host != nullptr && wbuf_.size() < defer_limit) {
      if (!flush_pending_) {
        flush_pending_ = true;
        guard.unlock();
        flush_later(host);
      }
      return caf::none;
    }
    writing_ = true;
    guard.unlock();
    start_writing();
    return caf::none;
  }

  /// Writes what `write` deferred (run by the job `flush_later` scheduled).
  void flush();

  /// A writer in an actor defers at most this many bytes to the end of the
  /// actor's activation; beyond it, it writes at once (an actor that sends a
  /// lot while handling one long batch does not pile up memory).
  static constexpr size_t defer_limit = 64 * 1024;

  /// Queues `bytes`, then closes once they are written.
  void send_and_close(const std::string& bytes);

  /// Once more than `bytes` are queued and not yet taken by the socket, the
  /// next `write` fails with `slow_peer` and closes the connection
  /// (`node_config::max_write_buffer`). Default: no limit.
  void set_write_limit(size_t bytes);

  /// Closes at once; queued bytes are dropped. Idempotent.
  void close();

  /// "ip:port" of the peer (or of the dialed address), for log lines.
  std::string remote_address() const;

  /// Whether the bytes travel in TLS. Known before the first frame reaches
  /// the sink; a TLS node's accepted connection from a plaintext peer is
  /// not (its handshake refuses it).
  virtual bool encrypted() const noexcept = 0;

  /// For an encrypted connection: 32 bytes of TLS keying material exported
  /// under the label "EXPORTER-troupe-v1" (RFC 5705 / 8446), equal at both
  /// ends of one TLS session and different across a man in the middle; the
  /// handshake's proofs cover it. Empty for plaintext. Valid once
  /// `encrypted()` returned true.
  virtual std::string channel_binding() const = 0;

protected:
  // -- for the implementation -------------------------------------------------

  /// Writes the buffer (`take_pending`); the caller holds the writer role
  /// (it set `writing_`), which `take_pending` gives up once nothing is left.
  virtual void start_writing() = 0;

  /// Runs `flush()` on `host` after its current job.
  virtual void flush_later(caf::execution_unit* host) = 0;

  /// Closes the socket on the I/O side.
  virtual void start_closing() = 0;

  /// Reports `err` to the sink (as the reason the connection closed) and
  /// closes at once: a limit was hit on a writer's thread.
  virtual void abort(caf::error err) = 0;

  /// Moves the buffered bytes into `out` (which must be empty). Returns
  /// false and gives up the writer role if there are none; sets
  /// `close_after` if the connection is to close once they are written.
  bool take_pending(std::string& out, bool& close_after);

  void set_address(std::string x);

  /// Where the frames and bytes written are counted (the runtime's; set
  /// once, before the first write). Null: not counted.
  io_counters* counters_ = nullptr;

private:
  static caf::error closed_error();
  static caf::error slow_peer_error(const std::string& address, size_t queued);

  mutable adaptive_mutex wmtx_;
  std::string wbuf_;
  /// Frames in `wbuf_`, added to `counters_` when the writer takes them.
  uint64_t wframes_ = 0;
  std::string address_;
  size_t write_limit_ = SIZE_MAX;
  bool writing_ = false;
  bool flush_pending_ = false;
  bool wclosed_ = false;
  bool close_after_write_ = false;
  bool graceful_ = false;
};

using connection_io_ptr = std::shared_ptr<connection_io>;

/// A correlation id is `(proxy index << proxy_shift) | sequence number`.
constexpr unsigned proxy_shift = 40;

/// Returns an unconnected TCP connection (call `connect`) that accepts
/// frames up to `max_frame_size` until `raise_frame_limit`; with `tls`, it
/// runs a TLS handshake once connected (`connect_failed`, `tls_failed` or
/// `tls_mismatch` if that fails) before `on_connected`.
connection_io_ptr make_tcp_connection(const io_runtime_ptr& rt, uint32_t max_frame_size,
                                      tls_context_ptr tls = nullptr);

/// A listening socket.
class listener_io {
public:
  virtual ~listener_io();

  /// Accepts connections; each goes to `owner` as `(accepted_atom,
  /// connection_io_ptr)`. Called again (e.g. by a restarted listener
  /// actor), it only changes the owner and hands it the connections
  /// accepted meanwhile.
  virtual void start(caf::actor owner) = 0;

  /// The owner is gone (crashed, awaiting its restart): keep accepting, but
  /// hold new connections for the next `start` instead of sending them to
  /// a dead actor (which would drop them).
  virtual void detach() = 0;

  virtual void close() = 0;

  /// The bound port.
  virtual uint16_t port() const = 0;
};

using listener_io_ptr = std::shared_ptr<listener_io>;

/// Binds and listens on `host:port` (synchronously). Error: `listen_failed`.
/// With `tls`, an accepted connection runs the server side of a TLS
/// handshake before its first frame (or first write), unless the peer's
/// first bytes are not a TLS record: then it stays plaintext, unencrypted,
/// for the handshake to refuse.
caf::expected<listener_io_ptr> make_tcp_listener(const io_runtime_ptr& rt,
                                                 const std::string& host, uint16_t port,
                                                 uint32_t max_frame_size,
                                                 tls_context_ptr tls = nullptr);

} // namespace troupe::transport::internal
