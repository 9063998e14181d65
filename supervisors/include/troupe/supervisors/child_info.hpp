#pragma once

/// One child of a supervisor as `which_children_atom` reports it.

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/meta/type_name.hpp>

#include "troupe/supervisors/child_spec.hpp"

namespace troupe::supervisors {

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
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("troupe.child_info"), x.id, x.handle, x.kind, x.restart,
           x.restarts);
}

} // namespace troupe::supervisors
