// caller: a deadline, retries with backoff, a breaker per target and a
// concurrency bound around requests to any actor, on virtual time.

#include <catch2/catch.hpp>

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "flow_test_support.hpp"

#include <troupe/actors/caller.hpp>

// The test's client answers its stats in a local message.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::actors::caller_stats)

using namespace std::chrono_literals;
using namespace troupe::actors;
using namespace troupe::testing;

namespace {

using ask_atom = caf::atom_constant<caf::atom("ask")>;
using answer_atom = caf::atom_constant<caf::atom("answer")>;
using caller_stats_atom = caf::atom_constant<caf::atom("cstats")>;

/// What the test's target saw and what the client got back.
struct journal {
  /// The attempt number of every request the target received.
  std::vector<uint32_t> attempts;
  /// The virtual time of each received request.
  std::vector<caf::timespan> at;
  /// Results in the order the client got them ("ok:<n>" or the error).
  std::vector<std::string> results;
};

/// A target that fails its first `failures` requests with `runtime_error`,
/// then answers the attempt number; with `delay`, it answers that much later
/// (and never, with `silent`).
struct target_options {
  int failures = 0;
  caf::timespan delay{0};
  bool silent = false;
};

caf::behavior target(caf::event_based_actor* self, std::shared_ptr<journal> j,
                     flow_fixture* fx, target_options opts) {
  auto seen = std::make_shared<int>(0);
  auto pending = std::make_shared<std::deque<caf::typed_response_promise<uint32_t>>>();
  return {
    [=](ask_atom, uint32_t attempt) -> caf::result<uint32_t> {
      j->attempts.push_back(attempt);
      j->at.push_back(fx->now());
      if (opts.silent)
        return caf::delegated<uint32_t>();
      if ((*seen)++ < opts.failures)
        return caf::make_error(caf::sec::runtime_error, std::string{"not yet"});
      if (opts.delay.count() == 0)
        return attempt;
      // Answered later; requests keep coming meanwhile (FIFO: one delay).
      pending->push_back(self->make_response_promise<uint32_t>());
      self->delayed_send(self, opts.delay, answer_atom::value, attempt);
      return pending->back();
    },
    [=](answer_atom, uint32_t attempt) {
      pending->front().deliver(attempt);
      pending->pop_front();
    },
  };
}

/// A client that makes `calls` calls with `policy` as soon as it starts:
/// all at once, or (`one_by_one`) each after the previous one ended.
caf::behavior client(caf::stateful_actor<caller>* self, caf::actor dest, call_policy policy,
                     int calls, std::shared_ptr<journal> j, bool one_by_one) {
  REQUIRE_FALSE(policy.validate());
  self->state = caller{self, policy};
  auto left = std::make_shared<int>(calls);
  auto next = std::make_shared<std::function<void()>>();
  *next = [=] {
    --*left;
    self->state.call<uint32_t>(
      dest,
      [](uint32_t attempt, caf::timespan) {
        return caf::make_message(ask_atom::value, attempt);
      },
      [=](caf::expected<uint32_t> x) {
        j->results.push_back(x ? "ok:" + std::to_string(*x)
                               : self->system().render(x.error()));
        if (one_by_one && *left > 0)
          (*next)();
      });
  };
  if (one_by_one)
    (*next)();
  else
    while (*left > 0)
      (*next)();
  self->attach_functor([next] { *next = nullptr; }); // the lambda holds itself
  return {[self](caller_stats_atom) { return self->state.stats(); }};
}

} // namespace

TEST_CASE_METHOD(flow_fixture,
                 "a caller retries with backoff and the receiver sees the attempt",
                 "[actors][caller]") {
  auto j = std::make_shared<journal>();
  auto dest = sys.spawn(target, j, this, target_options{2, 0s, false});
  call_policy policy;
  policy.deadline = 5s;
  policy.retry = retry_policy::up_to(4, backoff::exponential(100ms, 1s));
  sys.spawn(client, dest, policy, 1, j, false);
  run();
  CHECK(j->attempts == std::vector<uint32_t>{1});
  advance_time(100ms);
  advance_time(200ms);
  CHECK(j->attempts == std::vector<uint32_t>{1, 2, 3});
  CHECK(j->at == std::vector<caf::timespan>{0ms, 100ms, 300ms}); // the backoff, exactly
  CHECK(j->results == std::vector<std::string>{"ok:3"});
}

TEST_CASE_METHOD(flow_fixture,
                 "a caller gives up typed: exhausted retries, an error not retried",
                 "[actors][caller]") {
  auto j = std::make_shared<journal>();
  auto dest = sys.spawn(target, j, this, target_options{10, 0s, false});
  call_policy policy;
  SECTION("every attempt failed") {
    policy.retry = retry_policy::up_to(3, backoff::constant(10ms));
    sys.spawn(client, dest, policy, 1, j, false);
    advance_time(10ms);
    advance_time(10ms);
    REQUIRE(j->results.size() == 1);
    CHECK(j->attempts.size() == 3);
    CHECK(j->results[0].find("retries_exhausted") != std::string::npos);
    CHECK(j->results[0].find("not yet") != std::string::npos); // the last error
  }
  SECTION("an error the policy does not retry passes through") {
    policy.retry = retry_policy::up_to(3, backoff::constant(10ms))
                     .retry_on({caf::make_error(caf::sec::request_timeout)});
    sys.spawn(client, dest, policy, 1, j, false);
    run();
    REQUIRE(j->results.size() == 1);
    CHECK(j->attempts.size() == 1);
    CHECK(j->results[0].find("runtime_error") != std::string::npos);
  }
}

TEST_CASE_METHOD(flow_fixture, "a caller's deadline bounds every attempt and wait",
                 "[actors][caller]") {
  auto j = std::make_shared<journal>();
  auto dest = sys.spawn(target, j, this, target_options{0, 0s, true}); // never answers
  call_policy policy;
  policy.deadline = 1s;
  policy.attempt_timeout = 300ms;
  policy.retry = retry_policy::up_to(10, backoff::constant(50ms));
  sys.spawn(client, dest, policy, 1, j, false);
  for (int i = 0; i < 30 && j->results.empty(); ++i)
    advance_time(50ms);
  REQUIRE(j->results.size() == 1);
  CHECK(j->results[0].find("deadline_exceeded") != std::string::npos);
  CHECK(now() <= 1s);
  // Attempts at 0, 350, 700 ms (300 ms timeout + 50 ms backoff); no fourth:
  // it would start at 1050 ms, after the deadline.
  CHECK(j->at == std::vector<caf::timespan>{0ms, 350ms, 700ms});
}

TEST_CASE_METHOD(flow_fixture, "a caller's breaker fails fast while a target is down",
                 "[actors][caller]") {
  auto j = std::make_shared<journal>();
  auto dest = sys.spawn(target, j, this, target_options{3, 0s, false});
  call_policy policy;
  policy.breaker = circuit_breaker::config{3, 1s, 1};
  sys.spawn(client, dest, policy, 5, j, true);
  run();
  // Three failures open the breaker: calls 4 and 5 never reach the target.
  CHECK(j->attempts.size() == 3);
  REQUIRE(j->results.size() == 5);
  CHECK(j->results[3].find("circuit_open") != std::string::npos);
  CHECK(j->results[4].find("circuit_open") != std::string::npos);
  advance_time(1s); // half-open: a probe goes through and closes it
  sys.spawn(client, dest, policy, 1, j, false);
  run();
  CHECK(j->attempts.size() == 4);
  CHECK(j->results.back() == "ok:1");
}

TEST_CASE_METHOD(flow_fixture, "a caller keeps at most max_in_flight attempts in flight",
                 "[actors][caller]") {
  auto j = std::make_shared<journal>();
  auto dest = sys.spawn(target, j, this, target_options{0, 100ms, false});
  call_policy policy;
  policy.deadline = 250ms;
  policy.max_in_flight = 2;
  auto c = sys.spawn(client, dest, policy, 5, j, false);
  run();
  CHECK(j->attempts.size() == 2); // the other three wait for a slot
  advance_time(100ms);
  CHECK(j->attempts.size() == 4);
  advance_time(100ms);
  CHECK(j->attempts.size() == 5);
  advance_time(50ms); // the fifth call's deadline passes while it is in flight
  REQUIRE(j->results.size() == 5);
  CHECK(std::count(j->results.begin(), j->results.end(), "ok:1") == 4);
  self->send(c, caller_stats_atom::value);
  run();
  auto stats = received<caller_stats>();
  REQUIRE(stats);
  CHECK(std::get<0>(*stats).max_in_flight_seen == 2);
  CHECK(std::get<0>(*stats).succeeded == 4);
  CHECK(std::get<0>(*stats).failed == 1);
  anon_send_exit(c, caf::exit_reason::user_shutdown);
}
