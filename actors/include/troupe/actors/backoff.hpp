#pragma once

/// How long to wait before the next attempt: exponential growth, a cap, and
/// jitter so that many retrying clients do not synchronize.
///
/// A plain value type: it computes delays, it never sleeps. Retrying fetchers
/// and restarting supervisors schedule the delay on the actor clock, so tests
/// drive it with virtual time.
///
/// Usage:
///   auto b = backoff::exponential(100ms, 10s).with_jitter(jitter::full);
///   backoff_state s{b, seed};
///   auto d1 = s.next(); // in [0, 100ms]
///   auto d2 = s.next(); // in [0, 200ms]

#include <cstdint>
#include <random>
#include <string>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

namespace troupe::actors {

/// How a delay is randomized (names and formulas as in the AWS Architecture
/// Blog's "Exponential Backoff And Jitter"). `d` is the capped exponential
/// delay of the current attempt.
enum class jitter : uint8_t {
  /// Exactly `d`.
  none,
  /// Uniform in [0, d]. Spreads clients the most.
  full,
  /// Uniform in [d/2, d]. Keeps at least half the delay.
  equal,
  /// Uniform in [base, 3 × previous delay], capped. Grows from the previous
  /// delay rather than the attempt number.
  decorrelated,
};

/// Returns "none", "full", "equal" or "decorrelated".
std::string to_string(jitter x);

class backoff {
public:
  // -- factories ------------------------------------------------------------

  /// No delay at all.
  static backoff none();

  /// The same delay before every attempt.
  static backoff constant(caf::timespan delay);

  /// `base × multiplier^(attempt-1)`, capped at `cap`.
  static backoff exponential(caf::timespan base, caf::timespan cap, double multiplier = 2.0);

  /// Returns a copy that randomizes delays with `j`.
  backoff with_jitter(jitter j) const;

  // -- properties -----------------------------------------------------------

  caf::timespan base() const noexcept {
    return base_;
  }
  caf::timespan cap() const noexcept {
    return cap_;
  }
  double multiplier() const noexcept {
    return multiplier_;
  }
  jitter jitter_kind() const noexcept {
    return jitter_;
  }

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;

  /// The un-jittered delay before attempt `n` (1 = the first retry).
  caf::timespan nominal(uint32_t n) const;

  /// Draws the delay before attempt `n`, given the previous delay (used by
  /// decorrelated jitter; pass 0 before the first).
  caf::timespan draw(uint32_t n, caf::timespan previous, std::mt19937_64& rng) const;

  friend bool operator==(const backoff& x, const backoff& y) noexcept {
    return x.base_ == y.base_ && x.cap_ == y.cap_ && x.multiplier_ == y.multiplier_
      && x.jitter_ == y.jitter_;
  }
  friend bool operator!=(const backoff& x, const backoff& y) noexcept {
    return !(x == y);
  }

private:
  backoff(caf::timespan base, caf::timespan cap, double multiplier)
    : base_(base), cap_(cap), multiplier_(multiplier) {}

  caf::timespan base_;
  caf::timespan cap_;
  double multiplier_;
  jitter jitter_ = jitter::none;
};

/// Returns e.g. "exponential(100ms..10s, x2, full jitter)".
std::string to_string(const backoff& x);

/// A backoff in use: counts attempts and remembers the previous delay.
/// Not thread-safe; owned by one actor.
class backoff_state {
public:
  explicit backoff_state(backoff policy, uint64_t seed = std::random_device{}());

  /// Returns the delay before the next attempt and counts it.
  caf::timespan next();

  /// Starts over at the first delay (e.g. after a stable period).
  void reset();

  /// Number of delays drawn since construction or the last reset.
  uint32_t attempts() const noexcept {
    return attempts_;
  }

  const backoff& policy() const noexcept {
    return policy_;
  }

private:
  backoff policy_;
  std::mt19937_64 rng_;
  uint32_t attempts_ = 0;
  caf::timespan previous_{0};
};

} // namespace troupe::actors
