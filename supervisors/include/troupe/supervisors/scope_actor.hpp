#pragma once

/// The scope protocol as a type: what a scope answers, checked by the
/// compiler at every `send` and `request` through a `scope_actor` handle.
///
/// interface scope_actor {
///   // Starts one more task while any task runs. Replies with the task's
///   // handle, or with `invalid_config`, `duplicate_child_id`,
///   // `shutting_down` (the scope cancels) or `start_failed`.
///   (start_child_atom, task_spec) -> (caf::actor)
///
///   // Replies with the scope's report once every task stopped (the owner
///   // gets the same report as a message).
///   (await_atom) -> (scope_report)
///
///   // Replies at once: the initial tasks start in the scope's first
///   // handler, so a scope can be a supervisor's child of kind `supervisor`.
///   (ready_atom) -> (caf::ok_atom)
///
///   // From a task: its result, kept in its `task_outcome::result`
///   // (`report_task_result`). Ignored from anyone else.
///   (task_result_atom, caf::message value)
/// }
///
/// Besides these messages, an exit message (e.g. its supervisor's shutdown)
/// cancels every task with that reason (see `scope.hpp`).

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "troupe/supervisors/atoms.hpp"
#include "troupe/supervisors/scope_report.hpp"
#include "troupe/supervisors/task_spec.hpp"

namespace troupe::supervisors {

/// The handle type of a scope (see above).
using scope_actor =
  caf::typed_actor<caf::replies_to<start_child_atom, task_spec>::with<caf::actor>,
                   caf::replies_to<await_atom>::with<scope_report>,
                   caf::replies_to<ready_atom>::with<caf::ok_atom>,
                   caf::reacts_to<task_result_atom, caf::message>>;

} // namespace troupe::supervisors
