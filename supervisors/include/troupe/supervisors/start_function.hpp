#pragma once

/// How a supervisor or scope starts a child: a function that spawns an actor
/// and returns its handle.
///
/// The supervisor calls the start function from its own handler, monitors the
/// returned actor and owns it from then on: it asks the actor to stop with an
/// exit message (`stop_reason::shutdown`), kills it after its shutdown
/// timeout, and kills it when the supervisor itself terminates. A start
/// function must not block; it may return an error (or throw: the exception
/// becomes `supervisor_errc::start_failed`).

#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

namespace troupe::supervisors {

/// What a start function gets to know about the child it starts.
struct start_context {
  /// The actor system to spawn in.
  caf::actor_system& system;
  /// The child's id: the spec's id, or `<spec id>-<n>` for children of a
  /// dynamic supervisor and `<task id>` for scope tasks.
  std::string id;
  /// The child's place in the tree, e.g. "root/db/conn-3". A nested
  /// supervisor uses it as its own path (and logger name).
  std::string path;
  /// The arguments passed to `start_child` of a dynamic supervisor; empty for
  /// every other child.
  caf::message args;
  /// The supervisor (or scope) starting the child.
  caf::actor parent;
  /// The parent's event observers; nested supervisors inherit them.
  std::vector<caf::actor> observers;
};

/// Spawns one child and returns its handle, or an error.
using start_function = std::function<caf::expected<caf::actor>(const start_context&)>;

} // namespace troupe::supervisors
