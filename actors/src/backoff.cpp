#include "troupe/actors/backoff.hpp"

#include <algorithm>
#include <cmath>

#include <troupe/actors/human_units.hpp>

#include "troupe/actors/flow_errc.hpp"

namespace troupe::actors {

namespace {

caf::timespan uniform(caf::timespan lo, caf::timespan hi, std::mt19937_64& rng) {
  if (hi <= lo)
    return lo;
  std::uniform_int_distribution<caf::timespan::rep> dist{lo.count(), hi.count()};
  return caf::timespan{dist(rng)};
}

} // namespace

backoff backoff::none() {
  return backoff{caf::timespan{0}, caf::timespan{0}, 1.0};
}

backoff backoff::constant(caf::timespan delay) {
  return backoff{delay, delay, 1.0};
}

backoff backoff::exponential(caf::timespan base, caf::timespan cap, double multiplier) {
  return backoff{base, cap, multiplier};
}

backoff backoff::with_jitter(jitter j) const {
  auto result = *this;
  result.jitter_ = j;
  return result;
}

caf::error backoff::validate() const {
  auto fail = [](std::string why) {
    return caf::make_error(flow_errc::invalid_config, "backoff: " + std::move(why));
  };
  if (base_.count() < 0)
    return fail("base must be >= 0 (got " + human_duration(base_) + ")");
  if (cap_ < base_)
    return fail("cap must be >= base (got " + human_duration(cap_) + " < "
                + human_duration(base_) + ")");
  if (!(multiplier_ >= 1.0) || !std::isfinite(multiplier_))
    return fail("multiplier must be >= 1 (got " + std::to_string(multiplier_) + ")");
  return caf::none;
}

caf::timespan backoff::nominal(uint32_t n) const {
  if (n == 0 || base_.count() == 0)
    return caf::timespan{0};
  // Compute in double and clamp before converting: 2^64 ns overflows.
  auto d = static_cast<double>(base_.count()) * std::pow(multiplier_, n - 1.0);
  auto capped = std::min(d, static_cast<double>(cap_.count()));
  return caf::timespan{static_cast<caf::timespan::rep>(capped)};
}

caf::timespan backoff::draw(uint32_t n, caf::timespan previous, std::mt19937_64& rng) const {
  auto d = nominal(n);
  switch (jitter_) {
    case jitter::none:
      return d;
    case jitter::full:
      return uniform(caf::timespan{0}, d, rng);
    case jitter::equal:
      return uniform(d / 2, d, rng);
    case jitter::decorrelated: {
      auto prev = std::max(previous, base_);
      auto hi = std::min(
        cap_,
        caf::timespan{prev.count() >= cap_.count() / 3 ? cap_.count() : prev.count() * 3});
      return uniform(base_, hi, rng);
    }
  }
  return d;
}

std::string to_string(const backoff& x) {
  std::string result;
  if (x.cap().count() == 0)
    result = "none";
  else if (x.base() == x.cap())
    result = "constant(" + human_duration(x.base()) + ")";
  else
    result = "exponential(" + human_duration(x.base()) + ".." + human_duration(x.cap()) + ", x"
      + std::to_string(x.multiplier()) + ")";
  if (x.jitter_kind() != jitter::none)
    result += " with " + to_string(x.jitter_kind()) + " jitter";
  return result;
}

backoff_state::backoff_state(backoff policy, uint64_t seed) : policy_(policy), rng_(seed) {
  // nop
}

caf::timespan backoff_state::next() {
  auto d = policy_.draw(++attempts_, previous_, rng_);
  previous_ = d;
  return d;
}

void backoff_state::reset() {
  attempts_ = 0;
  previous_ = caf::timespan{0};
}

} // namespace troupe::actors
