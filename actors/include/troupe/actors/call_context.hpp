#pragma once

/// `call_context`: what travels with a call and everything it causes — the
/// method called, the deadline, the W3C trace context, the request id and
/// the attempt.
///
/// A service call is the message `(call_context, request)`, locally and
/// across the network (the transport maps the context onto the envelope's
/// fields and back, docs/wire-protocol.md §7). While a handler runs, its
/// call's context is the thread's *current* context (asyncio's
/// `contextvars`): calls the handler makes inherit its deadline, trace id
/// and request id, and every Troupe log line written meanwhile carries
/// `[trace=… req=…]` (see `log.hpp`).
///
///   call_context ctx = call_context::ingress("/shop.v1.Pricing/Quote", now, 2s);
///   {
///     call_context_scope bound{ctx};   // current on this thread until `}`
///     log->info("quoting");           // "... [trace=4bf9… req=4bf9…] quoting"
///   }
///
/// Deadlines are points on the actor clock (`caf::actor_clock`), so a test
/// on CAF's deterministic scheduler runs them on virtual time.
///
/// Thread safety: a value type. The current context is per thread.

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/actor_clock.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

namespace troupe::actors {

struct call_context {
  using time_point = caf::actor_clock::time_point;

  /// The service method's full name, "/pkg.Service/Method".
  std::string method;
  /// The deadline as nanoseconds since the actor clock's epoch; 0 = none.
  int64_t deadline_ns = 0;
  /// W3C trace id: 32 lowercase hex digits, the same for every call of one
  /// trace.
  std::string trace_id;
  /// W3C span id of this call: 16 lowercase hex digits, new for every call.
  std::string span_id;
  /// The request this call serves (the ingress request's id, inherited by
  /// every call it causes).
  std::string request_id;
  /// 1 for the first try, 2 for the first retry, ...
  uint32_t attempt = 1;

  /// A context for a call that starts a request (nothing is current):
  /// new trace, span and request ids; the deadline `now + timeout`
  /// (no deadline for a timeout <= 0).
  static call_context ingress(std::string method, time_point now, caf::timespan timeout);

  /// The context of a call made while handling this one: the same trace
  /// and request id, a new span id, attempt 1, and the earlier of this
  /// deadline and `now + timeout` (a timeout <= 0 adds no bound).
  call_context child(std::string method, time_point now, caf::timespan timeout) const;

  bool has_deadline() const noexcept {
    return deadline_ns != 0;
  }

  /// The deadline; `time_point::max()` without one.
  time_point deadline() const noexcept;

  /// Sets the deadline (`time_point::max()` clears it).
  void set_deadline(time_point t) noexcept;

  /// Time left until the deadline (negative once passed);
  /// `caf::timespan::max()` without one.
  caf::timespan remaining(time_point now) const noexcept;

  /// True once the deadline has passed (never without one).
  bool expired(time_point now) const noexcept {
    return has_deadline() && remaining(now) <= caf::timespan{0};
  }

  /// The W3C `traceparent` header value, "00-<trace_id>-<span_id>-01".
  std::string traceparent() const;
};

/// @relates call_context
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_context& x) {
  return f(caf::meta::type_name("troupe.call_context"), x.method, x.deadline_ns, x.trace_id,
           x.span_id, x.request_id, x.attempt);
}

/// A new random W3C trace id (32 lowercase hex digits, never all zero).
std::string new_trace_id();

/// A new random W3C span id (16 lowercase hex digits, never all zero).
std::string new_span_id();

/// Reads a W3C `traceparent` ("00-<32 hex>-<16 hex>-<2 hex>"); false if
/// it is not one.
bool parse_traceparent(std::string_view text, std::string& trace_id, std::string& span_id);

/// The context of the call this thread is handling, or null.
const call_context* current_call_context() noexcept;

/// The clock the current context's deadline is measured on (the handling
/// actor's), or null if its scope did not name one.
const caf::actor_clock* current_call_clock() noexcept;

/// Makes a context current on this thread for its lifetime, then restores
/// the one that was current before (scopes nest). With `clock` (the
/// handling actor's `clock()`), log lines show the time left to the
/// deadline.
class call_context_scope {
public:
  explicit call_context_scope(const call_context& ctx,
                              const caf::actor_clock* clock = nullptr) noexcept;
  ~call_context_scope();
  call_context_scope(const call_context_scope&) = delete;
  call_context_scope& operator=(const call_context_scope&) = delete;

private:
  const call_context* previous_;
  const caf::actor_clock* previous_clock_;
};

} // namespace troupe::actors
