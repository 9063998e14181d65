#include "troupe/testing/deterministic_system.hpp"

#include <caf/atom.hpp>

#include <troupe/messages/type_registry.hpp>

namespace troupe::testing {

deterministic_config::deterministic_config() {
  set("scheduler.policy", caf::atom("testing"));
  set("logger.file-verbosity", caf::atom("quiet"));
  set("logger.console-verbosity", caf::atom("quiet"));
  troupe::messages::register_message_types(*this);
}

deterministic_system::deterministic_system()
  : sys(cfg),
    sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
    self(sys, true),
    start_(sched.clock().now()) {
  // nop
}

deterministic_system::~deterministic_system() {
  while (sched.run() + sched.trigger_timeouts() > 0) {
    // keep draining until both queues stay empty
  }
}

size_t deterministic_system::run() {
  return sched.run();
}

bool deterministic_system::run_once() {
  return sched.try_run_once();
}

size_t deterministic_system::advance_time(caf::timespan d) {
  run();
  auto fired = sched.advance_time(d);
  run();
  return fired;
}

caf::timespan deterministic_system::now() const {
  return sched.clock().now() - start_;
}

} // namespace troupe::testing
