#pragma once

/// The atoms of the supervisor and scope protocols. The protocols themselves
/// are types: `supervisor_actor` (`supervisor_actor.hpp`) and `scope_actor`
/// (`scope_actor.hpp`). Subscribing to a supervisor's events uses the one
/// subscribe vocabulary of every event-reporting actor,
/// `troupe::actors::subscribe_atom` / `unsubscribe_atom`
/// (`troupe/actors/observers.hpp`).

#include <caf/atom.hpp>

namespace troupe::supervisors {

/// Starts a child: `(start_child_atom, child_spec)` or
/// `(start_child_atom, caf::message args)` to a supervisor,
/// `(start_child_atom, task_spec)` to a scope.
using start_child_atom = caf::atom_constant<caf::atom("trp_startc")>;

/// Stops and removes a child of a supervisor, by id or by handle.
using stop_child_atom = caf::atom_constant<caf::atom("trp_stopc")>;

/// Lists a supervisor's children.
using which_children_atom = caf::atom_constant<caf::atom("trp_which")>;

/// `(ready_atom)` -> `caf::ok_atom` once the receiver finished starting its
/// own children. A supervisor sends it to each child of kind `supervisor`
/// and starts the next sibling only after the reply (or the child's death),
/// so a whole subtree starts in order. Troupe's supervisors and scopes answer
/// it; a custom actor used with kind `supervisor` must answer it too.
using ready_atom = caf::atom_constant<caf::atom("trp_ready")>;

/// `(report_atom)` -> `supervisor_report`: a supervisor's state for
/// monitoring (supervisor_report.hpp).
using report_atom = caf::atom_constant<caf::atom("trp_report")>;

/// Awaits a scope's report.
using await_atom = caf::atom_constant<caf::atom("trp_await")>;

/// task → scope `(task_result_atom, caf::message value)`: the task's result,
/// reported in `task_outcome::result` (see `report_task_result`).
using task_result_atom = caf::atom_constant<caf::atom("trp_tresul")>;

} // namespace troupe::supervisors
