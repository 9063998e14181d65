#include "troupe/actors/blocking_pool.hpp"

#include <caf/actor_pool.hpp>
#include <caf/actor_system.hpp>
#include <caf/spawn_options.hpp>

#include "troupe/actors/flow/flow_actor.hpp" // error_from_exception

namespace troupe::actors {

namespace detail {

caf::message run_job(const blocking_job& job) {
  try {
    return job.call();
  } catch (...) {
    return caf::make_message(error_from_exception(std::current_exception(),
                                                  flow_errc::handler_failed, "blocking job"));
  }
}

} // namespace detail

caf::expected<caf::actor> spawn_blocking_pool(caf::actor_system& sys, size_t threads) {
  if (threads == 0)
    return caf::make_error(flow_errc::invalid_config,
                           "blocking pool: threads must be >= 1 (got 0)");
  auto factory = [&sys] {
    // Detached: each worker owns a thread, so blocking there stalls no one
    // else. The pool forwards its exit to them.
    return sys.spawn<caf::detached>([](caf::event_based_actor*) -> caf::behavior {
      return {[](const blocking_job& job) -> caf::message { return detail::run_job(job); }};
    });
  };
  return caf::actor_pool::make(sys.dummy_execution_unit(), threads, factory,
                               caf::actor_pool::round_robin());
}

} // namespace troupe::actors
