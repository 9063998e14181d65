#include "job_runner.hpp"

#include <chrono>
#include <memory>
#include <utility>

#include <troupe/actors/flow_errc.hpp>
#include <troupe/actors/log.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/services/rpc_errc.hpp>
#include <troupe/supervisors/cancellation.hpp>
#include <troupe/supervisors/scope.hpp>
#include <troupe/supervisors/stop_reason.hpp>

namespace jobs {

namespace {

using namespace std::chrono_literals;
using troupe::supervisors::cancellation;

using work_done_atom = caf::atom_constant<caf::atom("job_work")>;
using commit_atom = caf::atom_constant<caf::atom("job_commit")>;

/// What one task does.
struct task_plan {
  uint32_t number = 0; // 1-based
  caf::timespan work{0};
  caf::timespan commit{0};
  bool fails = false;
};

/// One task: works for `plan.work` (a timer: the scheduler's threads never
/// sleep), then commits for `plan.commit` inside a shield, which a
/// cancellation waits for: a commit is never torn. A cancelled task runs
/// its cleanup. Whatever happened, it tells its scope (committed, cleaned
/// up) before it ends.
// [cookbook:shielded_task]
caf::behavior job_task(caf::event_based_actor* self, caf::actor scope, job_runner_actor runner,
                       task_plan plan) {
  auto c = cancellation::install(self);
  auto bits = std::make_shared<uint32_t>(0);
  c->on_cleanup([self, scope, bits](const caf::error& why) {
    if (why == troupe::supervisors::stop_reason::cancelled)
      *bits |= task_bits::cleaned_up;
    troupe::supervisors::report_task_result(self, scope, *bits);
  });
  self->delayed_send(self, plan.work, work_done_atom::value);
  return {
    [=](work_done_atom) {
      if (plan.fails) {
        c->fail(caf::make_error(troupe::services::rpc_errc::aborted,
                                "task " + std::to_string(plan.number) + " failed (as asked)"));
        return;
      }
      // The critical section: bounded, so a stuck commit cannot hold a
      // cancellation forever.
      auto shield = c->shield(plan.commit + 5s);
      self->delayed_send(self, plan.commit, commit_atom::value, shield);
    },
    [=](commit_atom, cancellation::shield_id shield) {
      *bits |= task_bits::committed;
      if (!c->cancelled())
        self->send(runner, task_done_atom::value);
      c->unshield(shield); // a pending cancellation runs the cleanup now
      if (!c->cancelled())
        c->finish();
    },
  };
}
// [/cookbook:shielded_task]

v1::JobState final_state(const troupe::supervisors::scope_report& report,
                         bool cancel_requested) {
  if (report.ok())
    return v1::DONE;
  if (cancel_requested)
    return v1::CANCELLED;
  if (report.cancelled_by == troupe::actors::flow_errc::deadline_exceeded)
    return v1::TIMED_OUT;
  return v1::FAILED;
}

} // namespace

job_runner::job_runner(caf::actor_config& cfg, uint64_t id, v1::JobSpec spec)
  : job_runner_actor::base(cfg), spec_(std::move(spec)) {
  status_.set_id(id);
  status_.set_name(spec_.name());
  status_.set_state(v1::QUEUED);
  status_.set_tasks(spec_.tasks());
}

const char* job_runner::name() const {
  return "jobs.runner";
}

job_runner::behavior_type job_runner::make_behavior() {
  return {
    [this](start_atom) { start(); },
    [this](status_atom) { return status_; },
    [this](cancel_atom) -> caf::result<v1::JobStatus> {
      if (ended())
        return status_;
      auto rp = make_response_promise<v1::JobStatus>();
      waiting_.push_back(rp);
      cancel();
      return rp;
    },
    [this](await_atom) -> caf::result<v1::JobStatus> {
      if (ended())
        return status_;
      auto rp = make_response_promise<v1::JobStatus>();
      waiting_.push_back(rp);
      return rp;
    },
    [this](watch_atom, status_feed_ptr& feed) {
      feed->push(status_, ended());
      if (!ended())
        watchers_.push_back(std::move(feed));
      return caf::ok_atom::value;
    },
    [this](task_done_atom) {
      if (ended())
        return;
      status_.set_tasks_done(status_.tasks_done() + 1);
      changed();
    },
    [this](const troupe::supervisors::scope_report& report) { on_report(report); },
  };
}

bool job_runner::ended() const noexcept {
  return status_.state() != v1::QUEUED && status_.state() != v1::RUNNING;
}

void job_runner::start() {
  if (status_.state() != v1::QUEUED)
    return; // cancelled while queued
  troupe::supervisors::scope_config cfg;
  cfg.name = "job-" + std::to_string(status_.id());
  cfg.owner = caf::actor_cast<caf::actor>(this);
  cfg.deadline = std::chrono::milliseconds{spec_.deadline_ms()};
  cfg.cancel_timeout = std::chrono::milliseconds{spec_.commit_ms()} + 5s;
  auto me = job_runner_actor{this};
  for (uint32_t i = 1; i <= spec_.tasks(); ++i) {
    task_plan plan{i, std::chrono::milliseconds{spec_.task_ms()},
                   std::chrono::milliseconds{spec_.commit_ms()}, i == spec_.fail_task()};
    cfg.tasks.push_back(
      {"task-" + std::to_string(i), troupe::supervisors::spawn_task(job_task, me, plan)});
  }
  auto scope = troupe::supervisors::spawn_scope(system(), std::move(cfg));
  if (!scope) {
    status_.set_state(v1::FAILED);
    status_.set_error("cannot start the job: " + troupe::messages::describe(scope.error()));
    return finish();
  }
  scope_ = std::move(*scope);
  status_.set_state(v1::RUNNING);
  changed();
}

void job_runner::cancel() {
  cancel_requested_ = true;
  if (status_.state() == v1::QUEUED) {
    status_.set_state(v1::CANCELLED);
    return finish();
  }
  // The scope cancels every task (each runs its cleanup after its shield
  // closes) and then reports: `on_report` answers the waiting calls.
  send_exit(
    scope_,
    troupe::supervisors::make_cancelled(
      "client",
      caf::make_error(troupe::services::rpc_errc::cancelled, "cancelled by a client")));
}

void job_runner::on_report(const troupe::supervisors::scope_report& report) {
  uint32_t done = 0;
  uint32_t cleanups = 0;
  uint32_t commits = 0;
  for (const auto& outcome : report.outcomes) {
    if (outcome.status == troupe::supervisors::task_status::succeeded)
      ++done;
    auto* bits = report.result_of<uint32_t>(outcome.id);
    if (bits != nullptr && (*bits & task_bits::cleaned_up) != 0)
      ++cleanups;
    if (bits != nullptr && (*bits & task_bits::committed) != 0)
      ++commits;
  }
  status_.set_tasks_done(done);
  status_.set_cleanups(cleanups);
  status_.set_commits(commits);
  status_.set_state(final_state(report, cancel_requested_));
  if (status_.state() == v1::FAILED) {
    auto failures = report.failures();
    status_.set_error(failures.empty() ? troupe::messages::describe(report.cancelled_by)
                                       : troupe::messages::describe(failures.front().reason));
  } else if (status_.state() == v1::TIMED_OUT) {
    status_.set_error("deadline of " + std::to_string(spec_.deadline_ms()) + " ms passed");
  }
  finish();
}

void job_runner::finish() {
  for (auto& feed : watchers_)
    feed->push(status_, true);
  watchers_.clear();
  for (auto& rp : waiting_)
    rp.deliver(status_);
  waiting_.clear();
  troupe::actors::logger("jobs")->info(
    "job {} ({}) ended: {} ({}/{} tasks, {} cleanups)", status_.id(), status_.name(),
    v1::JobState_Name(status_.state()), status_.tasks_done(), status_.tasks(),
    status_.cleanups());
  quit();
}

void job_runner::changed() {
  for (auto& feed : watchers_)
    feed->push(status_, false);
}

} // namespace jobs
