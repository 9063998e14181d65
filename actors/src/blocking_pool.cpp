#include "troupe/actors/blocking_pool.hpp"

#include <memory>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
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

namespace {

/// A worker: a detached actor, so a blocking job stalls only its own thread.
caf::behavior blocking_worker(caf::event_based_actor*) {
  return {[](const blocking_job& job) -> caf::message { return detail::run_job(job); }};
}

/// The pool's handle: hands each job to the next worker, round-robin, by
/// delegation (the worker answers the requester directly). The workers are
/// linked to it: they stop with it, and it with any of them.
///
/// Not CAF's `actor_pool`: in CAF 0.17.6 it reads and writes its
/// `planned_reason_` without a common lock when several workers stop at
/// once (ThreadSanitizer reported it in fresh-clone runs).
caf::behavior blocking_dispatcher(caf::event_based_actor* self, size_t threads) {
  auto workers = std::make_shared<std::vector<caf::actor>>();
  for (size_t i = 0; i < threads; ++i)
    workers->push_back(self->spawn<caf::detached + caf::linked>(blocking_worker));
  auto next = std::make_shared<size_t>(0);
  return {
    [self, workers, next](blocking_job& job) {
      auto& worker = (*workers)[(*next)++ % workers->size()];
      self->delegate(worker, std::move(job));
    },
  };
}

} // namespace

caf::expected<caf::actor> spawn_blocking_pool(caf::actor_system& sys, size_t threads) {
  if (threads == 0)
    return caf::make_error(flow_errc::invalid_config,
                           "blocking pool: threads must be >= 1 (got 0)");
  return sys.spawn(blocking_dispatcher, threads);
}

} // namespace troupe::actors
