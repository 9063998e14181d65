#include "troupe/supervisors/stop_reason.hpp"

#include <caf/exit_reason.hpp>

namespace troupe::supervisors {

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
