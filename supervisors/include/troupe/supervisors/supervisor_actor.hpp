#pragma once

/// The supervisor protocol as a type: what a supervisor answers, checked by
/// the compiler at every `send` and `request` through a `supervisor_actor`
/// handle (as CAF's own `caf::io::middleman_actor`).
///
/// interface supervisor_actor {
///   // Starts and adds a child (not for the dynamic strategy). Replies once
///   // the child is spawned (no `ready` wait), or with `invalid_config`,
///   // `duplicate_child_id`, `start_failed`, `shutting_down` or
///   // `unsupported_operation`.
///   (start_child_atom, child_spec) -> (caf::actor)
///
///   // Dynamic strategy only: starts a child of the template spec; its
///   // start function sees `args` in `start_context::args`.
///   (start_child_atom, caf::message args) -> (caf::actor)
///
///   // Stops the child (within its shutdown policy) and removes it. Replies
///   // once it stopped, or with `unknown_child`, `shutting_down` or (by id,
///   // for the dynamic strategy) `unsupported_operation`.
///   (stop_child_atom, std::string id) -> (caf::ok_atom)
///   (stop_child_atom, caf::actor child) -> (caf::ok_atom)
///
///   // The children in start order.
///   (which_children_atom) -> (std::vector<child_info>)
///
///   // Its path, restart budget and children, for monitoring.
///   (report_atom) -> (supervisor_report)
///
///   // `observer` receives every later `supervision_event` until it
///   // unsubscribes or terminates (the supervisor monitors it). Subscribing
///   // twice is one subscription; unsubscribing a stranger is a no-op.
///   (troupe::actors::subscribe_atom, caf::actor observer) -> (caf::ok_atom)
///   (troupe::actors::unsubscribe_atom, caf::actor observer) -> (caf::ok_atom)
///
///   // Replies once the initial start finished; a parent supervisor sends it
///   // to every child of kind `supervisor`.
///   (ready_atom) -> (caf::ok_atom)
///
///   // The directory protocol of `troupe::actors::upstream_ref`: the child
///   // `id` once it runs as an actor other than `stale` (waits through a
///   // restart and its backoff), an invalid handle once it will not run
///   // again (it ended and is not restarted, or the supervisor is shutting
///   // down), or `unknown_child`. Flow actors
///   // find their upstream sibling with it (`pipeline.hpp`). Not for the
///   // dynamic strategy (`unsupported_operation`).
///   (troupe::actors::lookup_atom, std::string id, caf::actor_addr stale)
///     -> (caf::actor)
/// }
///
/// Besides these messages, an exit message from anyone but a child (a parent
/// supervisor, `request_shutdown`, a link) with a reason other than `normal`
/// starts an orderly shutdown (see `supervisor.hpp`).
///
/// A supervisor's children are `caf::actor`s: to run a supervisor as a child
/// (`supervisor_child` does it for you), a start function returns
/// `caf::actor_cast<caf::actor>(handle)`. The other way, a `caf::actor` known
/// to be a supervisor (`child_info::handle` of a supervisor-kind child, a
/// transport node's `supervisor()`) becomes typed with
/// `caf::actor_cast<supervisor_actor>(x)`.

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <troupe/actors/flow/upstream_ref.hpp>
#include <troupe/actors/observers.hpp>

#include "troupe/supervisors/atoms.hpp"
#include "troupe/supervisors/child_info.hpp"
#include "troupe/supervisors/child_spec.hpp"
#include "troupe/supervisors/supervisor_report.hpp"

namespace troupe::supervisors {

/// The handle type of a supervisor (see above).
using supervisor_actor = caf::typed_actor<
  caf::replies_to<start_child_atom, child_spec>::with<caf::actor>,
  caf::replies_to<start_child_atom, caf::message>::with<caf::actor>,
  caf::replies_to<stop_child_atom, std::string>::with<caf::ok_atom>,
  caf::replies_to<stop_child_atom, caf::actor>::with<caf::ok_atom>,
  caf::replies_to<which_children_atom>::with<std::vector<child_info>>,
  caf::replies_to<report_atom>::with<supervisor_report>,
  caf::replies_to<actors::subscribe_atom, caf::actor>::with<caf::ok_atom>,
  caf::replies_to<actors::unsubscribe_atom, caf::actor>::with<caf::ok_atom>,
  caf::replies_to<ready_atom>::with<caf::ok_atom>,
  caf::replies_to<actors::lookup_atom, std::string, caf::actor_addr>::with<caf::actor>>;

} // namespace troupe::supervisors
