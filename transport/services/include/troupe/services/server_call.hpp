#pragma once

/// `server_call`: one call a service method is handling — its context, its
/// actor, and `defer` for a reply given later. See `service.hpp`.

#include <memory>

#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/timespan.hpp>

#include <troupe/actors/call_context.hpp>

#include "troupe/services/reply.hpp"

namespace troupe::services {

class service_base;

/// One call being handled.
class server_call {
public:
  /// `stats`: where the answer is counted; `started`: when the call
  /// started (on the actor clock).
  server_call(service_base& service, caf::event_based_actor* self,
              const actors::call_context& ctx, method_stats* stats,
              caf::actor_clock::time_point started)
    : service_(&service), self_(self), ctx_(&ctx), stats_(stats), started_(started) {
    // nop
  }

  /// The call's method, deadline, trace and request id.
  const actors::call_context& context() const noexcept {
    return *ctx_;
  }

  /// The service's actor (to make calls or set timers from the method).
  caf::event_based_actor* self() const noexcept {
    return self_;
  }

  /// Time left until the call's deadline (`caf::timespan::max()` without).
  caf::timespan remaining() const;

  /// Answers later: return the result from the method, then `deliver` or
  /// `fail` it (see `deferred`).
  template <class T>
  deferred<T> defer() {
    return deferred<T>{track()};
  }

  /// The reply `defer` made for this call, if any.
  const std::shared_ptr<detail::pending_reply>& deferred_reply() const noexcept {
    return reply_;
  }

  /// Where the call's answer is counted.
  method_stats* stats() const noexcept {
    return stats_;
  }

  /// When the call started (on the actor clock).
  caf::actor_clock::time_point started() const noexcept {
    return started_;
  }

private:
  /// The call's reply, watched by the service until its deadline.
  std::shared_ptr<detail::pending_reply> track();

  std::shared_ptr<detail::pending_reply> reply_;
  service_base* service_;
  caf::event_based_actor* self_;
  const actors::call_context* ctx_;
  method_stats* stats_;
  caf::actor_clock::time_point started_;
};

} // namespace troupe::services
