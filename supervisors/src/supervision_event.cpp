#include "troupe/supervisors/supervision_event.hpp"

#include <caf/deep_to_string.hpp>

namespace troupe::supervisors {

std::string to_string(event_kind x) {
  switch (x) {
    case event_kind::started:
      return "started";
    case event_kind::exited:
      return "exited";
    case event_kind::stopped:
      return "stopped";
    case event_kind::restarting:
      return "restarting";
    case event_kind::killed:
      return "killed";
    case event_kind::intensity_exceeded:
      return "intensity_exceeded";
    case event_kind::escalated:
      return "escalated";
  }
  return "event_kind(" + std::to_string(static_cast<int>(x)) + ")";
}

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
    result += caf::deep_to_string(x.delay);
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
