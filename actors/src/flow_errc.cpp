#include "troupe/actors/flow_errc.hpp"

namespace troupe::actors {

std::string to_string(flow_errc x) {
  switch (x) {
    case flow_errc::none:
      return "none";
    case flow_errc::invalid_config:
      return "invalid_config";
    case flow_errc::mailbox_full:
      return "mailbox_full";
    case flow_errc::mailbox_wait_expired:
      return "mailbox_wait_expired";
    case flow_errc::source_failed:
      return "source_failed";
    case flow_errc::handler_failed:
      return "handler_failed";
    case flow_errc::no_consumers:
      return "no_consumers";
    case flow_errc::cancelled:
      return "cancelled";
    case flow_errc::deadline_exceeded:
      return "deadline_exceeded";
    case flow_errc::all_failed:
      return "all_failed";
  }
  return "flow_errc(" + std::to_string(static_cast<int>(x)) + ")";
}

} // namespace troupe::actors
