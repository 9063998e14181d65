#pragma once

/// The actor system config for programs using `troupe::transport`.
///
/// Everything `troupe::supervisors::system_config` registers (and through it
/// `troupe::actors::system_config`), plus the renderer of `transport_errc`
/// (category "trp_net"), so `system().render(err)` prints transport,
/// supervision and flow errors by name.

#include <troupe/supervisors/system_config.hpp>

namespace troupe::transport {

class system_config : public troupe::supervisors::system_config {
public:
  system_config();
};

/// Adds this layer's error renderer to any CAF config.
void add_error_categories(caf::actor_system_config& cfg);

} // namespace troupe::transport
