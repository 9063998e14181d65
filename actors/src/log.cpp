#include "troupe/actors/log.hpp"

#include <mutex>

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace troupe::actors {

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
  result->set_pattern("[%H:%M:%S.%e] [%l] [%n] %v");
  return result;
}

} // namespace troupe::actors
