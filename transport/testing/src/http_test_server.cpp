#include "troupe/testing/http_test_server.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include <pthread.h>
#include <signal.h>

#include <httplib.h>

namespace troupe::testing {

namespace {

/// Handler threads. Well above what any test starts at once, so that the
/// concurrency a test observes is the client's, not the server's.
constexpr size_t handler_threads = 32;

/// Longest wait `/delay` accepts; keeps a typo from stalling a test.
constexpr long long max_delay_ms = 60'000;

long long param(const httplib::Request& req, const char* key, long long fallback, long long lo,
                long long hi) {
  if (!req.has_param(key))
    return fallback;
  auto str = req.get_param_value(key);
  char* end = nullptr;
  auto value = std::strtoll(str.c_str(), &end, 10);
  if (end == str.c_str() || *end != '\0')
    return fallback;
  return std::clamp(value, lo, hi);
}

/// httplib 0.11 listens with a backlog of 5: a burst of 20 connects then
/// overflows the accept queue, and the dropped SYNs are retried only after
/// 1 s. Subclassing is the only way to reach the listening socket.
class server_with_backlog : public httplib::Server {
public:
  /// Raises the backlog of the bound socket; Linux lets `listen` be called
  /// again on a listening socket for exactly that.
  bool raise_backlog() {
    socket_t fd = svr_sock_;
    return fd != INVALID_SOCKET && ::listen(fd, SOMAXCONN) == 0;
  }
};

} // namespace

struct http_test_server::impl {
  server_with_backlog server;
  std::thread thread;
  uint16_t port = 0;

  // Guards everything below; `changed` fires on every request start and end
  // and on stop, for `wait_for_concurrency` and for waiting handlers.
  mutable std::mutex mtx;
  mutable std::condition_variable changed;
  bool stopping = false;
  size_t current = 0;
  size_t max = 0;
  size_t total = 0;
  std::set<std::pair<std::string, int>> peers;

  std::mutex stop_mtx; // makes stop() idempotent under concurrent calls

  /// Counts a request for as long as its handler runs.
  struct in_request {
    in_request(impl& self, const httplib::Request& req) : self(self) {
      std::lock_guard<std::mutex> lock{self.mtx};
      ++self.total;
      self.max = std::max(self.max, ++self.current);
      self.peers.emplace(req.remote_addr, req.remote_port);
      self.changed.notify_all();
    }
    ~in_request() {
      std::lock_guard<std::mutex> lock{self.mtx};
      --self.current;
      self.changed.notify_all();
    }
    impl& self;
  };

  /// Waits up to `d`; returns false if the server started stopping.
  bool wait(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock{mtx};
    return !changed.wait_for(lock, d, [this] { return stopping; });
  }

  /// Waits until the server stops.
  void wait_for_stop() {
    std::unique_lock<std::mutex> lock{mtx};
    changed.wait(lock, [this] { return stopping; });
  }

  template <class F>
  httplib::Server::Handler counted(F f) {
    return [this, f](const httplib::Request& req, httplib::Response& res) {
      in_request guard{*this, req};
      f(req, res);
    };
  }

  void add_routes() {
    using httplib::Request;
    using httplib::Response;
    server.Get("/ok", counted([](const Request&, Response& res) {
                 res.set_header("X-Test", "ok");
                 res.set_content("ok", "text/plain");
               }));
    server.Get("/delay", counted([this](const Request& req, Response& res) {
                 auto ms = param(req, "ms", 0, 0, max_delay_ms);
                 if (wait(std::chrono::milliseconds{ms})) {
                   res.set_content("delayed", "text/plain");
                 } else {
                   res.status = 503;
                   res.set_content("stopping", "text/plain");
                 }
               }));
    server.Get("/status", counted([](const Request& req, Response& res) {
                 auto code = param(req, "code", 200, 200, 599);
                 res.status = static_cast<int>(code);
                 res.set_content("status " + std::to_string(code), "text/plain");
               }));
    server.Get("/hang", counted([this](const Request&, Response& res) {
                 wait_for_stop();
                 res.status = 503;
                 res.set_content("stopping", "text/plain");
               }));
    server.Get("/redirect", counted([](const Request& req, Response& res) {
                 auto n = param(req, "n", 1, 1, 1000);
                 res.set_redirect(n > 1 ? "/redirect?n=" + std::to_string(n - 1) : "/ok");
               }));
    server.Get("/big", counted([](const Request& req, Response& res) {
                 auto bytes = param(req, "bytes", 0, 0, 1LL << 30);
                 auto text = param(req, "text", 0, 0, 1) == 1;
                 res.set_content(std::string(static_cast<size_t>(bytes), 'x'),
                                 text ? "text/plain" : "application/octet-stream");
               }));
    server.Get("/echo", counted([](const Request& req, Response& res) {
                 auto name = req.get_param_value("header");
                 res.set_content(req.get_header_value(name.c_str()), "text/plain");
               }));
  }

  void serve() {
    // A client that gives up mid-response (cancel, body limit) makes the
    // next write hit a closed socket, and cpp-httplib sends without
    // MSG_NOSIGNAL on Linux, so block SIGPIPE here: the handler threads are created
    // by listen_after_bind on this thread and inherit the mask, and their
    // writes then fail with EPIPE instead of killing the test process.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    server.listen_after_bind();
  }
};

http_test_server::http_test_server() : impl_(std::make_unique<impl>()) {
  auto& d = *impl_;
  d.server.new_task_queue = [] { return new httplib::ThreadPool(handler_threads); };
  // Idle keep-alive connections are only noticed when the client closes
  // them or after this timeout, which bounds how long stop() can take.
  d.server.set_keep_alive_timeout(2);
  d.server.set_keep_alive_max_count(1000);
  // httplib writes headers and body separately; with Nagle on, a reused
  // connection waits for the client's delayed ACK (~40 ms) every response.
  d.server.set_tcp_nodelay(true);
  d.add_routes();
  auto port = d.server.bind_to_any_port("127.0.0.1");
  if (port <= 0 || !d.server.raise_backlog())
    return;
  d.port = static_cast<uint16_t>(port);
  // The socket already listens, so clients can connect right away; the
  // thread only starts accepting.
  d.thread = std::thread{[&d] { d.serve(); }};
  // httplib's stop() does nothing until the accept loop runs: wait for it
  // (bounded), so an early stop() cannot miss it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (!d.server.is_running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
}

http_test_server::~http_test_server() {
  stop();
}

void http_test_server::stop() {
  auto& d = *impl_;
  std::lock_guard<std::mutex> guard{d.stop_mtx};
  {
    std::lock_guard<std::mutex> lock{d.mtx};
    d.stopping = true;
  }
  d.changed.notify_all();
  if (d.thread.joinable()) {
    d.server.stop();
    d.thread.join();
  }
}

uint16_t http_test_server::port() const noexcept {
  return impl_->port;
}

std::string http_test_server::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + path;
}

size_t http_test_server::current_concurrency() const {
  std::lock_guard<std::mutex> lock{impl_->mtx};
  return impl_->current;
}

size_t http_test_server::max_concurrency() const {
  std::lock_guard<std::mutex> lock{impl_->mtx};
  return impl_->max;
}

size_t http_test_server::total_requests() const {
  std::lock_guard<std::mutex> lock{impl_->mtx};
  return impl_->total;
}

size_t http_test_server::connections() const {
  std::lock_guard<std::mutex> lock{impl_->mtx};
  return impl_->peers.size();
}

bool http_test_server::wait_for_concurrency(size_t n,
                                            std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock{impl_->mtx};
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->current >= n; });
}

} // namespace troupe::testing
