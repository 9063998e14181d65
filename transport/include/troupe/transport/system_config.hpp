#pragma once

/// The actor system config for programs using `troupe::transport`.
///
/// Everything `troupe::supervisors::system_config` registers (and through it
/// `troupe::actors::system_config`: `transport_errc` registers itself when
/// linked). A separate class so this layer's options have a home.

#include <troupe/supervisors/system_config.hpp>

namespace troupe::transport {

class system_config : public troupe::supervisors::system_config {
public:
  system_config();
};

} // namespace troupe::transport
