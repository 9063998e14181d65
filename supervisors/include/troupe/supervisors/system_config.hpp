#pragma once

/// The actor system config for programs using `troupe::supervisors`.
///
/// Everything `troupe::actors::system_config` registers (error renderers
/// included: `supervisor_errc` and `stop_reason` register themselves when
/// linked). A separate class so this layer's options have a home.

#include <caf/actor_system_config.hpp>

#include <troupe/actors/system_config.hpp>

namespace troupe::supervisors {

class system_config : public troupe::actors::system_config {
public:
  system_config();
};

} // namespace troupe::supervisors
