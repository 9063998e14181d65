#include "troupe/actors/circuit_breaker.hpp"

#include "troupe/actors/flow_errc.hpp"

namespace troupe::actors {

caf::error circuit_breaker::config::validate() const {
  auto fail = [](std::string why) {
    return caf::make_error(flow_errc::invalid_config, "circuit_breaker: " + std::move(why));
  };
  if (failure_threshold == 0)
    return fail("failure_threshold must be >= 1 (got 0)");
  if (open_interval.count() <= 0)
    return fail("open_interval must be > 0");
  if (half_open_probes == 0)
    return fail("half_open_probes must be >= 1 (got 0)");
  return caf::none;
}

circuit_breaker::circuit_breaker() : circuit_breaker(config{}) {
  // nop
}

circuit_breaker::circuit_breaker(config cfg) : cfg_(cfg) {
  // nop
}

circuit_breaker::state circuit_breaker::current(time_point now) const {
  if (state_ == state::open && now - opened_at_ >= cfg_.open_interval)
    return state::half_open;
  return state_;
}

bool circuit_breaker::allow(time_point now) {
  if (state_ == state::open && now - opened_at_ >= cfg_.open_interval) {
    state_ = state::half_open;
    probes_in_flight_ = 0;
    probe_successes_ = 0;
  }
  switch (state_) {
    case state::closed:
      return true;
    case state::open:
      return false;
    case state::half_open:
      if (probes_in_flight_ + probe_successes_ >= cfg_.half_open_probes)
        return false;
      ++probes_in_flight_;
      return true;
  }
  return false;
}

void circuit_breaker::on_success() {
  switch (state_) {
    case state::closed:
      failures_ = 0;
      break;
    case state::half_open:
      if (probes_in_flight_ > 0)
        --probes_in_flight_;
      if (++probe_successes_ >= cfg_.half_open_probes) {
        state_ = state::closed;
        failures_ = 0;
      }
      break;
    case state::open:
      // A late result of an attempt started before the circuit opened.
      break;
  }
}

void circuit_breaker::on_failure(time_point now) {
  switch (state_) {
    case state::closed:
      if (++failures_ >= cfg_.failure_threshold) {
        state_ = state::open;
        opened_at_ = now;
      }
      break;
    case state::half_open:
      state_ = state::open;
      opened_at_ = now;
      probes_in_flight_ = 0;
      probe_successes_ = 0;
      break;
    case state::open:
      break;
  }
}

caf::timespan circuit_breaker::retry_after(time_point now) const {
  if (current(now) != state::open)
    return caf::timespan{0};
  return cfg_.open_interval - (now - opened_at_);
}

} // namespace troupe::actors
