#pragma once

/// A start function for the common case: spawn a function-based actor with
/// fixed arguments.
///
/// Usage:
///   child_spec{"db", spawn_with(db_actor, db_config)}
///
/// Kept apart from `start_function.hpp` because it includes
/// `caf/actor_system.hpp` (the spawn templates).

#include <caf/actor_system.hpp>

#include "troupe/supervisors/start_function.hpp"

namespace troupe::supervisors {

/// Returns a start function that spawns `fun(self, xs...)` on the system.
template <class F, class... Ts>
start_function spawn_with(F fun, Ts... xs) {
  return [=](const start_context& ctx) -> caf::expected<caf::actor> {
    return ctx.system.spawn(fun, xs...);
  };
}

} // namespace troupe::supervisors
