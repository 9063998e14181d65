#pragma once

/// A supervisor: an actor that starts children in order, restarts them by
/// strategy, restart type, intensity and backoff, and stops them in reverse
/// order within bounded time.
///
/// Usage:
///   supervisor_config cfg;
///   cfg.name = "root";
///   cfg.children = {{"db", spawn_with(db)}, supervisor_child("pool", pool_cfg)};
///   auto root = spawn_supervisor(sys, cfg); // expected<supervisor_actor>
///   if (!root) /* typed error: invalid_config, duplicate_child_id, … */;
///   …
///   request_shutdown(*root); // orderly: children stop in reverse order
///
/// Protocol: `supervisor_actor` (`supervisor_actor.hpp`), a typed
/// interface, so a wrong message to a supervisor does not compile. Besides
/// it, an exit message from anyone but a child (a parent supervisor,
/// `request_shutdown`, a link) with a reason other than `normal` starts an
/// orderly shutdown; the supervisor then exits with that reason. An exit with
/// `exit_reason::kill` cannot be trapped: the supervisor dies at once and
/// kills its children as it terminates.
///
/// Lifetime: children are monitored, not linked. A supervisor kills every
/// child still running when it terminates, for whatever reason, so no child
/// outlives it.
///
/// Start: children start in order in the supervisor's first handler. A start
/// spawns the actor; CAF runs the child's initialization before the child
/// handles any message, so a later sibling may message an earlier one at
/// once. There is no "init acknowledgement" as in OTP's start_link.

#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "troupe/supervisors/child_spec.hpp"
#include "troupe/supervisors/supervisor_actor.hpp"
#include "troupe/supervisors/supervisor_config.hpp"

namespace troupe::supervisors {

/// Validates `cfg` and spawns a root supervisor named `cfg.name`. Returns the
/// typed validation error instead of spawning when `cfg` is invalid.
caf::expected<supervisor_actor> spawn_supervisor(caf::actor_system& sys,
                                                 supervisor_config cfg);

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

/// Same for a typed handle: a `supervisor_actor`, a `scope_actor`, any
/// `caf::typed_actor`.
template <class... Sigs>
void request_shutdown(const caf::typed_actor<Sigs...>& target, caf::error reason) {
  request_shutdown(caf::actor_cast<caf::actor>(target), std::move(reason));
}

/// Same for a typed handle.
template <class... Sigs>
void request_shutdown(const caf::typed_actor<Sigs...>& target) {
  request_shutdown(caf::actor_cast<caf::actor>(target));
}

/// Stops `target` in order (`request_shutdown`) and blocks the calling
/// thread, never an actor, until it is down or `limit` passed: the end of a
/// `main` that runs a tree and then stops it, before it stops the node the
/// tree's services are published on. Returns true if `target` went down in
/// time (at once if it was down already).
bool stop_and_wait(caf::actor_system& sys, const caf::actor& target, caf::timespan limit);

/// Same for a typed handle.
template <class... Sigs>
bool stop_and_wait(caf::actor_system& sys, const caf::typed_actor<Sigs...>& target,
                   caf::timespan limit) {
  return stop_and_wait(sys, caf::actor_cast<caf::actor>(target), limit);
}

} // namespace troupe::supervisors
