#pragma once

// A blocking TCP client for tests that speak the wire protocol by hand (bad
// input, hand-made handshakes). POSIX sockets with poll() timeouts: every
// call is bounded.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include "transport/src/framing.hpp"
#include "transport/src/handshake.hpp"

#include "troupe/wire.pb.h"

namespace troupe::testing {

class raw_peer {
public:
  using ms = std::chrono::milliseconds;

  explicit raw_peer(uint16_t port) : decoder_(64u * 1024u * 1024u) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    if (fd_ >= 0)
      ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }

  ~raw_peer() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;

  bool connected() const {
    return fd_ >= 0;
  }

  /// Writes all of `bytes`; false if the connection broke.
  bool write(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0)
        return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  bool write_frame(const wire::Frame& frame) {
    std::string bytes;
    if (transport::internal::append_frame(frame, 64u * 1024u * 1024u, bytes))
      return false;
    return write(bytes);
  }

  /// Bounds each later `write`: a send that cannot progress for `timeout`
  /// fails instead of blocking (a peer that stopped reading us).
  void set_send_timeout(ms timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }

  void shutdown_write() {
    ::shutdown(fd_, SHUT_WR);
  }

  /// Returns the next frame (heartbeats skipped unless asked for) within
  /// `timeout`; nullopt on timeout, close or undecodable bytes.
  std::optional<wire::Frame> read_frame(ms timeout = ms{3000}, bool skip_heartbeats = true) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      wire::Frame frame;
      auto st = decoder_.next(frame);
      if (st == transport::internal::frame_decoder::status::frame) {
        if (skip_heartbeats && frame.kind_case() == wire::Frame::kHeartbeat)
          continue;
        return frame;
      }
      if (st == transport::internal::frame_decoder::status::failed || closed_)
        return std::nullopt;
      if (!fill(deadline))
        return std::nullopt;
    }
  }

  /// Waits until the node closes the connection; false on timeout.
  bool wait_closed(ms timeout = ms{3000}) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!closed_)
      if (!fill(deadline) && !closed_)
        return false;
    return true;
  }

  /// Runs the initiator's handshake; returns the last frame received
  /// (a Welcome on success).
  std::optional<wire::Frame> handshake(const std::string& node_id,
                                       const std::string& secret = "",
                                       uint32_t version = transport::protocol_version) {
    transport::internal::handshake hs{transport::internal::handshake_role::initiator,
                                      {node_id, secret, "", 0, version},
                                      transport::internal::random_nonce()};
    wire::Frame out;
    hs.start(out);
    if (!write_frame(out))
      return std::nullopt;
    for (int i = 0; i < 2; ++i) {
      auto in = read_frame();
      if (!in)
        return std::nullopt;
      wire::Frame reply;
      caf::error err;
      auto send = hs.handle(*in, reply, err);
      if (send && !write_frame(reply))
        return std::nullopt;
      if (err || hs.done())
        return in;
    }
    return std::nullopt;
  }

private:
  /// Reads more bytes before `deadline`; false on timeout or close.
  bool fill(std::chrono::steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<ms>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return false;
    char buf[65536];
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    decoder_.feed(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool closed_ = false;
  transport::internal::frame_decoder decoder_;
};

} // namespace troupe::testing
