#pragma once

/// `human_duration`: a duration as a person reads it in a log line or an
/// error text — "23.3 ms", "1.5 s", "250 µs", "2 min" — instead of CAF's
/// "23340321ns".

#include <string>

#include <caf/timespan.hpp>

namespace troupe::actors {

/// At most three significant digits (trailing zeros dropped) in the largest
/// unit that keeps the number >= 1: ns, µs, ms, s, min, h. Negative
/// durations get a minus sign; `caf::timespan::max()` is "forever".
std::string human_duration(caf::timespan x);

} // namespace troupe::actors
