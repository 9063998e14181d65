// Durations and counts in log lines, error texts and progress lines read as
// a person would write them.

#include <catch2/catch.hpp>

#include <troupe/actors/human_units.hpp>

using namespace std::chrono_literals;
using troupe::actors::human_count;
using troupe::actors::human_duration;

TEST_CASE("durations print in the largest unit with three significant digits",
          "[actors][human_units]") {
  CHECK(human_duration(23340321ns) == "23.3 ms");
  CHECK(human_duration(100ms) == "100 ms");
  CHECK(human_duration(1500ms) == "1.5 s");
  CHECK(human_duration(250us) == "250 µs");
  CHECK(human_duration(2min) == "2 min");
  CHECK(human_duration(90s) == "1.5 min");
  CHECK(human_duration(3h) == "3 h");
  CHECK(human_duration(7ns) == "7 ns");
  CHECK(human_duration(0ns) == "0 ns");
  CHECK(human_duration(1s) == "1 s");
  CHECK(human_duration(-3ms) == "-3 ms");
  CHECK(human_duration(caf::timespan::max()) == "forever");
  // Rounding never shows 1000 of a unit or 60 s.
  CHECK(human_duration(999960ns) == "1 ms");
  CHECK(human_duration(999400ns) == "999 µs");
  CHECK(human_duration(59999ms) == "1 min");
  CHECK(human_duration(59900ms) == "59.9 s");
}

TEST_CASE("counts print with three significant digits and k, M or G",
          "[actors][human_units]") {
  CHECK(human_count(999) == "999");
  CHECK(human_count(37) == "37");
  CHECK(human_count(412'300) == "412 k");
  CHECK(human_count(1'500'000) == "1.5 M");
  CHECK(human_count(2.5e9) == "2.5 G");
}
