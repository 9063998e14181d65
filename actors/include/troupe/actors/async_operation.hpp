#pragma once

/// The pluggable operation a fetcher runs: start an attempt, get a result or
/// a typed error back later, from any thread.
///
/// Contract:
/// - `start` and `cancel` are called from the owning actor only, never
///   concurrently. `start` must not block: it hands the work to an event loop
///   (e.g. the HTTP operation's Asio thread) and returns.
/// - `done` may be called from any thread, at most once per started attempt.
///   After `cancel(id)` it may still be called (the owner ignores stale
///   results), or never.
/// - The operation outlives every attempt it started: owners destroy it only
///   after cancelling what is in flight; its destructor waits for its own
///   threads, so no `done` runs after destruction.

#include <cstdint>
#include <functional>

#include <caf/expected.hpp>

namespace troupe::actors {

/// Receives one attempt's outcome.
template <class Result>
using completion = std::function<void(caf::expected<Result>)>;

template <class Request, class Result>
class async_operation {
public:
  using request_type = Request;
  using result_type = Result;

  virtual ~async_operation() = default;

  /// Starts attempt `id` for `req`; `done` receives its outcome.
  virtual void start(uint64_t id, const Request& req, completion<Result> done) = 0;

  /// Stops attempt `id` as far as possible (best effort).
  virtual void cancel(uint64_t id) = 0;
};

} // namespace troupe::actors
