#include "troupe/supervisors/stop_reason.hpp"

#include <caf/exit_reason.hpp>

namespace troupe::supervisors {

std::string to_string(stop_reason x) {
  switch (x) {
    case stop_reason::none:
      return "none";
    case stop_reason::shutdown:
      return "shutdown";
    case stop_reason::cancelled:
      return "cancelled";
    default:
      break;
  }
  auto code = static_cast<int>(x);
  if (code >= static_cast<int>(stop_reason::user_defined))
    return "user(" + std::to_string(code) + ")";
  return "stop_reason(" + std::to_string(code) + ")";
}

bool is(const caf::error& err, stop_reason code) noexcept {
  return err && err.category() == stop_reason_category
         && err.code() == static_cast<uint8_t>(code);
}

bool is_normal_stop(const caf::error& reason) noexcept {
  if (!reason)
    return true;
  if (reason.category() == stop_reason_category)
    return true;
  return reason == caf::exit_reason::normal || reason == caf::exit_reason::user_shutdown;
}

caf::error make_cancelled(std::string cause_id, caf::error cause) {
  if (cause)
    return caf::make_error(stop_reason::cancelled, std::move(cause_id), std::move(cause));
  return caf::make_error(stop_reason::cancelled, std::move(cause_id));
}

caf::error make_shutdown(std::string requested_by) {
  return caf::make_error(stop_reason::shutdown, std::move(requested_by));
}

} // namespace troupe::supervisors
