#pragma once

/// The actor system config for programs using `troupe::actors`.
///
/// Registers every linked protobuf message class (see
/// `troupe::messages::type_registry`), and renders every Troupe error
/// category linked into the program with `troupe::messages::describe`, so
/// `system().render(err)` prints an error exactly as log lines and the wire
/// do (`troupe/messages/error_category.hpp`). Options come from
/// CAF's own sources: `--key=value` on the command line and
/// `caf-application.ini`. Log levels come from spdlog's `SPDLOG_LEVEL`
/// (environment, e.g. `SPDLOG_LEVEL=troupe=debug`) or `SPDLOG_LEVEL=...` in
/// argv.
///
/// It also declares `troupe.memory.trim-threshold`, the freed heap a
/// process keeps for reuse, applied when the actor system starts
/// (`heap_retention.hpp`: default 16 MiB, `0` leaves glibc's policy).
///
/// Higher layers derive from it (`troupe::supervisors::system_config`, …);
/// use the one of the highest layer your program uses.

#include <caf/actor_system_config.hpp>

namespace troupe::actors {

class system_config : public caf::actor_system_config {
public:
  system_config();
};

} // namespace troupe::actors
