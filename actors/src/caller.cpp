#include "troupe/actors/caller.hpp"

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/spawn_options.hpp>

namespace troupe::actors {

namespace {

using timer_atom = caf::atom_constant<caf::atom("trp_ctimer")>;

/// Takes timer requests and never answers them: the requester's timeout is
/// the alarm. Holds nothing, so unanswered requests cost nothing here.
caf::behavior silent_timer() {
  return {[](timer_atom) { return caf::delegated<void>(); }};
}

} // namespace

caf::error call_policy::validate() const {
  auto fail = [](std::string why) {
    return caf::make_error(flow_errc::invalid_config, "call_policy: " + std::move(why));
  };
  if (deadline.count() <= 0)
    return fail("deadline must be > 0");
  if (attempt_timeout.count() < 0)
    return fail("attempt_timeout must be >= 0");
  if (auto err = retry.validate())
    return err;
  if (breaker)
    if (auto err = breaker->validate())
      return err;
  return caf::none;
}

caller::caller(caf::event_based_actor* self, call_policy policy)
  : self_(self),
    policy_(std::move(policy)),
    rng_(policy_.seed != 0 ? policy_.seed : std::random_device{}()) {
  // nop
}

caller::time_point caller::now() const {
  return self_->clock().now();
}

circuit_breaker::state caller::breaker_state(const caf::actor& target) const {
  auto i = breakers_.find(target.address());
  return i != breakers_.end() ? i->second.current(now()) : circuit_breaker::state::closed;
}

circuit_breaker* caller::breaker_for(const caf::actor& target) {
  if (!policy_.breaker)
    return nullptr;
  auto i = breakers_.find(target.address());
  if (i == breakers_.end())
    i = breakers_.emplace(target.address(), circuit_breaker{*policy_.breaker}).first;
  return &i->second;
}

void caller::attempt_ended(const caf::actor& target, bool ok) {
  --stats_.in_flight;
  if (auto* b = breaker_for(target)) {
    if (ok)
      b->on_success();
    else
      b->on_failure(now());
  }
  // The freed slot goes to the oldest waiting attempt.
  while (!waiting_.empty()
         && (policy_.max_in_flight == 0 || stats_.in_flight < policy_.max_in_flight)) {
    auto next = std::move(waiting_.front());
    waiting_.pop_front();
    next(); // starts an attempt (taking the slot), or ends its call
  }
}

void caller::after(caf::timespan delay, std::function<void()> f) {
  if (!timer_)
    timer_ = self_->spawn<caf::linked>(silent_timer);
  // The timeout error is the alarm; the timer never answers.
  self_->request(timer_, delay, timer_atom::value)
    .then([] {}, [g = std::move(f)](caf::error&) { g(); });
}

} // namespace troupe::actors
