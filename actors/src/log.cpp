#include "troupe/actors/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <spdlog/cfg/env.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "troupe/actors/call_context.hpp"
#include "troupe/actors/human_units.hpp"

namespace troupe::actors {

namespace {

/// The format every logger gets; read from TROUPE_LOG_FORMAT once.
std::atomic<log_format>& format_in_use() {
  static std::atomic<log_format> instance{[] {
    const char* env = std::getenv("TROUPE_LOG_FORMAT");
    return env != nullptr && std::string_view{env} == "json" ? log_format::json
                                                             : log_format::text;
  }()};
  return instance;
}

void append(std::string_view x, spdlog::memory_buf_t& dest) {
  dest.append(x.data(), x.data() + x.size());
}

/// Time to the deadline of the current context, if it has one and its
/// scope named the clock to measure it on (the handling actor's: virtual
/// time in a deterministic test).
std::optional<caf::timespan> left_of(const call_context& ctx) {
  const auto* clock = current_call_clock();
  if (!ctx.has_deadline() || clock == nullptr)
    return std::nullopt;
  return ctx.remaining(clock->now());
}

/// `%*`: "[actor=<path>] " while a Troupe actor that knows its path handles
/// a message, then "[trace=<id> span=<id> left=<time> attempt=<n>
/// req=<id>] " while the thread handles a call (`left` with a deadline,
/// `attempt` from 2 on); nothing otherwise. Formatting runs on the thread
/// that logs (Troupe's loggers are synchronous), so the thread's current
/// context is the one of the line.
class context_flag final : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (const auto* path = current_actor_path()) {
      append("[actor=", dest);
      append(*path, dest);
      append("] ", dest);
    }
    const auto* ctx = current_call_context();
    if (ctx == nullptr)
      return;
    append("[trace=", dest);
    append(ctx->trace_id, dest);
    append(" span=", dest);
    append(ctx->span_id, dest);
    if (auto left = left_of(*ctx)) {
      append(" left=", dest);
      append(human_duration(*left), dest);
    }
    if (ctx->attempt > 1) {
      append(" attempt=", dest);
      append(std::to_string(ctx->attempt), dest);
    }
    append(" req=", dest);
    append(ctx->request_id, dest);
    append("] ", dest);
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<context_flag>();
  }
};

/// One JSON object per record (nlohmann::json; text that is not UTF-8 is
/// replaced, never thrown on: a log line must not kill its actor).
class json_formatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    auto since_epoch = msg.time.time_since_epoch();
    auto secs = duration_cast<seconds>(since_epoch);
    auto millis = duration_cast<milliseconds>(since_epoch - secs).count();
    std::time_t t = secs.count();
    std::tm utc{};
    gmtime_r(&t, &utc);
    char stamp[32];
    auto n = std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(stamp + n, sizeof(stamp) - n, ".%03dZ", static_cast<int>(millis));
    auto level = spdlog::level::to_string_view(msg.level);
    // Ordered: time, level, logger and message first, as a person reads.
    nlohmann::ordered_json out{
      {"time", stamp},
      {"level", std::string{level.data(), level.size()}},
      {"logger", std::string{msg.logger_name.data(), msg.logger_name.size()}},
      {"msg", std::string{msg.payload.data(), msg.payload.size()}}};
    if (const auto* path = current_actor_path())
      out["actor"] = *path;
    if (const auto* ctx = current_call_context()) {
      out["method"] = ctx->method;
      out["trace_id"] = ctx->trace_id;
      out["span_id"] = ctx->span_id;
      out["request_id"] = ctx->request_id;
      if (auto left = left_of(*ctx))
        out["deadline_left_ms"] = std::chrono::duration<double, std::milli>(*left).count();
      out["attempt"] = ctx->attempt;
    }
    auto text = out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    append(text, dest);
    append("\n", dest);
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }
};

} // namespace

std::unique_ptr<spdlog::formatter> make_formatter(log_format format) {
  if (format == log_format::json)
    return std::make_unique<json_formatter>();
  auto result = std::make_unique<spdlog::pattern_formatter>();
  result->add_flag<context_flag>('*').set_pattern("[%H:%M:%S.%e] [%l] [%n] %*%v");
  return result;
}

std::unique_ptr<spdlog::formatter> make_formatter() {
  return make_formatter(current_log_format());
}

log_format current_log_format() {
  return format_in_use().load();
}

namespace {

/// The loggers `logger` made (only those are switched by `set_log_format`:
/// a user's own loggers and sinks keep their formatters).
struct troupe_loggers {
  std::mutex mtx; // also: spdlog::register_logger throws on a duplicate name
  std::vector<std::weak_ptr<spdlog::logger>> made;
};

troupe_loggers& loggers() {
  static troupe_loggers instance;
  return instance;
}

} // namespace

void set_log_format(log_format format) {
  auto& all = loggers();
  std::lock_guard<std::mutex> guard{all.mtx};
  format_in_use() = format;
  for (auto& weak : all.made)
    if (auto l = weak.lock())
      l->set_formatter(make_formatter(format));
}

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  static std::once_flag env_levels;
  std::call_once(env_levels, [] { spdlog::cfg::load_env_levels(); });
  if (auto existing = spdlog::get(name))
    return existing;
  auto& all = loggers();
  std::lock_guard<std::mutex> guard{all.mtx};
  if (auto existing = spdlog::get(name))
    return existing;
  // Registered loggers take the level SPDLOG_LEVEL gave their name. The
  // formatter is set under the lock `set_log_format` takes: no logger
  // misses a switch.
  auto result = spdlog::stderr_color_mt(name);
  result->set_formatter(make_formatter());
  all.made.push_back(result);
  return result;
}

} // namespace troupe::actors
