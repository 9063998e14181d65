// A user's Catch2 test of a service with Troupe's test kit: the service on
// a fake node, its stub, a deadline on virtual time.

#include <catch2/catch.hpp>

#include "shop.pb.h"

#include <troupe/testing/deterministic_system.hpp>
#include <troupe/testing/fake_node.hpp>
#include <troupe/transport/system_config.hpp>

using namespace std::chrono_literals;
using fixture = troupe::testing::deterministic_system<troupe::transport::system_config>;

namespace {

/// Answers after `delay`, on the actor clock.
class slow_till final : public shop::Till::Service {
public:
  explicit slow_till(caf::timespan delay) : delay_(delay) {}

  troupe::services::reply<shop::Receipt> pay(troupe::services::server_call& call,
                                             const shop::Order& order) override {
    auto later = call.defer<shop::Receipt>();
    shop::Receipt r;
    r.set_total_cents(250 * order.quantity());
    after(delay_, [later, r]() mutable { later.deliver(r); });
    return later;
  }

private:
  caf::timespan delay_;
};

} // namespace

TEST_CASE_METHOD(fixture, "a till answers in time and a slow one fails its deadline") {
  auto delay = GENERATE(50ms, 500ms);
  troupe::testing::fake_node node{sys};
  node.publish<slow_till>(caf::timespan{delay});
  shop::Till::Stub stub{node.channel()};
  auto test = caf::actor_cast<caf::actor>(self);
  sys.spawn([=](caf::event_based_actor* client) {
    shop::Order order;
    order.set_quantity(2);
    stub.pay(client, order, 100ms)
      .then([test](shop::Receipt& r) { caf::anon_send(test, r); },
            [test](caf::error& status) { caf::anon_send(test, caf::ok_atom::value, status); });
  });
  run();
  // Time moves only when the test moves it: to the answer, or the deadline.
  advance_time(std::min<caf::timespan>(delay, 100ms));
  if (delay < 100ms) {
    auto got = received<shop::Receipt>();
    REQUIRE(got);
    CHECK(std::get<0>(*got).total_cents() == 500);
  } else {
    auto got = received<caf::ok_atom, caf::error>();
    REQUIRE(got);
    CHECK(troupe::services::status_of(std::get<1>(*got))
          == troupe::services::rpc_errc::deadline_exceeded);
  }
}
