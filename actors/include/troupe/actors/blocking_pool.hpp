#pragma once

/// Blocking work off the scheduler (asyncio's `to_thread`): a pool of
/// detached actors, each on its own thread, that runs blocking or CPU-heavy
/// calls and answers with their result as a message.
///
/// The scheduler's threads never block: a caller `request`s the pool and
/// gets the result (or a typed error) as a response, with a deadline like
/// any request. Jobs go to the workers round-robin; a worker runs one job
/// at a time, so at most `threads` calls run at once and the rest wait in
/// the workers' mailboxes.
///
/// Usage:
///   auto pool = spawn_blocking_pool(sys, 4);
///   run_blocking(self, pool, 5s, [] { return checksum_file("/big"); })
///     .then([=](uint64_t sum) { ... }, [=](caf::error& err) { ... });

#include <cstddef>
#include <exception>
#include <functional>
#include <type_traits>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

#include "troupe/actors/flow_errc.hpp"

namespace troupe::actors {

/// A call to run on a pool thread. Local only: it holds a function.
struct blocking_job {
  std::function<caf::message()> call;
};

/// Spawns `threads` detached workers behind one round-robin handle. Returns
/// `invalid_config` for zero threads.
caf::expected<caf::actor> spawn_blocking_pool(caf::actor_system& sys, size_t threads);

namespace detail {

/// Runs a job, turning an escaping exception into `handler_failed`.
caf::message run_job(const blocking_job& job);

} // namespace detail

namespace detail {

template <class T>
struct is_expected : std::false_type {};

template <class T>
struct is_expected<caf::expected<T>> : std::true_type {};

} // namespace detail

/// Runs `f()` on `pool` for `self` (any event-based actor, typed or not)
/// and returns the request handle; its response is
/// `f`'s result (nothing for `void`), or `handler_failed` if `f` threw. A
/// call that can fail returns `caf::expected<T>`: the response is the `T`,
/// or its error as it is (a typed error keeps its code, which an exception
/// would flatten into `handler_failed`).
template <class Self, class F>
auto run_blocking(Self* self, const caf::actor& pool, caf::timespan timeout, F f) {
  blocking_job job{[f = std::move(f)]() mutable -> caf::message {
    using result = std::invoke_result_t<F&>;
    if constexpr (std::is_void_v<result>) {
      f();
      return caf::message{};
    } else if constexpr (detail::is_expected<result>::value) {
      auto x = f();
      if (!x)
        return caf::make_message(std::move(x.error()));
      return caf::make_message(std::move(*x));
    } else {
      return caf::make_message(f());
    }
  }};
  return self->request(pool, timeout, std::move(job));
}

} // namespace troupe::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::actors::blocking_job)
