// The deterministic test fixture every suite builds on: virtual time and a
// scheduler that runs only when told to.

#include <catch2/catch.hpp>

#include "test/v1/everything.pb.h"

#include <caf/all.hpp>

#include <troupe/testing/deterministic_system.hpp>

using namespace std::chrono_literals;
using deterministic_system = troupe::testing::deterministic_system<>;

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;

caf::behavior ticker(caf::event_based_actor* self, caf::actor listener) {
  self->delayed_send(listener, 100ms, tick_atom::value);
  return {[](caf::ok_atom) {}};
}

caf::behavior silent(caf::event_based_actor*) {
  return {[](const test::v1::Ping&) -> caf::result<test::v1::Ping> {
    return caf::delegated<test::v1::Ping>(); // never answers
  }};
}

caf::behavior asker(caf::event_based_actor* self, caf::actor target, caf::actor report_to) {
  self->request(target, 250ms, test::v1::Ping{})
    .then([](const test::v1::Ping&) {},
          [=](const caf::error& err) { self->send(report_to, err); });
  return {[](caf::ok_atom) {}};
}

} // namespace

TEST_CASE_METHOD(deterministic_system, "nothing runs until the test runs the scheduler",
                 "[testing]") {
  auto echo = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](int32_t x) { return x + 1; }};
  });
  run();
  self->send(echo, int32_t{1});
  CHECK_FALSE(received<int32_t>());
  CHECK(run_once());
  CHECK(received<int32_t>() == std::make_tuple(int32_t{2}));
  CHECK_FALSE(run_once());
}

TEST_CASE_METHOD(deterministic_system,
                 "delayed messages fire exactly when virtual time reaches them", "[testing]") {
  sys.spawn(ticker, caf::actor{self});
  run();
  CHECK(advance_time(99ms) == 0);
  CHECK_FALSE(received<tick_atom>());
  CHECK(advance_time(1ms) == 1);
  CHECK(received<tick_atom>());
  CHECK(now() == 100ms);
}

TEST_CASE_METHOD(deterministic_system,
                 "request deadlines expire on virtual time with request_timeout",
                 "[testing]") {
  auto target = sys.spawn(silent);
  sys.spawn(asker, target, caf::actor{self});
  run();
  advance_time(249ms);
  CHECK_FALSE(received<caf::error>());
  advance_time(1ms);
  auto err = received<caf::error>();
  REQUIRE(err);
  CHECK(std::get<0>(*err) == caf::sec::request_timeout);
}
