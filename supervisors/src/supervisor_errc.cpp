#include "troupe/supervisors/supervisor_errc.hpp"

namespace troupe::supervisors {

std::string to_string(supervisor_errc x) {
  switch (x) {
    case supervisor_errc::none:
      return "none";
    case supervisor_errc::invalid_spec:
      return "invalid_spec";
    case supervisor_errc::duplicate_child_id:
      return "duplicate_child_id";
    case supervisor_errc::start_failed:
      return "start_failed";
    case supervisor_errc::intensity_exceeded:
      return "intensity_exceeded";
    case supervisor_errc::unknown_child:
      return "unknown_child";
    case supervisor_errc::unsupported_operation:
      return "unsupported_operation";
    case supervisor_errc::shutting_down:
      return "shutting_down";
    case supervisor_errc::exception_thrown:
      return "exception_thrown";
    case supervisor_errc::scope_failed:
      return "scope_failed";
  }
  return "supervisor_errc(" + std::to_string(static_cast<int>(x)) + ")";
}

bool is(const caf::error& err, supervisor_errc code) noexcept {
  return err && err.category() == supervisor_errc_category
         && err.code() == static_cast<uint8_t>(code);
}

} // namespace troupe::supervisors
