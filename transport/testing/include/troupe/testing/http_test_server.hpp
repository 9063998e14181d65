#pragma once

/// A local HTTP/1.1 server for tests of HTTP clients and fetchers.
///
/// Binds 127.0.0.1 on an ephemeral port and serves from its own thread (and
/// a pool of 32 handler threads, so the server itself never caps how many
/// requests run at once). The destructor stops it and joins every thread;
/// requests that wait (`/delay`, `/hang`) are woken up then, so stopping is
/// prompt. Thread-safe: every member may be called from any thread.
///
/// Routes (all GET):
/// - `/ok`: 200, body "ok", header `X-Test: ok`.
/// - `/delay?ms=N`: 200 after N ms (capped at 60 s), body "delayed".
/// - `/status?code=N`: status N, body "status N".
/// - `/hang`: answers only when the server stops (then 503).
/// - `/redirect`: 302 to `/ok`; `/redirect?n=K`: a chain of K redirects
///   ending at `/ok`.
/// - `/big?bytes=N`: N bytes of 'x' as application/octet-stream (never
///   compressed); `&text=1` sends text/plain, which the server compresses if
///   the client accepts it.
/// - `/echo?header=NAME`: the value of request header NAME as the body.
///
/// Usage:
///   troupe::testing::http_test_server server;
///   REQUIRE(server.port() != 0);
///   client.get(server.url("/delay?ms=100"));
///   CHECK(server.max_concurrency() <= 4);

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace troupe::testing {

class http_test_server {
public:
  /// Binds and starts serving. On failure `port()` returns 0.
  http_test_server();

  /// Calls `stop()`.
  ~http_test_server();

  http_test_server(const http_test_server&) = delete;
  http_test_server& operator=(const http_test_server&) = delete;

  /// Wakes waiting handlers, stops accepting, and joins the server threads.
  /// Idempotent.
  void stop();

  /// Returns the bound port, or 0 if binding failed.
  uint16_t port() const noexcept;

  /// Returns "http://127.0.0.1:<port><path>".
  std::string url(const std::string& path) const;

  /// Returns the number of requests being handled right now.
  size_t current_concurrency() const;

  /// Returns the largest number of requests ever handled at the same time.
  size_t max_concurrency() const;

  /// Returns the number of requests received so far (all routes).
  size_t total_requests() const;

  /// Returns the number of distinct client connections seen so far (by the
  /// client's address and port); shows whether keep-alive reused them.
  size_t connections() const;

  /// Blocks until at least `n` requests are being handled at once or
  /// `timeout` passes; returns whether it happened.
  bool wait_for_concurrency(size_t n, std::chrono::milliseconds timeout) const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::testing
