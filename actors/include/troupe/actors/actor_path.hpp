#pragma once

/// The actor path current on a thread: where in the supervision tree the
/// code that runs now lives (e.g. "shop/shop.v1.Pricing"). Troupe's log
/// lines carry it (`log.hpp`); a service's dispatch makes its path current
/// while a method runs, and its reply handlers restore it.

#include <string>

namespace troupe::actors {

/// Makes `path` the actor path of this thread for its lifetime, then
/// restores the previous one (scopes nest). `path` must outlive the scope.
class actor_path_scope {
public:
  explicit actor_path_scope(const std::string& path) noexcept;
  ~actor_path_scope();
  actor_path_scope(const actor_path_scope&) = delete;
  actor_path_scope& operator=(const actor_path_scope&) = delete;

private:
  const std::string* previous_;
};

/// The actor path current on this thread, or null.
const std::string* current_actor_path() noexcept;

} // namespace troupe::actors
