#pragma once

/// The actor system config for programs using `troupe::supervisors`.
///
/// Everything `troupe::actors::system_config` registers, plus the renderers
/// of `supervisor_errc` (`trp_sup`) and `stop_reason` (`trp_stop`), so
/// `system().render(err)` prints supervision errors by name.

#include <caf/actor_system_config.hpp>

#include <troupe/actors/system_config.hpp>

namespace troupe::supervisors {

class system_config : public troupe::actors::system_config {
public:
  system_config();
};

/// Adds this layer's error renderers to any CAF config.
void add_error_categories(caf::actor_system_config& cfg);

} // namespace troupe::supervisors
