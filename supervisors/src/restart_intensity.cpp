#include "troupe/supervisors/restart_intensity.hpp"

#include <troupe/actors/human_units.hpp>

#include "spec_check.hpp"
#include "troupe/supervisors/supervisor_errc.hpp"

namespace troupe::supervisors {

caf::error restart_intensity::validate() const {
  auto why = internal::check_duration("intensity.window", window, true);
  if (!why.empty())
    return caf::make_error(supervisor_errc::invalid_config, std::move(why));
  return caf::none;
}

std::string to_string(const restart_intensity& x) {
  return std::to_string(x.max_restarts) + " restarts in "
    + troupe::actors::human_duration(x.window);
}

restart_intensity_window::restart_intensity_window(restart_intensity limits)
  : limits_(limits) {
  // nop
}

void restart_intensity_window::expire(time_point now) {
  // Keep restarts within (now - window, now].
  while (!restarts_.empty() && now - restarts_.front() >= limits_.window)
    restarts_.pop_front();
}

bool restart_intensity_window::record(time_point now) {
  expire(now);
  restarts_.push_back(now);
  return restarts_.size() <= limits_.max_restarts;
}

size_t restart_intensity_window::count(time_point now) {
  expire(now);
  return restarts_.size();
}

} // namespace troupe::supervisors
