#pragma once

/// Troupe's logging: spdlog loggers named after the component that logs.
///
/// Every Troupe logger writes to stderr with the pattern
/// `[time] [level] [logger] [trace=… span=… req=…] message`, the bracket
/// with the call context only while the thread handles a call
/// (`call_context.hpp`). A component passes its path (for a
/// supervisor, its position in the tree) as the logger name, so every line
/// carries where it came from. Levels follow `SPDLOG_LEVEL` (see
/// `system_config`); the default is `info`.

#include <memory>
#include <string>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>

namespace troupe::actors {

/// Returns the logger named `name`, creating it on first use.
/// Thread-safe.
std::shared_ptr<spdlog::logger> logger(const std::string& name = "troupe");

/// Troupe's line format (above), for a logger or sink of your own.
std::unique_ptr<spdlog::formatter> make_formatter();

} // namespace troupe::actors
