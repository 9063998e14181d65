#include "troupe/actors/actor_path.hpp"

namespace troupe::actors {

namespace {

thread_local const std::string* current_path = nullptr;

} // namespace

actor_path_scope::actor_path_scope(const std::string& path) noexcept
  : previous_(current_path) {
  current_path = &path;
}

actor_path_scope::~actor_path_scope() {
  current_path = previous_;
}

const std::string* current_actor_path() noexcept {
  return current_path;
}

} // namespace troupe::actors
