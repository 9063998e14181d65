#pragma once

/// A scope (Python's TaskGroup, Trio's nursery): tasks that run together and
/// are awaited together. The first failure cancels the others; each cancelled
/// task runs its cleanup; the owner receives every outcome, grouped.
///
/// Usage:
///   scope_config cfg;
///   cfg.name = "fetch";
///   cfg.owner = caf::actor_cast<caf::actor>(self);
///   for (auto& url : urls)
///     cfg.tasks.push_back({url, spawn_with(fetch_task, url)});
///   auto s = spawn_scope(self->system(), cfg); // expected<scope_actor>
///   // later, in self's behavior:
///   [=](const scope_report& r) { if (!r.ok()) for (auto& f : r.failures()) … }
///
/// Protocol: `scope_actor` (`scope_actor.hpp`), a typed interface.
///
/// Semantics:
/// - Tasks start in order when the scope starts; more may join with
///   `(start_child_atom, task_spec)` while any task runs.
/// - A task succeeds by exiting normally and fails by exiting with an error.
/// - `cancel_on_failure`: the first failure sends every running task an exit
///   message with `stop_reason::cancelled` (context: the failed task's id and
///   its error). A task using `cancellation` runs its cleanup hooks with that
///   reason, after its shields close. A task still running `cancel_timeout`
///   after its cancellation is killed.
/// - `isolate` (Kotlin's SupervisorJob): failures are only recorded; the
///   other tasks run to completion.
/// - When the last task stopped, the scope sends its `scope_report` to the
///   owner and to every `(await_atom)` request, then exits: normally if
///   every task succeeded, with `supervisor_errc::scope_failed` if one
///   failed, with the external reason if it was cancelled from outside.
/// - The scope monitors its owner: if the owner dies, every task is
///   cancelled. An exit message to the scope (e.g. its supervisor's shutdown)
///   cancels every task with that reason. No task outlives its scope.
/// - `deadline` (asyncio's `timeout()` around a TaskGroup): when it passes
///   with tasks still running, they are cancelled (`stop_reason::cancelled`
///   with the deadline as cause) and the scope exits with
///   `flow_errc::deadline_exceeded`; the report's `cancelled_by` says so.
/// - Results: a task reports a value with `report_task_result` before it
///   ends; the report keeps it in `task_outcome::result`
///   (`report.result_of<T>(id)`). A task started by `spawn_task` gets its
///   scope as its second argument.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/local_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/send.hpp>
#include <caf/timespan.hpp>

#include <troupe/actors/flow_errc.hpp>

#include "troupe/supervisors/scope_actor.hpp"
#include "troupe/supervisors/scope_report.hpp"
#include "troupe/supervisors/task_spec.hpp"

namespace troupe::supervisors {

/// What a failure does to the other tasks.
enum class scope_mode : uint8_t {
  /// The first failure cancels every other task (TaskGroup, nursery).
  cancel_on_failure,
  /// A failure cancels nothing; every task runs to its end (SupervisorJob).
  isolate,
  /// The first task that succeeds cancels the others (asyncio's "first
  /// completed, cancel the pending"); failures cancel nothing. The report
  /// names the winner (`scope_report::first_succeeded`).
  race,
};

/// Returns "cancel_on_failure", "isolate" or "race".
std::string to_string(scope_mode x);

struct scope_config {
  /// The scope's name and path (and logger name). Must not be empty or
  /// contain '/'. Default "scope".
  std::string name = "scope";
  /// What a failure does to the other tasks. Default cancel_on_failure.
  scope_mode mode = scope_mode::cancel_on_failure;
  /// How long a cancelled task may take to run its cleanup (shields
  /// included) before it is killed. Must be >= 0. Default 5 s.
  caf::timespan cancel_timeout = std::chrono::seconds{5};
  /// The tasks started with the scope, in order. Default none (the scope
  /// then reports at once).
  std::vector<task_spec> tasks;
  /// Receives the `scope_report`; monitored: if it dies, the scope cancels
  /// every task. Optional.
  caf::actor owner;
  /// Time the whole group has, from the scope's start; 0: no deadline.
  /// Default 0.
  caf::timespan deadline{0};
  /// Whether the owner gets the report as a message. false: the owner is
  /// only watched (its death cancels the tasks); ask with `(await_atom)`.
  /// Default true.
  bool report_to_owner = true;

  /// Returns `invalid_config` or `duplicate_child_id` naming the bad field, or
  /// none.
  caf::error validate() const;
};

/// Validates `cfg` and spawns the scope; returns the typed validation error
/// instead of spawning when `cfg` is invalid.
caf::expected<scope_actor> spawn_scope(caf::actor_system& sys, scope_config cfg);

/// Same, with the scope at `path` (e.g. `start_context::path` when a
/// supervisor starts the scope) instead of `cfg.name`.
caf::expected<scope_actor> spawn_scope(caf::actor_system& sys, scope_config cfg,
                                       std::string path);

/// From a task: reports `value` as its result to `scope` (the task's
/// `start_context::parent`). Call it before the task ends; a later report
/// replaces an earlier one.
template <class T>
void report_task_result(caf::local_actor* task, const caf::actor& scope, T value) {
  caf::unsafe_send_as(task, scope, task_result_atom::value,
                      caf::make_message(std::move(value)));
}

/// Runs `tasks` as a race (a scope in `scope_mode::race`, owned by `self`)
/// and calls `done`, in `self`, once every task stopped: with the result the
/// first successful task reported, or `flow_errc::deadline_exceeded` if
/// `deadline` (0: none) passed first, or `flow_errc::all_failed` with every
/// error. Unlike `actors::first_success`, which can only ignore the answers
/// of requests it cannot withdraw, the losers are cancelled: each runs its
/// cleanup (and is killed after `cancel_timeout`) before `done` runs. Tasks
/// report with `report_task_result` (see `spawn_task`).
template <class Result>
void first_success(caf::event_based_actor* self, std::vector<task_spec> tasks,
                   caf::timespan deadline, std::function<void(caf::expected<Result>)> done,
                   caf::timespan cancel_timeout = std::chrono::seconds{5}) {
  scope_config cfg;
  cfg.name = "first_success";
  cfg.mode = scope_mode::race;
  cfg.deadline = deadline;
  cfg.cancel_timeout = cancel_timeout;
  cfg.tasks = std::move(tasks);
  cfg.owner = caf::actor_cast<caf::actor>(self);
  cfg.report_to_owner = false;
  auto scope = spawn_scope(self->system(), std::move(cfg));
  if (!scope) {
    done(std::move(scope.error()));
    return;
  }
  self->request(*scope, caf::infinite, await_atom::value)
    .then(
      [done, self](const scope_report& r) {
        if (auto* x =
              r.first_succeeded.empty() ? nullptr : r.result_of<Result>(r.first_succeeded)) {
          done(*x);
          return;
        }
        if (r.cancelled_by) {
          done(r.cancelled_by); // the deadline, or the owner's shutdown
          return;
        }
        std::string all;
        for (auto& o : r.outcomes) {
          if (!all.empty())
            all += "; ";
          all += o.id + ": "
            + (o.reason ? self->system().render(o.reason)
                        : std::string{"succeeded without a result"});
        }
        done(caf::make_error(actors::flow_errc::all_failed, std::move(all)));
      },
      [done](caf::error& err) { done(std::move(err)); });
}

/// A start function for a task that reports a result: spawns
/// `fun(self, scope, xs...)`, with `scope` the scope's handle.
template <class F, class... Ts>
start_function spawn_task(F fun, Ts... xs) {
  return [=](const start_context& ctx) -> caf::expected<caf::actor> {
    return ctx.system.spawn(fun, ctx.parent, xs...);
  };
}

} // namespace troupe::supervisors
