#pragma once

/// One task of a scope: an id and how to start it.
///
/// Usage:
///   task_spec{url, spawn_with(fetch_task, url)}

#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>

#include "troupe/supervisors/start_function.hpp"

namespace troupe::supervisors {

/// One task of a scope.
struct task_spec {
  /// Unique within the scope; part of the task's path. Must not be empty or
  /// contain '/'.
  std::string id;
  /// Spawns the task. Required.
  start_function start;

  /// Returns `invalid_config` naming the bad field, or none.
  caf::error validate() const;
};

} // namespace troupe::supervisors

// Task specs travel in local messages (`start_child`); they hold a function.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::supervisors::task_spec)
