// Fan-out helpers over requests: gather, as_completed, first_success.

#include <catch2/catch.hpp>

#include "flow_test_support.hpp"

#include <troupe/actors/fan_out.hpp>

using namespace std::chrono_literals;
using namespace troupe::actors;
using namespace troupe::testing;

namespace {

using ask_atom = caf::atom_constant<caf::atom("ask")>;
using answer_atom = caf::atom_constant<caf::atom("answer")>;

/// Answers `ask` with `value` after `delay` (virtual time); a negative
/// value answers with an error, and `silent` never answers.
caf::behavior replica(caf::event_based_actor* self, int32_t value, caf::timespan delay,
                      bool silent) {
  return {
    [=](ask_atom) -> caf::result<int32_t> {
      if (silent)
        return caf::delegated<int32_t>();
      if (delay.count() == 0) {
        if (value < 0)
          return caf::make_error(caf::sec::runtime_error, "replica down");
        return value;
      }
      auto rp = self->make_response_promise<int32_t>();
      self->delayed_send(self, delay, answer_atom::value);
      self->become(caf::keep_behavior, [=](answer_atom) mutable {
        if (value < 0)
          rp.deliver(caf::make_error(caf::sec::runtime_error, "replica down"));
        else
          rp.deliver(value);
        self->unbecome();
      });
      return rp;
    },
  };
}

} // namespace

TEST_CASE_METHOD(flow_fixture,
                 "gather returns every result and error side by side in target order",
                 "[actors][fan_out]") {
  std::vector<caf::actor> targets{
    sys.spawn(replica, 1, 30ms, false), sys.spawn(replica, -1, 10ms, false),
    sys.spawn(replica, 3, 0ms, false), sys.spawn(replica, 4, 0ms, true)};
  std::optional<std::vector<caf::expected<int32_t>>> got;
  sys.spawn([&](caf::event_based_actor* self) {
    gather<int32_t>(self, targets, 100ms, caf::make_message(ask_atom::value),
                    [&](std::vector<caf::expected<int32_t>> xs) { got = std::move(xs); });
  });
  run();
  CHECK_FALSE(got);
  for (int ms = 0; ms < 100; ++ms)
    advance_time(1ms); // step by step: answers at 10 and 30 ms, timeout at 100
  REQUIRE(got);
  REQUIRE(got->size() == 4);
  CHECK((*got)[0] == caf::expected<int32_t>{1});
  CHECK((*got)[1].error() == caf::sec::runtime_error);
  CHECK((*got)[2] == caf::expected<int32_t>{3});
  CHECK((*got)[3].error() == caf::sec::request_timeout); // bounded, never hangs
  for (auto& t : targets)
    self->send_exit(t, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(flow_fixture, "as_completed delivers results in the order they arrive",
                 "[actors][fan_out]") {
  std::vector<caf::actor> targets{sys.spawn(replica, 1, 30ms, false),
                                  sys.spawn(replica, 2, 10ms, false),
                                  sys.spawn(replica, 3, 20ms, false)};
  std::vector<std::pair<size_t, int32_t>> order;
  bool all = false;
  sys.spawn([&](caf::event_based_actor* self) {
    as_completed<int32_t>(
      self, targets, 1s, caf::make_message(ask_atom::value),
      [&](size_t i, caf::expected<int32_t> x) { order.emplace_back(i, *x); },
      [&] { all = true; });
  });
  run();
  advance_time(10ms);
  CHECK(order == std::vector<std::pair<size_t, int32_t>>{{1, 2}});
  advance_time(20ms);
  CHECK(order == std::vector<std::pair<size_t, int32_t>>{{1, 2}, {2, 3}, {0, 1}});
  CHECK(all);
  for (auto& t : targets)
    self->send_exit(t, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(flow_fixture, "first_success takes the first answer and ignores the rest",
                 "[actors][fan_out]") {
  std::vector<caf::actor> targets{sys.spawn(replica, -1, 0ms, false),
                                  sys.spawn(replica, 2, 20ms, false),
                                  sys.spawn(replica, 3, 10ms, false)};
  std::vector<caf::expected<int32_t>> calls;
  sys.spawn([&](caf::event_based_actor* self) {
    first_success<int32_t>(self, targets, 1s, caf::make_message(ask_atom::value),
                           [&](caf::expected<int32_t> x) { calls.push_back(std::move(x)); });
  });
  run();
  CHECK(calls.empty()); // a failure alone decides nothing
  advance_time(50ms);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0] == caf::expected<int32_t>{3});
  for (auto& t : targets)
    self->send_exit(t, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(flow_fixture, "first_success reports all_failed with every error",
                 "[actors][fan_out]") {
  std::vector<caf::actor> targets{sys.spawn(replica, -1, 0ms, false),
                                  sys.spawn(replica, 0, 0ms, true)};
  std::optional<caf::expected<int32_t>> got;
  sys.spawn([&](caf::event_based_actor* self) {
    first_success<int32_t>(self, targets, 50ms, caf::make_message(ask_atom::value),
                           [&](caf::expected<int32_t> x) { got = std::move(x); });
  });
  run();
  advance_time(50ms);
  REQUIRE(got);
  REQUIRE_FALSE(*got);
  CHECK(got->error() == caf::make_error(flow_errc::all_failed));
  auto text = sys.render(got->error());
  CHECK(text.find("runtime_error") != std::string::npos);
  CHECK(text.find("request_timeout") != std::string::npos);
  for (auto& t : targets)
    self->send_exit(t, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(flow_fixture, "gather with a concurrency bound keeps that many requests out",
                 "[actors][fan_out]") {
  // Six replicas that answer after 100 ms each; at most two asked at once.
  std::vector<caf::actor> targets;
  for (int32_t i = 1; i <= 6; ++i)
    targets.push_back(sys.spawn(replica, i, 100ms, false));
  std::optional<std::vector<caf::expected<int32_t>>> got;
  sys.spawn([&](caf::event_based_actor* self) {
    gather<int32_t>(self, targets, 1s, caf::make_message(ask_atom::value), 2,
                    [&](std::vector<caf::expected<int32_t>> xs) { got = std::move(xs); });
  });
  run();
  advance_time(100ms);
  advance_time(100ms);
  CHECK_FALSE(got); // two rounds of two: the last two still out
  advance_time(100ms);
  REQUIRE(got);
  REQUIRE(got->size() == 6);
  for (int32_t i = 0; i < 6; ++i)
    CHECK((*got)[static_cast<size_t>(i)] == caf::expected<int32_t>{i + 1}); // target order
  for (auto& t : targets)
    self->send_exit(t, caf::exit_reason::user_shutdown);
}
