#include "troupe/actors/human_units.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace troupe::actors {

namespace {

/// `x` with three significant digits (for |x| < 1000), trailing zeros
/// dropped: "23.3", "100", "1.5".
std::string three_digits(double x) {
  auto mag = std::fabs(x);
  int decimals = mag >= 100 ? 0 : mag >= 10 ? 1 : 2;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, x);
  std::string number{buf};
  if (number.find('.') != std::string::npos) {
    while (number.back() == '0')
      number.pop_back();
    if (number.back() == '.')
      number.pop_back();
  }
  return number;
}

} // namespace

std::string human_duration(caf::timespan x) {
  if (x == caf::timespan::max())
    return "forever";
  struct unit {
    double ns;
    const char* name;
  };
  static constexpr std::array<unit, 6> units{
    {{3600e9, "h"}, {60e9, "min"}, {1e9, "s"}, {1e6, "ms"}, {1e3, "µs"}, {1, "ns"}}};
  auto ns = static_cast<double>(x.count());
  auto magnitude = std::fabs(ns);
  // A value that rounds up to the next unit is shown in it: 999.96 µs is
  // "1 ms", not "1000 µs" (three significant digits round at 0.05 %).
  const unit* chosen = &units.back();
  for (auto& u : units)
    if (magnitude >= u.ns * (1 - 0.0005)) {
      chosen = &u;
      break;
    }
  auto value = ns / chosen->ns;
  return three_digits(value) + " " + chosen->name;
}

std::string human_count(double x) {
  if (x < 1000)
    return three_digits(x);
  if (x < 1e6)
    return three_digits(x / 1e3) + " k";
  if (x < 1e9)
    return three_digits(x / 1e6) + " M";
  return three_digits(x / 1e9) + " G";
}

} // namespace troupe::actors
