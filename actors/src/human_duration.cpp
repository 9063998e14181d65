#include "troupe/actors/human_duration.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace troupe::actors {

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
  // Three significant digits: 1.23, 12.3, 123.
  auto mag = std::fabs(value);
  int decimals = mag >= 100 || chosen->ns == 1 ? 0 : mag >= 10 ? 1 : 2;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  std::string number{buf};
  if (number.find('.') != std::string::npos) {
    while (number.back() == '0')
      number.pop_back();
    if (number.back() == '.')
      number.pop_back();
  }
  return number + " " + chosen->name;
}

} // namespace troupe::actors
