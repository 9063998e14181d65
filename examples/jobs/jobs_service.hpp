#pragma once

// The Jobs service: accepts jobs, runs at most `max_running` at once (the
// rest wait in submission order: a semaphore around jobs), and answers
// questions about them. Each job runs in its own runner (job_runner.hpp);
// the service keeps the queue, the final statuses and the counters.
//
// Bounds: `max_jobs` jobs are kept (running, queued or ended); a submission
// beyond is refused with `resource_exhausted`, never queued without end.

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
  /// Jobs kept at most (running, queued and ended).
  uint32_t max_jobs = 10'000;
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
    job_runner_actor runner;
    bool started = false;
    /// Set once the job ended (its runner is gone).
    std::optional<v1::JobStatus> final;
  };

  /// Asks the runner of `id` with `what` and answers `call` with its status.
  template <class Atom>
  troupe::services::reply<v1::JobStatus> ask(troupe::services::server_call& call,
                                             job_entry& job, Atom what);

  /// Starts queued jobs while slots are free.
  void admit();

  void on_ended(uint64_t id, v1::JobStatus final);

  jobs_config cfg_;
  std::map<uint64_t, job_entry> jobs_;
  std::deque<uint64_t> queue_;
  uint32_t running_ = 0;
  uint64_t next_id_ = 0;
  v1::JobsSummary counts_;
};

} // namespace jobs
