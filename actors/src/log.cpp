#include "troupe/actors/log.hpp"

#include <mutex>

#include <spdlog/cfg/env.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "troupe/actors/call_context.hpp"

namespace troupe::actors {

namespace {

/// `%*`: "[trace=<id> span=<id> req=<id>] " while the logging thread handles
/// a call (`current_call_context`), nothing otherwise. Formatting runs on the
/// thread that logs (Troupe's loggers are synchronous), so the thread's
/// current context is the one of the line.
class call_context_flag final : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto* ctx = current_call_context();
    if (ctx == nullptr)
      return;
    append("[trace=", dest);
    append(ctx->trace_id, dest);
    append(" span=", dest);
    append(ctx->span_id, dest);
    append(" req=", dest);
    append(ctx->request_id, dest);
    append("] ", dest);
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<call_context_flag>();
  }

private:
  static void append(std::string_view x, spdlog::memory_buf_t& dest) {
    dest.append(x.data(), x.data() + x.size());
  }
};

} // namespace

std::unique_ptr<spdlog::formatter> make_formatter() {
  auto result = std::make_unique<spdlog::pattern_formatter>();
  result->add_flag<call_context_flag>('*').set_pattern("[%H:%M:%S.%e] [%l] [%n] %*%v");
  return result;
}

std::shared_ptr<spdlog::logger> logger(const std::string& name) {
  static std::once_flag env_levels;
  std::call_once(env_levels, [] { spdlog::cfg::load_env_levels(); });
  if (auto existing = spdlog::get(name))
    return existing;
  static std::mutex mtx; // spdlog::register_logger throws on a duplicate name
  std::lock_guard<std::mutex> guard{mtx};
  if (auto existing = spdlog::get(name))
    return existing;
  // Registered loggers take the level SPDLOG_LEVEL gave their name.
  auto result = spdlog::stderr_color_mt(name);
  result->set_formatter(make_formatter());
  return result;
}

} // namespace troupe::actors
