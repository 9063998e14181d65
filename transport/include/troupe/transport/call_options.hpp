#pragma once

/// Per-request options of a remote call: its deadline and trace context.
///
/// Usage (normal CAF syntax; the proxy reads the options, the remote actor
/// sees only the payload):
///   self->request(proxy, 2s, call_options{500ms, "trace-1", "req-7"}, order)
///     .then([](const demo::v1::Receipt& r) { ... },
///           [](caf::error& e) { ... }); // e.g. transport_errc::request_timeout
///
/// Without options a request gets `node_config::default_deadline` and a
/// generated trace context. A proxy always answers a request: the reply, a
/// typed error, `request_timeout` when the deadline passes, or the reason the
/// connection ended. So the CAF timeout of `request` may be `caf::infinite`
/// (which saves CAF a timer per request: a lock and a wake-up of its clock
/// thread); a finite one should be at least as long as the deadline.

#include <cstdint>
#include <string>

#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

namespace troupe::transport {

struct call_options {
  /// Time the remote side has to answer, from now. 0 (default) = the node's
  /// `default_deadline`. Travels as remaining time; the receiving node does
  /// not start the work once it has passed.
  caf::timespan deadline{0};
  /// Trace id; empty (default) = generated.
  std::string trace_id;
  /// Request id; empty (default) = generated ("<node id>/<correlation id>").
  std::string request_id;
  /// 1 for the first try, 2 for the first retry, ...
  uint32_t attempt = 1;
};

/// @relates call_options
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, call_options& x) {
  return f(caf::meta::type_name("troupe.transport.call_options"), x.deadline, x.trace_id,
           x.request_id, x.attempt);
}

/// A request builder for `actors::caller` (its `request_builder`): every
/// attempt travels as `(call_options, xs...)` with the attempt number and
/// what is left of the call's deadline, so the remote side sees both in the
/// envelope and does not start work whose caller gave up.
///
///   calls.call<Quote>(pricing_proxy, with_call_options(request), on_quote);
template <class... Ts>
auto with_call_options(Ts... xs) {
  return [xs...](uint32_t attempt, caf::timespan left) {
    call_options opts;
    opts.deadline = left;
    opts.attempt = attempt;
    return caf::make_message(opts, xs...);
  };
}

} // namespace troupe::transport
