#pragma once

/// A CAF actor system on the deterministic test coordinator, for Catch2.
///
/// Nothing runs until the test says so (`run()`, `run_once()`), and time moves
/// only when the test advances it (`advance_time`). CAF's own `expect` /
/// `allow` macros report to CAF's test engine and crash under Catch2, so this
/// fixture offers plain functions instead.
///
/// `Config` is the system config the code under test expects (e.g.
/// `troupe::actors::system_config`); the fixture adds the testing scheduler.
///
/// Usage:
///   using fixture = troupe::testing::deterministic_system<>;
///   TEST_CASE_METHOD(fixture, "…", "[…]") {
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
#include <caf/atom.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include <troupe/messages/type_registry.hpp>

namespace troupe::testing {

/// The smallest config for Troupe messages: a plain CAF config plus the
/// registered protobuf types.
struct messages_config : caf::actor_system_config {
  messages_config() {
    troupe::messages::register_message_types(*this);
  }
};

template <class Config = messages_config>
class deterministic_system {
public:
  struct config : Config {
    config() {
      this->set("scheduler.policy", caf::atom("testing"));
      this->set("logger.file-verbosity", caf::atom("quiet"));
      this->set("logger.console-verbosity", caf::atom("quiet"));
    }
  };

  deterministic_system()
    : sys(cfg),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys, true),
      start_(sched.clock().now()),
      baseline_running_(sys.registry().running()) {
    // nop
  }

  /// Drains every job and every pending timeout: the simulated clock keeps
  /// actors alive, and `~actor_system` would otherwise wait forever.
  ~deterministic_system() {
    while (sched.run() + sched.trigger_timeouts() > 0) {
      // keep draining until both queues stay empty
    }
  }

  // -- driving the scheduler ------------------------------------------------

  /// Runs jobs until none is left; returns how many ran.
  size_t run() {
    return sched.run();
  }

  /// Runs exactly one job; returns false if there was none.
  bool run_once() {
    return sched.try_run_once();
  }

  /// Runs only `whom` until it is idle; every other actor's jobs stay
  /// queued. Lets a test fill one actor's inbox while another is stalled.
  /// Returns how many jobs ran.
  template <class Handle>
  size_t run_only(const Handle& whom) {
    size_t n = 0;
    while (sched.prioritize(whom)) {
      sched.run_once();
      ++n;
    }
    return n;
  }

  /// Runs until idle, advances virtual time by `d`, fires what is due, and
  /// runs until idle again. Returns the number of timeouts fired.
  size_t advance_time(caf::timespan d) {
    run();
    auto fired = sched.advance_time(d);
    run();
    return fired;
  }

  /// Returns how many actors are alive beyond those running when the fixture
  /// started (CAF's own background actors): 0 means nothing leaked.
  size_t running_actors() {
    return sys.registry().running() - baseline_running_;
  }

  /// Returns the virtual time since the fixture started.
  caf::timespan now() const {
    return sched.clock().now() - start_;
  }

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

  config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  /// A hidden blocking actor standing in for "the test" as sender/receiver.
  caf::scoped_actor self;

private:
  caf::actor_clock::time_point start_;
  size_t baseline_running_;
};

} // namespace troupe::testing
