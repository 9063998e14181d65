#pragma once

// Validation shared by child specs, supervisor configs and scope configs.
// Each check returns an empty string when the value is fine, else the field
// and why; callers wrap it into an `invalid_config` error with their prefix.

#include <string>

#include <caf/deep_to_string.hpp>
#include <caf/timespan.hpp>

namespace troupe::supervisors::internal {

/// Checks a name used as a path segment (child id, supervisor name).
inline std::string check_segment(const std::string& field, const std::string& x) {
  if (x.empty())
    return field + ": must not be empty";
  if (x.find('/') != std::string::npos)
    return field + ": must not contain '/' (got \"" + x + "\")";
  return {};
}

/// Checks a duration that must be >= 0 (or > 0 with `strict`).
inline std::string check_duration(const std::string& field, caf::timespan x,
                                  bool strict = false) {
  if (strict && x.count() <= 0)
    return field + ": must be > 0 (got " + caf::deep_to_string(x) + ")";
  if (x.count() < 0)
    return field + ": must be >= 0 (got " + caf::deep_to_string(x) + ")";
  return {};
}

} // namespace troupe::supervisors::internal
