#pragma once

/// Troupe's logging: spdlog loggers named after the component that logs.
///
/// Every Troupe logger writes to stderr with the pattern
/// `[time] [level] [logger] message`. A component passes its path (for a
/// supervisor, its position in the tree) as the logger name, so every line
/// carries where it came from. Levels follow `SPDLOG_LEVEL` (see
/// `system_config`); the default is `info`.

#include <memory>
#include <string>

#include <spdlog/logger.h>

namespace troupe::actors {

/// Returns the logger named `name`, creating it on first use.
/// Thread-safe.
std::shared_ptr<spdlog::logger> logger(const std::string& name = "troupe");

} // namespace troupe::actors
