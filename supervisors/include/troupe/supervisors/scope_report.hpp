#pragma once

/// What a scope hands its owner when its last task stopped: every task's
/// outcome, in start order, so no error is lost (Python's ExceptionGroup).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/message.hpp>
#include <caf/meta/type_name.hpp>

namespace troupe::supervisors {

/// How one task ended.
enum class task_status : uint8_t {
  /// It exited normally.
  succeeded,
  /// It exited with an error (or its start failed). The error is kept.
  failed,
  /// The scope cancelled it and it stopped with the cancellation (or was
  /// killed after the scope's cancel timeout), or it never started because
  /// the scope was already cancelling.
  cancelled,
};

/// Returns "succeeded", "failed" or "cancelled".
std::string to_string(task_status x);

/// One task's outcome.
struct task_outcome {
  /// The task's id.
  std::string id;
  /// How it ended.
  task_status status = task_status::succeeded;
  /// Its exit reason: none when it succeeded, the failure, or the
  /// cancellation (`stop_reason::cancelled`, or `exit_reason::kill` if it
  /// did not stop within the cancel timeout).
  caf::error reason;
  /// What the task reported with `report_task_result` (the last report);
  /// empty if it reported nothing. Kept whatever the status.
  caf::message result;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, task_outcome& x) {
  return f(caf::meta::type_name("troupe.task_outcome"), x.id, x.status, x.reason, x.result);
}

/// Every task's outcome, grouped by the scope that ran them.
struct scope_report {
  /// The scope's path.
  std::string scope;
  /// One entry per task, in start order.
  std::vector<task_outcome> outcomes;
  /// Why the scope was cancelled from outside (owner gone, shutdown, its
  /// deadline); none if it was not.
  caf::error cancelled_by;
  /// The first task that succeeded, in the order tasks ended; empty if none
  /// did. In `scope_mode::race`, the winner.
  std::string first_succeeded;

  /// True if every task succeeded and nobody cancelled the scope.
  bool ok() const noexcept;

  /// Returns how many tasks ended with `status`.
  size_t count(task_status status) const noexcept;

  /// Returns the failed tasks' outcomes, in start order.
  std::vector<task_outcome> failures() const;

  /// Returns the outcome of task `id`, or nullptr.
  const task_outcome* find(const std::string& id) const noexcept;

  /// The result task `id` reported, if it reported a `T` (TaskGroup
  /// results: `r.result_of<int>("a")`); nullptr otherwise.
  template <class T>
  const T* result_of(const std::string& id) const {
    auto* x = find(id);
    if (x == nullptr || !x->result.match_elements<T>())
      return nullptr;
    return &x->result.get_as<T>(0);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, scope_report& x) {
  return f(caf::meta::type_name("troupe.scope_report"), x.scope, x.outcomes, x.cancelled_by,
           x.first_succeeded);
}

} // namespace troupe::supervisors
