#pragma once

// One lazily armed timer per purpose: an actor keeps many deadlines (kill
// times of stopping children, due times of restarts) but needs only one timer
// message in flight, for the earliest. Stale timer messages are harmless: the
// handler re-evaluates every deadline whenever any timer message arrives.
//
// Why not one timer per child: stopping 100 000 children would put 100 000
// entries into the actor clock (and into the test coordinator's queue).

#include <caf/actor_clock.hpp>

namespace troupe::supervisors::internal {

/// Encodes a time point for a timer message.
inline int64_t encode(caf::actor_clock::time_point t) noexcept {
  return static_cast<int64_t>(t.time_since_epoch().count());
}

/// Decodes a time point from a timer message.
inline caf::actor_clock::time_point decode(int64_t x) noexcept {
  return caf::actor_clock::time_point{caf::actor_clock::duration_type{x}};
}

class deadline_timer {
public:
  using time_point = caf::actor_clock::time_point;

  /// Returns true if the caller must schedule a timer message for `t`: no
  /// message is known to be in flight for `t` or earlier.
  bool arm(time_point t) noexcept {
    if (armed_ <= t)
      return false;
    armed_ = t;
    return true;
  }

  /// Sends `self` `(atom, encode(t))` at `t` (at once if `t` passed) unless
  /// a message for `t` or earlier is in flight. `time_point::max()` means no
  /// deadline: nothing is sent.
  template <class Self, class Atom>
  void schedule(Self* self, time_point t, Atom atom) {
    if (t == time_point::max() || !arm(t))
      return;
    auto now = self->clock().now();
    if (t <= now)
      self->send(self, atom, encode(t));
    else
      self->delayed_send(self, t - now, atom, encode(t));
  }

  /// Records that the timer message for `t` arrived.
  void fired(time_point t) noexcept {
    if (t >= armed_)
      armed_ = time_point::max();
  }

private:
  time_point armed_ = time_point::max();
};

} // namespace troupe::supervisors::internal
