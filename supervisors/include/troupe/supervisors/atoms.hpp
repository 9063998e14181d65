#pragma once

/// The atoms of the supervisor and scope protocols (see `supervisor.hpp` and
/// `scope.hpp` for the messages).

#include <caf/atom.hpp>

namespace troupe::supervisors {

/// `(start_child_atom, child_spec)`, `(start_child_atom, caf::message args)`
/// or `(start_child_atom, task_spec)` -> the new child's `caf::actor`.
using start_child_atom = caf::atom_constant<caf::atom("trp_startc")>;

/// `(stop_child_atom, std::string id)` or `(stop_child_atom, caf::actor)`
/// -> `caf::ok_atom` once the child stopped.
using stop_child_atom = caf::atom_constant<caf::atom("trp_stopc")>;

/// `(which_children_atom)` -> `std::vector<child_info>`.
using which_children_atom = caf::atom_constant<caf::atom("trp_which")>;

/// `(subscribe_atom)`: the sender receives every later `supervision_event`.
using subscribe_atom = caf::atom_constant<caf::atom("trp_subscr")>;

/// `(ready_atom)` -> `caf::ok_atom` once the receiver finished starting its
/// own children. A supervisor sends it to each child of kind `supervisor`
/// and starts the next sibling only after the reply (or the child's death),
/// so a whole subtree starts in order. Troupe's supervisors and scopes answer
/// it; a custom actor used with kind `supervisor` must answer it too.
using ready_atom = caf::atom_constant<caf::atom("trp_ready")>;

/// `(await_atom)` to a scope -> its `scope_report` once every task stopped.
using await_atom = caf::atom_constant<caf::atom("trp_await")>;

} // namespace troupe::supervisors
