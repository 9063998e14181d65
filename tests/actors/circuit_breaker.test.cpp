// circuit_breaker: closed → open → half-open → closed, on caller-supplied time.

#include <catch2/catch.hpp>

#include <troupe/actors/circuit_breaker.hpp>
#include <troupe/actors/flow_errc.hpp>

using namespace std::chrono_literals;
using troupe::actors::circuit_breaker;
using troupe::actors::flow_errc;
using state = circuit_breaker::state;

namespace {

const circuit_breaker::time_point t0{};

circuit_breaker make_breaker() {
  circuit_breaker::config cfg;
  cfg.failure_threshold = 3;
  cfg.open_interval = 10s;
  cfg.half_open_probes = 2;
  return circuit_breaker{cfg};
}

} // namespace

TEST_CASE("the breaker opens after failure_threshold consecutive failures",
          "[actors][policy][breaker]") {
  auto b = make_breaker();
  b.on_failure(t0);
  b.on_failure(t0);
  b.on_success(); // a success resets the count
  b.on_failure(t0);
  b.on_failure(t0);
  CHECK(b.current(t0) == state::closed);
  CHECK(b.allow(t0));
  b.on_failure(t0 + 1s);
  CHECK(b.current(t0 + 1s) == state::open);
  CHECK_FALSE(b.allow(t0 + 1s));
  CHECK(b.retry_after(t0 + 4s) == 7s);
}

TEST_CASE("an open breaker lets probes through after open_interval and closes "
          "after enough successes",
          "[actors][policy][breaker]") {
  auto b = make_breaker();
  for (int i = 0; i < 3; ++i)
    b.on_failure(t0);
  CHECK_FALSE(b.allow(t0 + 9999ms));
  CHECK(b.current(t0 + 10s) == state::half_open);
  CHECK(b.allow(t0 + 10s));       // probe 1
  CHECK(b.allow(t0 + 10s));       // probe 2
  CHECK_FALSE(b.allow(t0 + 10s)); // no third probe at once
  b.on_success();
  CHECK(b.current(t0 + 10s) == state::half_open);
  b.on_success();
  CHECK(b.current(t0 + 10s) == state::closed);
  CHECK(b.allow(t0 + 10s));
}

TEST_CASE("a failed probe opens the breaker again for a full interval",
          "[actors][policy][breaker]") {
  auto b = make_breaker();
  for (int i = 0; i < 3; ++i)
    b.on_failure(t0);
  REQUIRE(b.allow(t0 + 10s));
  b.on_failure(t0 + 11s);
  CHECK(b.current(t0 + 11s) == state::open);
  CHECK_FALSE(b.allow(t0 + 20s));
  CHECK(b.allow(t0 + 21s));
}

TEST_CASE("invalid breaker settings are refused", "[actors][policy][breaker]") {
  circuit_breaker::config cfg;
  CHECK(!cfg.validate());
  cfg.failure_threshold = 0;
  CHECK(cfg.validate() == caf::make_error(flow_errc::invalid_config));
  cfg = {};
  cfg.open_interval = 0s;
  CHECK(cfg.validate() == caf::make_error(flow_errc::invalid_config));
  cfg = {};
  cfg.half_open_probes = 0;
  CHECK(cfg.validate() == caf::make_error(flow_errc::invalid_config));
}
