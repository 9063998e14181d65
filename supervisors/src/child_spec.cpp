#include "troupe/supervisors/child_spec.hpp"

#include <troupe/actors/human_units.hpp>

#include "spec_check.hpp"
#include "troupe/supervisors/supervisor_errc.hpp"

namespace troupe::supervisors {

shutdown_policy shutdown_policy::timeout(caf::timespan grace) {
  return shutdown_policy{grace, false};
}

shutdown_policy shutdown_policy::brutal_kill() {
  return shutdown_policy{caf::timespan{0}, true};
}

caf::error shutdown_policy::validate() const {
  auto why = internal::check_duration("shutdown timeout", grace_);
  if (!why.empty())
    return caf::make_error(supervisor_errc::invalid_config, std::move(why));
  return caf::none;
}

std::string to_string(const shutdown_policy& x) {
  if (x.is_brutal_kill())
    return "brutal_kill";
  return "timeout(" + troupe::actors::human_duration(x.grace()) + ")";
}

caf::error child_spec::validate() const {
  auto why = internal::check_segment("id", id);
  if (why.empty() && !start)
    why = "start: must be set (child \"" + id + "\")";
  if (why.empty())
    why = internal::check_duration("shutdown timeout", shutdown.grace());
  if (why.empty() && significant && restart == restart_type::permanent)
    why = "significant: a permanent child cannot be significant (child \"" + id
      + "\"); make it transient or temporary";
  if (!why.empty())
    return caf::make_error(supervisor_errc::invalid_config, std::move(why));
  return caf::none;
}

} // namespace troupe::supervisors
