#pragma once

/// A CAF actor system on the deterministic test coordinator, for Catch2.
///
/// Nothing runs until the test says so (`run()`, `run_once()`), and time moves
/// only when the test advances it (`advance_time`). CAF's own `expect` /
/// `allow` macros report to CAF's test engine and crash under Catch2, so this
/// fixture offers plain functions instead.
///
/// Usage:
///   TEST_CASE_METHOD(troupe::testing::deterministic_system, "…", "[…]") {
///     auto a = sys.spawn(my_actor);
///     self->send(a, 42);
///     run();
///     CHECK(received<int>() == std::make_tuple(43));
///   }

#include <chrono>
#include <optional>
#include <tuple>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

namespace troupe::testing {

/// The config of every deterministic test system: the testing scheduler,
/// quiet logs, and Troupe's message types.
struct deterministic_config : caf::actor_system_config {
  deterministic_config();
};

class deterministic_system {
public:
  deterministic_system();

  /// Drains every job and every pending timeout: the simulated clock keeps
  /// actors alive, and `~actor_system` would otherwise wait forever.
  ~deterministic_system();

  // -- driving the scheduler ------------------------------------------------

  /// Runs jobs until none is left; returns how many ran.
  size_t run();

  /// Runs exactly one job; returns false if there was none.
  bool run_once();

  /// Advances virtual time, fires what is due, and runs until idle.
  /// Returns the number of timeouts fired.
  size_t advance_time(caf::timespan d);

  /// Returns the current virtual time, starting at zero.
  caf::timespan now() const;

  // -- observing ------------------------------------------------------------

  /// Takes the first message of exactly `Ts...` from `self`'s mailbox without
  /// blocking; std::nullopt if there is none. Other messages stay queued.
  template <class... Ts>
  std::optional<std::tuple<Ts...>> received() {
    std::optional<std::tuple<Ts...>> result;
    self->receive([&](Ts&... xs) { result.emplace(std::move(xs)...); },
                  caf::after(std::chrono::seconds{0}) >> [] {});
    return result;
  }

  // -- members tests use directly -------------------------------------------

  deterministic_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  /// A hidden blocking actor standing in for "the test" as sender/receiver.
  caf::scoped_actor self;

private:
  caf::actor_clock::time_point start_;
};

} // namespace troupe::testing
