#include "troupe/supervisors/exception_reason.hpp"

#include <string>

#include "troupe/supervisors/supervisor_errc.hpp"

namespace troupe::supervisors {

caf::error exception_error(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return caf::make_error(supervisor_errc::exception_thrown, std::string{e.what()});
  } catch (...) {
    return caf::make_error(supervisor_errc::exception_thrown,
                           std::string{"unknown exception"});
  }
}

caf::error exception_reason(caf::scheduled_actor*, std::exception_ptr& ep) {
  return exception_error(ep);
}

} // namespace troupe::supervisors
