#pragma once

// Test helpers: run a stub call inside a fresh actor and hand its outcome to
// the test's own actor, as `(reply)` or `(failed_atom, caf::error)` (a bare
// error message would be taken for a failure of the receiver).

#include <utility>

#include <caf/all.hpp>

namespace troupe::testing {

using failed_atom = caf::atom_constant<caf::atom("failed")>;

/// Spawns an actor that runs `start(self, report_to)` once.
template <class F>
caf::actor spawn_client(caf::actor_system& sys, F start) {
  return sys.spawn([start](caf::event_based_actor* self) { start(self); });
}

/// Callbacks for `.then(...)` that send the outcome to `test`.
template <class Reply>
auto report_to(caf::actor test) {
  return std::make_pair(
    [test](Reply& x) { caf::anon_send(test, std::move(x)); },
    [test](caf::error& err) { caf::anon_send(test, failed_atom::value, err); });
}

} // namespace troupe::testing
