#pragma once

/// An asynchronous HTTP GET: libcurl's multi-socket interface driven by an
/// Asio event loop on the operation's own thread.
///
/// Thread safety: `start` and `cancel` follow the `async_operation` contract
/// (one owning caller, never concurrently). The counters are thread-safe.
/// `done` runs on the operation's loop thread; it must not block for long
/// (every other transfer waits meanwhile), must not throw, and must not
/// destroy the operation. It may call `start` or `cancel` only if the owner
/// allows that (both just post to the loop).
///
/// What curl provides: keep-alive (the multi handle's connection cache is
/// shared by every attempt of one `http_get`), bounded redirects, decoding
/// of compressed bodies (every encoding curl was built with is offered,
/// unless `config::accept_encoding` says otherwise),
/// TLS with the system's trust store. What it does not: the per-attempt
/// timeout, retries and the concurrency bound belong to the fetcher, which
/// calls `cancel`; `config::total_timeout` is only a safety net.
///
/// Outcomes (errors are `troupe::actors::fetch_errc`, the fetcher's own
/// codes, so a fetcher's `retry_policy` can name them for any operation):
/// - 2xx and 3xx (the latter only when redirects are off or not followed):
///   the `http_response`.
/// - status >= 400: `fetch_errc::http_status`, context (status as int64_t,
///   URL as requested).
/// - refused, unreachable, unresolvable: `fetch_errc::connect_failed`.
/// - curl's own timeouts (connect or total): `fetch_errc::attempt_timeout`.
/// - anything else, including a body larger than `max_body_size` and too
///   many redirects: `fetch_errc::transfer_failed`.
/// The context of the last three is (detail, URL), where the detail starts
/// with curl's `curl_easy_strerror` text.
///
/// Usage:
///   troupe::http::http_get get; // or http_get::make(cfg)
///   get.start(1, {"http://127.0.0.1:8080/ok", {}},
///             [](caf::expected<http_response> r) { /* on the loop thread */ });

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "troupe/actors/async_operation.hpp"
#include "troupe/http/http_message.hpp"

namespace troupe::http {

class http_get final : public actors::async_operation<http_request, http_response> {
public:
  // -- member types ---------------------------------------------------------

  struct config {
    /// Redirects followed per attempt; 0 returns the 3xx response itself.
    /// More than this many fail the attempt with `transfer_failed`.
    /// Default 5.
    uint32_t max_redirects = 5;
    /// Limit for establishing a connection (DNS, TCP, TLS). Fails with
    /// `attempt_timeout`. Default 10 s.
    caf::timespan connect_timeout = std::chrono::seconds{10};
    /// Safety limit for a whole attempt, redirects included, in case the
    /// owner never cancels it. The fetcher's per-attempt timeout should be
    /// shorter. Fails with `attempt_timeout`. Default 5 min.
    caf::timespan total_timeout = std::chrono::minutes{5};
    /// Largest body accepted, counted after decoding, so a compressed
    /// response cannot expand without bound. Larger bodies fail with
    /// `transfer_failed`. Default 64 MiB.
    size_t max_body_size = size_t{64} << 20;
    /// Sent as `User-Agent` unless the request sets its own.
    std::string user_agent = "troupe-http_get/0.1";
    /// Sent as `Accept-Encoding`; empty (the default) offers every
    /// encoding curl was built with (gzip, deflate, br, ...). "identity"
    /// asks for bodies as they are: compression saves bandwidth on a
    /// network and only costs the server CPU on loopback.
    std::string accept_encoding;

    /// Returns a `flow_errc::invalid_config` error naming the bad field, or
    /// none.
    caf::error validate() const;
  };

  // -- constructors, destructors, and assignment operators ------------------

  /// Starts the loop thread with the default config.
  http_get();

  /// Starts the loop thread. If `cfg` does not validate, or curl cannot be
  /// initialized, the object still works as an operation: every attempt
  /// fails with that error. Use `make` to get the error up front instead.
  explicit http_get(config cfg);

  /// Drops every attempt in flight without calling its `done`, closes the
  /// cached connections, and joins the loop thread. Must not run on the loop
  /// thread (i.e. not from inside a `done`).
  ~http_get() override;

  http_get(const http_get&) = delete;
  http_get& operator=(const http_get&) = delete;

  /// Returns an operation for `cfg`, or why it cannot work (an invalid
  /// config, curl failing to initialize).
  static caf::expected<std::unique_ptr<http_get>> make(config cfg);

  // -- async_operation ------------------------------------------------------

  /// Queues attempt `id` on the loop thread and returns at once. `id` must
  /// not be in flight already (a duplicate fails with `transfer_failed`).
  void start(uint64_t id, const http_request& req,
             actors::completion<http_response> done) override;

  /// Drops attempt `id`. Once `cancel` returns, `done` for `id` is not
  /// invoked anymore (a `done` that is already running on the loop thread
  /// finishes). Unknown or finished ids are ignored.
  void cancel(uint64_t id) override;

  // -- properties -----------------------------------------------------------

  /// Returns the number of `start` calls so far.
  uint64_t started() const noexcept;

  /// Returns the number of attempts that reached their `done` (with a
  /// response or an error); cancelled and dropped ones excluded.
  uint64_t completed() const noexcept;

  /// Returns the number of attempts dropped by `cancel`.
  uint64_t cancelled() const noexcept;

  /// Returns the number of attempts started but neither completed nor
  /// cancelled yet.
  uint64_t in_flight() const noexcept;

  /// Returns the effective configuration.
  const config& settings() const noexcept;

  /// Returns why the operation cannot work, or none.
  const caf::error& init_error() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::http
