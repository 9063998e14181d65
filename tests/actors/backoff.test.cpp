// backoff: delays grow, cap, and jitter within their documented bounds.

#include <catch2/catch.hpp>

#include <optional>

#include <troupe/actors/backoff.hpp>
#include <troupe/actors/flow_errc.hpp>

using namespace std::chrono_literals;
using troupe::actors::backoff;
using troupe::actors::backoff_state;
using troupe::actors::flow_errc;
using troupe::actors::jitter;

TEST_CASE("exponential backoff doubles from base and stops at the cap",
          "[actors][policy][backoff]") {
  auto b = backoff::exponential(100ms, 1s);
  CHECK(b.nominal(1) == 100ms);
  CHECK(b.nominal(2) == 200ms);
  CHECK(b.nominal(3) == 400ms);
  CHECK(b.nominal(4) == 800ms);
  CHECK(b.nominal(5) == 1s);
  CHECK(b.nominal(200) == 1s); // no overflow far past the cap
  backoff_state s{b, 1};
  for (auto expected : {100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms})
    CHECK(s.next() == expected);
}

TEST_CASE("jittered delays stay within their bounds", "[actors][policy][backoff]") {
  auto b = backoff::exponential(10ms, 2s, 3.0);
  for (auto kind : {jitter::full, jitter::equal, jitter::decorrelated}) {
    CAPTURE(to_string(kind));
    backoff_state s{b.with_jitter(kind), 42};
    caf::timespan previous{0};
    bool varied = false;
    std::optional<caf::timespan> first_capped; // nominal at the 2 s cap from here
    for (uint32_t n = 1; n <= 200; ++n) {
      auto d = s.next();
      auto nominal = b.nominal(n);
      switch (kind) {
        case jitter::full:
          CHECK(d >= 0ms);
          CHECK(d <= nominal);
          break;
        case jitter::equal:
          CHECK(d >= nominal / 2);
          CHECK(d <= nominal);
          break;
        default: // decorrelated
          CHECK(d >= 10ms);
          CHECK(d <= std::min<caf::timespan>(2s, std::max<caf::timespan>(previous, 10ms) * 3));
          break;
      }
      // Once the nominal delay is capped it no longer changes: only jitter
      // can make the draws differ.
      if (nominal == 2s) {
        if (!first_capped)
          first_capped = d;
        else if (d != *first_capped)
          varied = true;
      }
      previous = d;
    }
    REQUIRE(first_capped); // the draws did reach the cap
    CHECK(varied);         // it is random, not a constant
  }
}

TEST_CASE("the same seed draws the same delays", "[actors][policy][backoff]") {
  auto b = backoff::exponential(1ms, 1s).with_jitter(jitter::full);
  backoff_state a{b, 7};
  backoff_state c{b, 7};
  backoff_state other{b, 8};
  bool seed_matters = false;
  for (int i = 0; i < 20; ++i) {
    auto d = a.next();
    CHECK(d == c.next());
    if (d != other.next())
      seed_matters = true;
  }
  CHECK(seed_matters); // the seed decides the draws: another one draws others
}

TEST_CASE("reset starts the delays over", "[actors][policy][backoff]") {
  backoff_state s{backoff::exponential(5ms, 1s), 1};
  s.next();
  s.next();
  CHECK(s.attempts() == 2);
  s.reset();
  CHECK(s.attempts() == 0);
  CHECK(s.next() == 5ms);
}

TEST_CASE("invalid backoff values are refused with a named field",
          "[actors][policy][backoff]") {
  CHECK(backoff::exponential(1s, 100ms).validate()
        == caf::make_error(flow_errc::invalid_config));
  CHECK(backoff::exponential(-1ms, 100ms).validate()
        == caf::make_error(flow_errc::invalid_config));
  CHECK(backoff::exponential(1ms, 100ms, 0.5).validate()
        == caf::make_error(flow_errc::invalid_config));
  CHECK(!backoff::none().validate());
  CHECK(!backoff::constant(1s).validate());
  CHECK(backoff::constant(1s).nominal(9) == 1s);
  CHECK(backoff::none().nominal(3) == 0s);
}

TEST_CASE("backoff values compare and print", "[actors][policy][backoff]") {
  auto b = backoff::exponential(100ms, 10s).with_jitter(jitter::full);
  CHECK(b == backoff::exponential(100ms, 10s).with_jitter(jitter::full));
  CHECK(b != backoff::exponential(100ms, 10s));
  CHECK(to_string(b).find("full jitter") != std::string::npos);
}
