#pragma once

/// A lifecycle event of a supervisor: a child started, exited, was stopped,
/// will be restarted, was killed; the supervisor gave up or escalated.
///
/// Every event goes to the supervisor's observers as a message and to the
/// log of the supervisor's path (`troupe::actors::logger(path)`): started and
/// stopped at debug, restarting at info, exited at info (normal) or warn
/// (failure), killed at warn, intensity_exceeded and escalated at error.

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

namespace troupe::supervisors {

/// What happened.
enum class event_kind : uint8_t {
  /// A child started (first start or restart; see `restarts`).
  started,
  /// A child stopped on its own (failure or normal exit); see `reason`.
  exited,
  /// A child stopped because the supervisor asked it to (shutdown, group
  /// restart, `stop_child`); see `reason`.
  stopped,
  /// The supervisor will restart the child after `delay`.
  restarting,
  /// A child did not stop within its shutdown timeout (or has
  /// `brutal_kill`) and was killed.
  killed,
  /// Too many restarts within the intensity window: the supervisor stops its
  /// children and fails.
  intensity_exceeded,
  /// The supervisor stopped its children and now fails with `reason`, which
  /// its parent sees.
  escalated,
};

/// Returns the enumerator's name, e.g. "restarting".
std::string to_string(event_kind x);

/// One lifecycle event.
struct supervision_event {
  /// What happened.
  event_kind kind = event_kind::started;
  /// Path of the supervisor that reports it, e.g. "root/db".
  std::string supervisor;
  /// Id of the child it is about; empty for the supervisor's own events.
  std::string child;
  /// Why the child stopped, or why the supervisor gives up.
  caf::error reason;
  /// For `restarting`: the delay before the restart.
  caf::timespan delay{0};
  /// How often this child has been restarted so far.
  uint32_t restarts = 0;
};

/// Returns e.g. "root/db: conn exited (…)". Renders `reason` with
/// `caf::to_string`; `actor_system::render` gives readable text for Troupe's
/// categories.
std::string to_string(const supervision_event& x);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervision_event& x) {
  return f(caf::meta::type_name("troupe.supervision_event"), x.kind, x.supervisor, x.child,
           x.reason, x.delay, x.restarts);
}

} // namespace troupe::supervisors
