#pragma once

// The Jobs service: accepts jobs, runs at most `max_running` at once (the
// rest wait in submission order: a semaphore around jobs), and answers
// questions about them. Each job runs in its own runner (job_runner.hpp);
// the service keeps the queue, the final statuses and the counters.
//
// Bounds: at most `max_jobs` jobs wait or run; a submission beyond is
// refused with `resource_exhausted`, never queued without end. The final
// status of the last `kept_ended` jobs is kept for Status and Watch (older
// ones answer `not_found`); a running job has at most `max_watchers` Watch
// streams.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>

#include <troupe/services/reply.hpp>
#include <troupe/services/stream_reply.hpp>

#include "job_runner.hpp"
#include "jobs.pb.h"

namespace jobs {

struct jobs_config {
  /// Jobs running at once.
  uint32_t max_running = 4;
  /// Jobs waiting or running at most.
  uint32_t max_jobs = 10'000;
  /// Ended jobs whose final status is kept.
  uint32_t kept_ended = 10'000;
  /// Watch streams per running job.
  uint32_t max_watchers = 64;
};

class jobs_service final : public v1::Jobs::Service {
public:
  explicit jobs_service(jobs_config cfg);

  troupe::services::reply<v1::JobRef> submit(troupe::services::server_call& call,
                                             const v1::JobSpec& spec) override;

  troupe::services::reply<v1::JobStatus> status(troupe::services::server_call& call,
                                                const v1::JobRef& ref) override;

  troupe::services::reply<v1::JobStatus> cancel(troupe::services::server_call& call,
                                                const v1::JobRef& ref) override;

  troupe::services::stream_reply<v1::JobStatus> watch(troupe::services::server_call& call,
                                                      const v1::JobRef& ref) override;

  troupe::services::reply<v1::JobsSummary> summary(troupe::services::server_call& call,
                                                   const v1::SummaryRequest& req) override;

  /// Cancels every job: a job never outlives the service.
  void on_stop() override;

private:
  struct job_entry {
    /// Null once the job ended.
    job_runner_actor runner;
    bool started = false;
    uint32_t watchers = 0;
    /// Set once the job ended (its runner is gone).
    std::optional<v1::JobStatus> final;
  };

  /// Answers `call` with job `id`'s status: `not_found`, its final status
  /// once it ended, else what its runner answers to `what` (a runner that
  /// ended meanwhile: the final status).
  template <class Atom>
  troupe::services::reply<v1::JobStatus> ask(troupe::services::server_call& call, uint64_t id,
                                             Atom what);

  /// The final status of job `id`, if it ended and is still kept.
  const v1::JobStatus* final_of(uint64_t id) const;

  /// Starts queued jobs while slots are free.
  void admit();

  void on_ended(uint64_t id, v1::JobStatus final);

  jobs_config cfg_;
  std::map<uint64_t, job_entry> jobs_;
  std::deque<uint64_t> queue_;
  /// Ended jobs, oldest first (dropped beyond `kept_ended`).
  std::deque<uint64_t> ended_;
  /// Jobs waiting or running.
  uint32_t live_ = 0;
  uint32_t running_ = 0;
  uint64_t next_id_ = 0;
  v1::JobsSummary counts_;
};

} // namespace jobs
