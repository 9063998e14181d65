#pragma once

// One job, from submission to its end: runs its tasks as a scope (a
// TaskGroup with the job's deadline), reports its status to whoever asks or
// watches, and cancels it on request. The jobs service creates one per
// submitted job and tells it when a slot is free.
//
// Protocol (`job_runner_actor`, all local):
//   (start_atom)                  a slot is free: run the tasks
//   (status_atom) -> JobStatus    the status now
//   (cancel_atom) -> JobStatus    cancels; answers once the job stopped
//                                 (every cancelled task ran its cleanup)
//   (await_atom) -> JobStatus     answers when the job ends, with its status
//   (watch_atom, status_feed_ptr) -> ok
//                                 feeds every status change to a watcher
//   (task_done_atom)              progress, from a task that finished
//   (scope_report)                from its scope: the job ended
// The runner quits once the job ended and the awaiting calls got their
// answer; a task never outlives it (the scope watches its owner).

#include <cstdint>
#include <string>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <troupe/supervisors/atoms.hpp>
#include <troupe/supervisors/scope_actor.hpp>
#include <troupe/supervisors/scope_report.hpp>

#include "jobs.pb.h"
#include "status_feed.hpp"

namespace jobs {

using start_atom = caf::atom_constant<caf::atom("job_start")>;
using status_atom = caf::atom_constant<caf::atom("job_status")>;
using cancel_atom = caf::atom_constant<caf::atom("job_cancel")>;
using watch_atom = caf::atom_constant<caf::atom("job_watch")>;
using task_done_atom = caf::atom_constant<caf::atom("job_tdone")>;
using troupe::supervisors::await_atom;

using job_runner_actor = caf::typed_actor<
  caf::reacts_to<start_atom>, caf::replies_to<status_atom>::with<v1::JobStatus>,
  caf::replies_to<cancel_atom>::with<v1::JobStatus>,
  caf::replies_to<await_atom>::with<v1::JobStatus>,
  caf::replies_to<watch_atom, status_feed_ptr>::with<caf::ok_atom>,
  caf::reacts_to<task_done_atom>, caf::reacts_to<troupe::supervisors::scope_report>>;

/// What a task reports to its scope before it ends (`report_task_result`),
/// as bits: the runner counts them from the scope's report, which has every
/// task's last word however the task ended.
enum task_bits : uint32_t {
  committed = 1,
  cleaned_up = 2,
};

class job_runner final : public job_runner_actor::base {
public:
  job_runner(caf::actor_config& cfg, uint64_t id, v1::JobSpec spec);

  const char* name() const override;

  behavior_type make_behavior() override;

private:
  bool ended() const noexcept;

  void start();

  void cancel();

  /// Sets the final state from the scope's report, then `finish`.
  void on_report(const troupe::supervisors::scope_report& report);

  /// The job ended: the watchers get the last status, the waiting calls
  /// their answer, and the runner quits.
  void finish();

  /// Tells the watchers the status changed.
  void changed();

  v1::JobSpec spec_;
  v1::JobStatus status_;
  troupe::supervisors::scope_actor scope_;
  bool cancel_requested_ = false;
  std::vector<status_feed_ptr> watchers_;
  std::vector<caf::typed_response_promise<v1::JobStatus>> waiting_;
};

} // namespace jobs
