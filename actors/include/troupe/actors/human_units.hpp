#pragma once

/// Numbers as a person reads them in a log line, an error text or a
/// progress line: "23.3 ms", "1.5 s", "2 min" instead of CAF's "23340321ns";
/// "412 k", "1.5 M" instead of "412300".

#include <string>

#include <caf/timespan.hpp>

namespace troupe::actors {

/// At most three significant digits (trailing zeros dropped) in the largest
/// unit that keeps the number >= 1: ns, µs, ms, s, min, h. Negative
/// durations get a minus sign; `caf::timespan::max()` is "forever".
std::string human_duration(caf::timespan x);

/// A count with three significant digits and k, M or G: "999", "412 k",
/// "1.5 M", "2.5 G".
std::string human_count(double x);

} // namespace troupe::actors
