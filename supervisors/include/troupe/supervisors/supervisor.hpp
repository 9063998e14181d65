#pragma once

/// A supervisor: an actor that starts children in order, restarts them by
/// strategy, restart type, intensity and backoff, and stops them in reverse
/// order within bounded time.
///
/// Usage:
///   supervisor_config cfg;
///   cfg.name = "root";
///   cfg.children = {{"db", spawn_with(db)}, supervisor_child("pool", pool_cfg)};
///   auto root = spawn_supervisor(sys, cfg);
///   if (!root) /* typed error: invalid_config, duplicate_child_id, … */;
///   …
///   request_shutdown(*root); // orderly: children stop in reverse order
///
/// Protocol (dynamically typed actor; atoms in `atoms.hpp`):
/// - `(start_child_atom, child_spec)` -> `caf::actor` (not for dynamic),
///   once the child is spawned (no `ready` wait).
/// - `(start_child_atom, caf::message args)` -> `caf::actor` (dynamic only;
///   the start function sees `args`).
/// - `(stop_child_atom, std::string id)` or `(stop_child_atom, caf::actor)`
///   -> `caf::ok_atom` after the child stopped (within its shutdown policy);
///   the child is removed.
/// - `(which_children_atom)` -> `std::vector<child_info>`, in start order.
/// - `(subscribe_atom)`: the sender receives every later `supervision_event`.
/// - An exit message from anyone but a child (a parent supervisor,
///   `request_shutdown`, a link) with a reason other than `normal` starts an
///   orderly shutdown; the supervisor then exits with that reason. An exit
///   with `exit_reason::kill` cannot be trapped: the supervisor dies at once
///   and kills its children as it terminates.
///
/// Lifetime: children are monitored, not linked. A supervisor kills every
/// child still running when it terminates, for whatever reason, so no child
/// outlives it.
///
/// Start: children start in order in the supervisor's first handler. A start
/// spawns the actor; CAF runs the child's initialization before the child
/// handles any message, so a later sibling may message an earlier one at
/// once. There is no "init acknowledgement" as in OTP's start_link.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>

#include "troupe/supervisors/atoms.hpp"
#include "troupe/supervisors/child_spec.hpp"
#include "troupe/supervisors/supervisor_config.hpp"

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
  return f(caf::meta::type_name("troupe.child_info"), x.id, x.handle, x.kind,
           x.restart, x.restarts);
}

/// Validates `cfg` and spawns a root supervisor named `cfg.name`. Returns the
/// typed validation error instead of spawning when `cfg` is invalid.
caf::expected<caf::actor> spawn_supervisor(caf::actor_system& sys, supervisor_config cfg);

/// Validates `cfg` and spawns a supervisor at `path` (e.g. from a
/// `start_context`), adding `inherited_observers` to its own observers.
caf::expected<caf::actor> spawn_supervisor(caf::actor_system& sys, supervisor_config cfg,
                                           std::string path,
                                           std::vector<caf::actor> inherited_observers);

/// Returns a child spec that starts a nested supervisor from `cfg`: kind
/// `supervisor`, restart `permanent`, and a shutdown timeout of
/// `cfg.shutdown_bound()`, so the parent waits for the nested tree's own
/// orderly shutdown. The nested supervisor's path is "<parent path>/<id>" and
/// it inherits the parent's observers.
child_spec supervisor_child(std::string id, supervisor_config cfg);

/// Asks `target` (a supervisor, scope or any actor) to stop in order by
/// sending it an exit message with `reason` on the high-priority lane.
/// Thread-safe; callable from anywhere.
void request_shutdown(const caf::actor& target, caf::error reason);

/// Same as `request_shutdown(target, make_shutdown("request_shutdown"))`.
void request_shutdown(const caf::actor& target);

} // namespace troupe::supervisors
