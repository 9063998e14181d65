#include "troupe/supervisors/supervision_event.hpp"

#include <troupe/actors/human_units.hpp>

namespace troupe::supervisors {

std::string to_string(const supervision_event& x) {
  std::string result = x.supervisor;
  result += ": ";
  if (!x.child.empty()) {
    result += x.child;
    result += ' ';
  }
  result += to_string(x.kind);
  if (x.kind == event_kind::restarting) {
    result += " in ";
    result += troupe::actors::human_duration(x.delay);
  }
  if (x.reason) {
    result += " (";
    result += caf::to_string(x.reason);
    result += ')';
  }
  if (x.restarts > 0)
    result += " [restarts: " + std::to_string(x.restarts) + "]";
  return result;
}

} // namespace troupe::supervisors
