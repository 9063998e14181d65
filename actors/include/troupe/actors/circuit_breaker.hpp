#pragma once

/// Fails fast while a dependency is down, and probes it now and then.
///
/// closed ──(failure_threshold consecutive failures)──▶ open
/// open ──(open_interval passed)──▶ half_open
/// half_open ──(half_open_probes successes)──▶ closed
/// half_open ──(any failure)──▶ open
///
/// A plain value type: the caller passes the time (from the actor clock), so
/// tests use virtual time. Not thread-safe; owned by one actor.

#include <cstdint>
#include <string>

#include <caf/actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

namespace troupe::actors {

class circuit_breaker {
public:
  using time_point = caf::actor_clock::time_point;

  enum class state : uint8_t { closed, open, half_open };

  struct config {
    /// Consecutive failures (while closed) that open the circuit. Default 5.
    uint32_t failure_threshold = 5;
    /// How long the circuit stays open before letting probes through.
    caf::timespan open_interval = std::chrono::seconds{30};
    /// Probes allowed at once while half-open; that many successes close the
    /// circuit. Default 1.
    uint32_t half_open_probes = 1;

    /// Returns an `invalid_config` error naming the bad field, or none.
    caf::error validate() const;
  };

  /// Uses the default config.
  circuit_breaker();

  /// Requires `cfg.validate()` to pass (checked by the owner at construction).
  explicit circuit_breaker(config cfg);

  /// True if an attempt may start now. While half-open, counts a probe.
  bool allow(time_point now);

  /// Records a successful attempt.
  void on_success();

  /// Records a failed attempt.
  void on_failure(time_point now);

  /// Returns the state at `now` (open turns half-open when its time is up).
  state current(time_point now) const;

  /// Time left until an open circuit lets probes through; 0 if not open.
  caf::timespan retry_after(time_point now) const;

  /// Consecutive failures counted while closed.
  uint32_t failures() const noexcept {
    return failures_;
  }

  const config& settings() const noexcept {
    return cfg_;
  }

private:
  config cfg_;
  state state_ = state::closed;
  uint32_t failures_ = 0;
  uint32_t probes_in_flight_ = 0;
  uint32_t probe_successes_ = 0;
  time_point opened_at_{};
};

/// Returns "closed", "open" or "half_open".
std::string to_string(circuit_breaker::state x);

} // namespace troupe::actors
