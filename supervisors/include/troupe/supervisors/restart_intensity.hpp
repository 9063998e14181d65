#pragma once

/// How often a supervisor may restart children before it gives up: at most
/// `max_restarts` restarts within any sliding `window` (OTP's intensity and
/// period).
///
/// Usage:
///   supervisor_config cfg;
///   cfg.intensity = restart_intensity{3, 10s}; // the 4th restart in 10 s fails
///
/// Restarts are counted when they are decided (at the failure), not when a
/// backoff delay lets them happen, so a delay never hides a crash loop.

#include <cstdint>
#include <deque>
#include <string>

#include <caf/actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

namespace troupe::supervisors {

/// The limit: at most `max_restarts` restarts within any `window`.
struct restart_intensity {
  /// Restarts allowed within one window; 0 means "never restart". Default 1
  /// (OTP's default).
  uint32_t max_restarts = 1;
  /// Length of the sliding window; must be > 0. Default 5 s (OTP's default).
  caf::timespan window = std::chrono::seconds{5};

  /// Returns `invalid_config` naming the bad field, or none.
  caf::error validate() const;

  friend bool operator==(const restart_intensity& x, const restart_intensity& y) noexcept {
    return x.max_restarts == y.max_restarts && x.window == y.window;
  }
};

/// Returns e.g. "3 restarts in 10s".
std::string to_string(const restart_intensity& x);

/// Counts restarts in a sliding window. Not thread-safe; owned by one actor,
/// which passes the time from its actor clock.
class restart_intensity_window {
public:
  using time_point = caf::actor_clock::time_point;

  explicit restart_intensity_window(restart_intensity limits);

  /// Records a restart at `now`. Returns false if this restart is one too
  /// many: more than `max_restarts` within `(now - window, now]`.
  bool record(time_point now);

  /// Returns the restarts counted within `(now - window, now]`.
  size_t count(time_point now);

  const restart_intensity& limits() const noexcept {
    return limits_;
  }

private:
  void expire(time_point now);

  restart_intensity limits_;
  std::deque<time_point> restarts_;
};

} // namespace troupe::supervisors
