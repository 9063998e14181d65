#pragma once

/// Signal-driven shutdown of a process that runs a root supervisor: the first
/// SIGINT or SIGTERM stops the tree in order within a deadline; a second
/// signal, or the deadline passing, ends the process at once.
///
/// Usage (in main, after spawning the root):
///   troupe::supervisors::system_config cfg;
///   caf::actor_system sys{cfg};
///   auto root = spawn_supervisor(sys, root_cfg);
///   if (!root) return 2;
///   return run_with_graceful_shutdown(sys, *root, {std::chrono::seconds{10}});
///
/// Exit codes: 0 when the root stopped in order (after a signal, or on its own
/// with a normal reason); `failure_exit_code` when the root stopped with a
/// failure (e.g. `intensity_exceeded`); 128 + signal number after a second
/// signal; `deadline_exit_code` when the deadline passed.
///
/// # Why the forced path ends the process
///
/// CAF cannot preempt a handler: a child stuck in a blocking call ignores even
/// `exit_reason::kill`, and `~actor_system` would then wait for it forever.
/// The only bound that always holds is the process's own, so the forced path
/// flushes the logs and calls `std::_Exit` (set `exit_process_on_force` to
/// false to get the code back instead and take that risk yourself).
///
/// This is the one place in Troupe that waits on the wall clock (`poll` on a
/// self-pipe): signals and the deadline are process-level, outside any actor.

#include <chrono>
#include <functional>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

namespace troupe::supervisors {

struct graceful_shutdown_config {
  /// How long the tree may take to stop after the first signal. Make it at
  /// least the root's `supervisor_config::shutdown_bound()`. Must be > 0.
  /// Default 10 s.
  caf::timespan deadline = std::chrono::seconds{10};
  /// Exit code when the root stopped with a failure. Default 1.
  int failure_exit_code = 1;
  /// Exit code when the deadline passed (as timeout(1)). Default 124.
  int deadline_exit_code = 124;
  /// End the process with `std::_Exit` on the forced path (second signal,
  /// deadline). Default true.
  bool exit_process_on_force = true;
  /// Called once the signal handlers are installed, from the calling thread
  /// (e.g. to tell a process manager the service is ready; signals that
  /// arrive before this point get their previous disposition). Optional.
  std::function<void()> on_ready;

  /// Returns `invalid_config` naming the bad field, or none.
  caf::error validate() const;
};

/// Blocks the calling thread (never an actor) until `root` terminates or the
/// forced path is taken; installs SIGINT and SIGTERM handlers for that time
/// and restores the previous ones before returning. Returns the exit code
/// (see above). An invalid config returns `failure_exit_code` at once.
int run_with_graceful_shutdown(caf::actor_system& sys, const caf::actor& root,
                               graceful_shutdown_config cfg = {});

/// Same for a typed root: a `supervisor_actor` (what `spawn_supervisor`
/// returns), a `scope_actor`, any `caf::typed_actor`.
template <class... Sigs>
int run_with_graceful_shutdown(caf::actor_system& sys, const caf::typed_actor<Sigs...>& root,
                               graceful_shutdown_config cfg = {}) {
  return run_with_graceful_shutdown(sys, caf::actor_cast<caf::actor>(root), std::move(cfg));
}

} // namespace troupe::supervisors
