#pragma once

/// Troupe's logging: spdlog loggers named after the component that logs.
///
/// Every Troupe logger writes to stderr, one line per record, in one of two
/// formats (`log_format`):
///
///  - text (default):
///    `[time] [level] [logger] [actor=…] [trace=… span=… left=… attempt=… req=…] message`
///  - json: one object per line,
///    `{"time":"2026-11-30T10:14:44.123Z","level":"info","logger":"warehouse",
///      "msg":"quoting apple x3","actor":"shop/pricing","method":"/shop.v1.Pricing/Quote",
///      "trace_id":"4bf9…","span_id":"00f0…","request_id":"4bf9…",
///      "deadline_left_ms":1873.2,"attempt":1}`
///
/// The bracketed parts (JSON: the keys after "msg") appear only where they
/// are known: the actor path while a Troupe actor that knows its place in
/// the tree handles a message (`actor_path.hpp`; a service under a
/// supervisor does), the call context while the thread handles a call
/// (`call_context.hpp`; `left` is the time to its deadline on the handling
/// actor's clock, shown when the scope named that clock, as a service's
/// dispatch does; `attempt` in text only from the second try on, in JSON
/// always). A component passes its path (for a
/// supervisor, its position in the tree) as the logger name, so every line carries where it
/// came from.
///
/// Levels follow `SPDLOG_LEVEL` (see `system_config`); the default is
/// `info`. The format follows `TROUPE_LOG_FORMAT` (`text` or `json`) in the
/// environment, or `set_log_format`.

#include <memory>
#include <string>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>

#include "troupe/actors/actor_path.hpp"

namespace troupe::actors {

enum class log_format {
  /// Human-readable lines (above).
  text,
  /// One JSON object per line, for log pipelines.
  json,
};

/// Returns the logger named `name`, creating it on first use.
/// Thread-safe.
std::shared_ptr<spdlog::logger> logger(const std::string& name = "troupe");

/// A formatter for the current format, for a logger or sink of your own.
std::unique_ptr<spdlog::formatter> make_formatter();

/// A formatter for `format`.
std::unique_ptr<spdlog::formatter> make_formatter(log_format format);

/// Switches every Troupe logger, existing and future, to `format`.
/// Thread-safe.
void set_log_format(log_format format);

/// The format in use: `TROUPE_LOG_FORMAT` until `set_log_format`.
log_format current_log_format();

} // namespace troupe::actors
