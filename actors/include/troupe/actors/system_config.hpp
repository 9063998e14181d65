#pragma once

/// The actor system config for programs using `troupe::actors`.
///
/// Registers every linked protobuf message class (see
/// `troupe::messages::type_registry`) and the error categories of this layer,
/// so `system().render(err)` prints Troupe errors by name. Options come from
/// CAF's own sources: `--key=value` on the command line and
/// `caf-application.ini`. Log levels come from spdlog's `SPDLOG_LEVEL`
/// (environment, e.g. `SPDLOG_LEVEL=troupe=debug`) or `SPDLOG_LEVEL=...` in
/// argv.
///
/// Higher layers derive from it (`troupe::supervisors::system_config`, …);
/// use the one of the highest layer your program uses.

#include <caf/actor_system_config.hpp>

namespace troupe::actors {

class system_config : public caf::actor_system_config {
public:
  system_config();
};

/// Adds this layer's error renderers to any CAF config.
void add_error_categories(caf::actor_system_config& cfg);

} // namespace troupe::actors
