#pragma once

// A TCP relay on 127.0.0.1 that forwards every byte to an upstream port
// after a fixed delay (a slow link), and can go silent (a frozen peer: the
// connection stays open, nothing gets through). One poll() thread; every
// connection through it gets its own upstream connection.
//
// It also watches the heartbeats the upstream side sends toward the dialing
// side (it decodes the frames): when the last one was sent on, and how many
// it swallowed while frozen. A silent-peer test measures failure detection
// in those, not in wall-clock windows.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "transport/src/framing.hpp"

#include "troupe/wire.pb.h"

namespace troupe::testing {

class delay_relay {
public:
  using clock = std::chrono::steady_clock;

  delay_relay(uint16_t upstream_port, std::chrono::milliseconds delay)
    : upstream_(upstream_port), delay_(delay) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }

  ~delay_relay() {
    stop_ = true;
    thread_.join();
    for (auto& p : pipes_) {
      ::close(p.a);
      ::close(p.b);
    }
    ::close(listen_fd_);
  }

  uint16_t port() const {
    return port_;
  }

  /// While frozen, bytes are read and dropped in both directions.
  void freeze(bool on) {
    frozen_ = on;
  }

  /// When the relay last sent a chunk holding a heartbeat frame on toward the
  /// dialing side (taken just before the send, so the dialer got it later);
  /// the epoch if it never did.
  clock::time_point last_heartbeat_to_dialer() const {
    return clock::time_point{clock::duration{last_heartbeat_to_dialer_.load()}};
  }

  /// Waits until a heartbeat frame was sent on toward the dialing side, at
  /// most `limit`; returns whether one was.
  bool wait_heartbeat_to_dialer(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> guard{mtx_};
    return heartbeat_sent_.wait_for(guard, limit,
                                    [this] { return last_heartbeat_to_dialer_.load() != 0; });
  }

  /// Number of heartbeat frames the upstream side sent toward the dialing
  /// side that the relay dropped while frozen and the dialer was still
  /// connected.
  size_t heartbeats_dropped_to_dialer() const {
    return heartbeats_dropped_to_dialer_.load();
  }

private:
  struct chunk {
    clock::time_point due;
    std::string bytes;
    bool heartbeat = false; // completes at least one heartbeat frame
  };
  struct pipe {
    int a; // accepted
    int b; // upstream
    std::deque<chunk> a_to_b;
    std::deque<chunk> b_to_a;
    bool dead = false;
    // While frozen, a side that closes is only forgotten: the other side
    // keeps an open, silent connection (a frozen peer, not a closed one).
    bool a_gone = false;
    bool b_gone = false;
    // Frames from b (upstream) toward a, for the heartbeat counters.
    transport::internal::frame_decoder from_b{64u * 1024u * 1024u};

    /// Feeds bytes read from b; returns the heartbeat frames they complete.
    size_t heartbeats_from_b(const char* data, size_t size) {
      from_b.feed(data, size);
      size_t n = 0;
      wire::Frame f;
      while (from_b.next(f) == transport::internal::frame_decoder::status::frame)
        if (f.has_heartbeat())
          ++n;
      return n;
    }
  };

  static int dial(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  void pump(std::deque<chunk>& q, int to, bool& dead,
            std::atomic<clock::rep>* last_heartbeat = nullptr) {
    auto now = clock::now();
    while (!q.empty() && q.front().due <= now) {
      auto& bytes = q.front().bytes;
      if (last_heartbeat != nullptr && q.front().heartbeat) {
        std::lock_guard<std::mutex> guard{mtx_};
        *last_heartbeat = clock::now().time_since_epoch().count();
        heartbeat_sent_.notify_all();
      }
      if (::send(to, bytes.data(), bytes.size(), MSG_NOSIGNAL)
          != static_cast<ssize_t>(bytes.size()))
        dead = true;
      q.pop_front();
    }
  }

  void run() {
    while (!stop_) {
      std::vector<pollfd> fds;
      fds.push_back({listen_fd_, POLLIN, 0});
      for (auto& p : pipes_) {
        fds.push_back({p.a_gone ? -1 : p.a, POLLIN, 0});
        fds.push_back({p.b_gone ? -1 : p.b, POLLIN, 0});
      }
      ::poll(fds.data(), fds.size(), 5);
      auto polled = pipes_.size(); // a pipe accepted below has no pollfd yet
      if (fds[0].revents & POLLIN) {
        int a = ::accept(listen_fd_, nullptr, nullptr);
        int b = a >= 0 ? dial(upstream_) : -1;
        if (a >= 0 && b >= 0)
          pipes_.push_back(pipe{a, b, {}, {}});
        else if (a >= 0)
          ::close(a);
      }
      char buf[65536];
      for (size_t i = 0; i < polled; ++i) {
        auto& p = pipes_[i];
        auto& fa = fds[1 + 2 * i];
        auto& fb = fds[2 + 2 * i];
        if (fa.revents & (POLLIN | POLLHUP | POLLERR)) {
          auto n = ::recv(p.a, buf, sizeof(buf), 0);
          if (n <= 0 && frozen_)
            p.a_gone = true;
          else if (n <= 0)
            p.dead = true;
          else if (!frozen_)
            p.a_to_b.push_back({clock::now() + delay_, std::string(buf, size_t(n))});
        }
        if (fb.revents & (POLLIN | POLLHUP | POLLERR)) {
          auto n = ::recv(p.b, buf, sizeof(buf), 0);
          if (n <= 0 && frozen_) {
            p.b_gone = true;
          } else if (n <= 0) {
            p.dead = true;
          } else {
            auto beats = p.heartbeats_from_b(buf, size_t(n));
            if (!frozen_)
              p.b_to_a.push_back(
                {clock::now() + delay_, std::string(buf, size_t(n)), beats > 0});
            else if (!p.a_gone)
              heartbeats_dropped_to_dialer_ += beats;
          }
        }
        pump(p.a_to_b, p.b, p.dead);
        pump(p.b_to_a, p.a, p.dead, &last_heartbeat_to_dialer_);
      }
      for (auto i = pipes_.begin(); i != pipes_.end();) {
        if (i->dead) {
          ::close(i->a);
          ::close(i->b);
          i = pipes_.erase(i);
        } else {
          ++i;
        }
      }
    }
  }

  uint16_t upstream_;
  std::chrono::milliseconds delay_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> frozen_{false};
  std::atomic<clock::rep> last_heartbeat_to_dialer_{0};
  std::atomic<size_t> heartbeats_dropped_to_dialer_{0};
  std::mutex mtx_;
  std::condition_variable heartbeat_sent_;
  std::vector<pipe> pipes_;
  std::thread thread_;
};

} // namespace troupe::testing
