#pragma once

/// `caller`: resilience for any request, from inside any event-based actor.
/// One place that applies, to requests to any actor (local, or a remote
/// proxy), what the fetcher applies to its operations:
///
/// - a **deadline** for the whole call (every attempt, wait and backoff);
/// - a **retry policy** (`retry_policy`: attempts, backoff with jitter, which
///   errors are worth it), never beyond the deadline;
/// - a **circuit breaker per target**: while it is open, calls to that
///   target fail fast with `fetch_errc::circuit_open`;
/// - a **concurrency bound** over all its calls (asyncio's `Semaphore`):
///   attempts beyond `max_in_flight` wait their turn, FIFO, within their
///   deadline.
///
/// Each attempt's message is built by a function that gets the attempt
/// number (1, 2, ...) and the time left, so the receiver sees which attempt
/// it serves (for a remote target, `transport::with_call_options` puts both
/// in the call's envelope).
///
///   struct state { caller calls; };
///   caf::behavior client(caf::stateful_actor<state>* self, caf::actor pricing) {
///     self->state.calls = caller{self, call_policy{2s, 500ms,
///       retry_policy::up_to(4, backoff::exponential(50ms, 1s).with_jitter(jitter::full))}};
///     self->state.calls.call<Quote>(pricing, caf::make_message(request),
///       [](caf::expected<Quote> q) { ... }); // never blocks the actor
///     ...
///   }
///
/// Errors: the target's own error when it is not worth a retry;
/// `fetch_errc::retries_exhausted` (context: the last error) when the
/// attempts ran out on errors worth retrying (`retry_policy::final_error`,
/// as the fetcher); `fetch_errc::circuit_open`;
/// `flow_errc::deadline_exceeded` when the deadline passed first. Callbacks
/// run in the actor, like any response handler, exactly once per call.
///
/// Thread safety: owned by its actor; every member runs in that actor.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

#include "troupe/actors/backoff.hpp"
#include "troupe/actors/circuit_breaker.hpp"
#include "troupe/actors/fetch_errc.hpp"
#include "troupe/actors/flow_errc.hpp"
#include "troupe/actors/retry_policy.hpp"

namespace troupe::actors {

struct call_policy {
  /// Time for the whole call, from `call` to its callback. Default 5 s.
  caf::timespan deadline = std::chrono::seconds{5};
  /// Time for one attempt; 0: whatever is left of the deadline. Default 0.
  caf::timespan attempt_timeout{0};
  /// Attempts and the delays between them. Default: one attempt.
  retry_policy retry = retry_policy::never();
  /// A breaker per target, with this config; none: no breaker. Default none.
  std::optional<circuit_breaker::config> breaker;
  /// Attempts in flight at once over all calls; 0: no bound. Default 0.
  uint32_t max_in_flight = 0;
  /// Seed of the jitter draws; 0: random. Tests set it. Default 0.
  uint64_t seed = 0;

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

/// What a caller did, for tests and metrics.
struct caller_stats {
  uint64_t calls = 0;
  uint64_t attempts = 0;
  /// Attempts after the first of their call.
  uint64_t retries = 0;
  uint64_t succeeded = 0;
  uint64_t failed = 0;
  /// Calls failed fast by an open breaker.
  uint64_t circuit_open = 0;
  uint64_t deadline_exceeded = 0;
  /// Attempts in flight now, waiting for a slot now, and the most ever in
  /// flight at once (never above `max_in_flight`).
  uint32_t in_flight = 0;
  uint32_t queued = 0;
  uint32_t max_in_flight_seen = 0;
};

/// Builds the message of attempt `attempt` (1 for the first) with `left`
/// of the call's deadline remaining.
using request_builder = std::function<caf::message(uint32_t attempt, caf::timespan left)>;

class caller {
public:
  using time_point = caf::actor_clock::time_point;

  /// An empty caller; assign a real one before use.
  caller() = default;

  /// A caller for `self` (which must outlive it: make it a member of the
  /// actor or its state). `policy` must pass `validate()` (asserted).
  caller(caf::event_based_actor* self, call_policy policy);

  /// Calls `target`, building each attempt's message with `make`; `done`
  /// gets the reply or the error, once.
  template <class Reply>
  void call(const caf::actor& target, request_builder make,
            std::function<void(caf::expected<Reply>)> done) {
    auto st = std::make_shared<pending<Reply>>();
    st->target = target;
    st->make = std::move(make);
    st->done = std::move(done);
    st->deadline = now() + policy_.deadline;
    ++stats_.calls;
    next_attempt(st);
  }

  /// Calls `target` with the same message for every attempt.
  template <class Reply>
  void call(const caf::actor& target, caf::message request,
            std::function<void(caf::expected<Reply>)> done) {
    call<Reply>(
      target, [request](uint32_t, caf::timespan) { return request; }, std::move(done));
  }

  const caller_stats& stats() const noexcept {
    return stats_;
  }

  /// The breaker state for `target` (closed if it has none yet).
  circuit_breaker::state breaker_state(const caf::actor& target) const;

  const call_policy& policy() const noexcept {
    return policy_;
  }

private:
  template <class Reply>
  struct pending {
    caf::actor target;
    request_builder make;
    std::function<void(caf::expected<Reply>)> done;
    time_point deadline;
    uint32_t attempt = 0;
    /// The last backoff delay (decorrelated jitter draws from it).
    caf::timespan previous_delay{0};
    /// Waiting for a slot (`max_in_flight`).
    bool queued = false;
  };

  time_point now() const;

  /// Ends the call in `done` exactly once.
  template <class Reply>
  void finish(const std::shared_ptr<pending<Reply>>& st, caf::expected<Reply> result) {
    if (!st->done)
      return;
    if (result)
      ++stats_.succeeded;
    else
      ++stats_.failed;
    auto done = std::move(st->done);
    st->done = nullptr;
    done(std::move(result));
  }

  /// Starts the next attempt now, or queues it for a slot.
  template <class Reply>
  void next_attempt(const std::shared_ptr<pending<Reply>>& st) {
    if (!st->done)
      return; // finished meanwhile
    if (now() >= st->deadline) {
      ++stats_.deadline_exceeded;
      finish<Reply>(st,
                    caf::make_error(flow_errc::deadline_exceeded,
                                    "the call's deadline passed before attempt "
                                      + std::to_string(st->attempt + 1)));
      return;
    }
    if (auto* b = breaker_for(st->target); b != nullptr && !b->allow(now())) {
      ++stats_.circuit_open;
      finish<Reply>(st, caf::make_error(fetch_errc::circuit_open, b->retry_after(now())));
      return;
    }
    if (policy_.max_in_flight > 0 && stats_.in_flight >= policy_.max_in_flight) {
      ++stats_.queued;
      st->queued = true;
      waiting_.push_back([this, st] {
        if (!st->queued)
          return; // its deadline passed while it waited
        st->queued = false;
        --stats_.queued;
        next_attempt(st);
      });
      // A slot may not free up in time: the deadline still holds.
      after(st->deadline - now(), [this, st] {
        if (!st->queued)
          return;
        st->queued = false;
        --stats_.queued;
        ++stats_.deadline_exceeded;
        finish<Reply>(st,
                      caf::make_error(flow_errc::deadline_exceeded,
                                      "the call waited for a slot until its deadline"));
      });
      return;
    }
    start_attempt(st);
  }

  template <class Reply>
  void start_attempt(const std::shared_ptr<pending<Reply>>& st) {
    auto left = st->deadline - now();
    auto timeout =
      policy_.attempt_timeout.count() > 0 ? std::min(left, policy_.attempt_timeout) : left;
    ++st->attempt;
    ++stats_.attempts;
    if (st->attempt > 1)
      ++stats_.retries;
    ++stats_.in_flight;
    stats_.max_in_flight_seen = std::max(stats_.max_in_flight_seen, stats_.in_flight);
    auto msg = st->make(st->attempt, left);
    self_->request(st->target, timeout, std::move(msg))
      .then(
        [this, st](Reply& reply) {
          attempt_ended(st->target, true);
          finish<Reply>(st, std::move(reply));
        },
        [this, st](caf::error& err) {
          attempt_ended(st->target, false);
          on_failure(st, std::move(err));
        });
  }

  template <class Reply>
  void on_failure(const std::shared_ptr<pending<Reply>>& st, caf::error err) {
    if (!policy_.retry.should_retry(st->attempt, err)) {
      finish<Reply>(st, policy_.retry.final_error(st->attempt, std::move(err)));
      return;
    }
    auto delay = policy_.retry.delays().draw(st->attempt, st->previous_delay, rng_);
    st->previous_delay = delay;
    if (now() + delay >= st->deadline) {
      // No time for another attempt: the deadline is the answer.
      ++stats_.deadline_exceeded;
      finish<Reply>(
        st,
        caf::make_error(flow_errc::deadline_exceeded,
                        "no time left to retry after: " + self_->system().render(err)));
      return;
    }
    after(delay, [this, st] { next_attempt(st); });
  }

  /// Books the end of an attempt: breaker, slot, the next queued attempt.
  void attempt_ended(const caf::actor& target, bool ok);

  /// Runs `f` in the actor after `delay`.
  void after(caf::timespan delay, std::function<void()> f);

  circuit_breaker* breaker_for(const caf::actor& target);

  caf::event_based_actor* self_ = nullptr;
  call_policy policy_;
  /// One engine for every call's jitter (each call keeps its own count).
  std::mt19937_64 rng_;
  std::map<caf::actor_addr, circuit_breaker> breakers_;
  /// Attempts waiting for a slot, oldest first.
  std::deque<std::function<void()>> waiting_;
  /// Answers nothing: a request to it with a timeout is the caller's timer
  /// (CAF 0.17 has no callback timer for an actor whose behavior we do not
  /// own). Spawned on first use, linked to the owner.
  caf::actor timer_;
  caller_stats stats_;
};

} // namespace troupe::actors
