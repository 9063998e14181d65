#pragma once

/// One child of a supervisor as `which_children_atom` reports it.

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

#include "troupe/supervisors/child_spec.hpp"

namespace troupe::supervisors {

/// Where a child is in its life, as its supervisor reports it.
enum class child_status : uint8_t {
  /// Started and running.
  running,
  /// Asked to stop (or killed); the supervisor waits for it to end.
  stopping,
  /// Not running and nothing planned (e.g. a transient child that ended).
  stopped,
  /// Failed; waits for its restart (after a backoff delay).
  restarting,
  /// Waits for its turn to start (siblings before it start first).
  starting,
};

/// Returns the enumerator's name, e.g. "restarting".
std::string to_string(child_status x);

/// One child as reported by `which_children_atom`.
struct child_info {
  /// The child's id.
  std::string id;
  /// The running actor; invalid while the child is stopped or waits for a
  /// restart.
  caf::actor handle;
  /// Worker or supervisor.
  child_kind kind = child_kind::worker;
  /// Its restart type.
  restart_type restart = restart_type::permanent;
  /// How often it has been restarted.
  uint32_t restarts = 0;
  /// Where it is in its life.
  child_status status = child_status::stopped;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("troupe.child_info"), x.id, x.handle, x.kind, x.restart,
           x.restarts, x.status);
}

} // namespace troupe::supervisors
