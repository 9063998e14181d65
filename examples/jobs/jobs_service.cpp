#include "jobs_service.hpp"

#include <string>
#include <utility>

#include <troupe/actors/producer.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/services/rpc_errc.hpp>

namespace jobs {

namespace {

using troupe::services::rpc_errc;

/// What a job may ask for: enough for a demo, bounded for a service.
caf::error validate(const v1::JobSpec& spec) {
  if (spec.tasks() == 0 || spec.tasks() > 1000)
    return caf::make_error(rpc_errc::invalid_argument, "tasks must be 1..1000");
  if (spec.task_ms() > 600'000 || spec.commit_ms() > 60'000)
    return caf::make_error(rpc_errc::invalid_argument,
                           "task_ms must be <= 600 000 and commit_ms <= 60 000");
  if (spec.fail_task() > spec.tasks())
    return caf::make_error(rpc_errc::invalid_argument, "fail_task names no task");
  return caf::none;
}

caf::error no_job(uint64_t id) {
  return caf::make_error(rpc_errc::not_found, "no job " + std::to_string(id));
}

} // namespace

jobs_service::jobs_service(jobs_config cfg) : cfg_(cfg) {
  // nop
}

troupe::services::reply<v1::JobRef> jobs_service::submit(troupe::services::server_call&,
                                                         const v1::JobSpec& spec) {
  if (auto err = validate(spec))
    return err;
  if (live_ >= cfg_.max_jobs)
    return caf::make_error(rpc_errc::resource_exhausted,
                           "already " + std::to_string(live_) + " jobs waiting or running");
  auto id = ++next_id_;
  // Linked: a runner does not outlive the service (nor its tasks the runner).
  auto runner = self()->spawn<job_runner, caf::linked>(id, spec);
  jobs_.emplace(id, job_entry{runner, false, 0, std::nullopt});
  ++live_;
  counts_.set_submitted(counts_.submitted() + 1);
  self()
    ->request(runner, caf::infinite, await_atom::value)
    .then([this, id](v1::JobStatus& final) { on_ended(id, std::move(final)); },
          [this, id](caf::error& err) {
            v1::JobStatus lost;
            lost.set_id(id);
            lost.set_state(v1::FAILED);
            lost.set_error("the job's runner died: " + troupe::messages::describe(err));
            on_ended(id, std::move(lost));
          });
  queue_.push_back(id);
  admit();
  v1::JobRef ref;
  ref.set_id(id);
  return ref;
}

const v1::JobStatus* jobs_service::final_of(uint64_t id) const {
  auto i = jobs_.find(id);
  return i != jobs_.end() && i->second.final ? &*i->second.final : nullptr;
}

template <class Atom>
troupe::services::reply<v1::JobStatus> jobs_service::ask(troupe::services::server_call& call,
                                                         uint64_t id, Atom what) {
  auto i = jobs_.find(id);
  if (i == jobs_.end())
    return no_job(id);
  if (i->second.final)
    return *i->second.final;
  auto later = call.defer<v1::JobStatus>();
  // A runner that ended has answered its `await` before it quit, so by the
  // time a request to it bounces, the final status is here.
  self()
    ->request(i->second.runner, caf::infinite, what)
    .then([later](v1::JobStatus& s) mutable { later.deliver(std::move(s)); },
          [this, id, later](caf::error& err) mutable {
            if (const auto* final = final_of(id))
              later.deliver(*final);
            else
              later.fail(std::move(err));
          });
  return later;
}

troupe::services::reply<v1::JobStatus>
jobs_service::status(troupe::services::server_call& call, const v1::JobRef& ref) {
  return ask(call, ref.id(), status_atom::value);
}

troupe::services::reply<v1::JobStatus>
jobs_service::cancel(troupe::services::server_call& call, const v1::JobRef& ref) {
  return ask(call, ref.id(), cancel_atom::value);
}

troupe::services::stream_reply<v1::JobStatus>
jobs_service::watch(troupe::services::server_call&, const v1::JobRef& ref) {
  auto i = jobs_.find(ref.id());
  if (i == jobs_.end())
    return no_job(ref.id());
  // [cookbook:watch_stream]
  auto feed = std::make_shared<status_feed>();
  auto producer = troupe::actors::spawn_producer<v1::JobStatus>(
    *self(), troupe::actors::producer_config{},
    [feed](size_t demand, std::vector<v1::JobStatus>& out) {
      return feed->pull(demand, out);
    });
  if (!producer)
    return caf::make_error(rpc_errc::internal,
                           "cannot start the watch: "
                             + troupe::messages::describe(producer.error()));
  feed->attach(*producer);
  if (i->second.final) {
    feed->push(*i->second.final, true);
  } else if (++i->second.watchers > cfg_.max_watchers) {
    caf::anon_send_exit(*producer, caf::exit_reason::user_shutdown);
    return caf::make_error(rpc_errc::resource_exhausted,
                           "job " + std::to_string(ref.id()) + " has "
                             + std::to_string(cfg_.max_watchers) + " watchers already");
  } else {
    // A runner that ended meanwhile bounces the request: the final status,
    // here by then, closes the feed.
    self()
      ->request(i->second.runner, caf::infinite, watch_atom::value, feed)
      .then([](caf::ok_atom) {},
            [this, id = ref.id(), feed](caf::error&) {
              if (const auto* final = final_of(id))
                feed->push(*final, true);
            });
  }
  // Owned: stopped if the caller never subscribes, and with the service.
  return troupe::services::stream_reply<v1::JobStatus>::owned(std::move(*producer));
  // [/cookbook:watch_stream]
}

troupe::services::reply<v1::JobsSummary> jobs_service::summary(troupe::services::server_call&,
                                                               const v1::SummaryRequest&) {
  auto result = counts_;
  result.set_running(running_);
  result.set_queued(live_ - running_);
  return result;
}

void jobs_service::on_stop() {
  for (auto& [id, job] : jobs_)
    if (job.runner)
      caf::anon_send(job.runner, cancel_atom::value);
}

// [cookbook:admit]
void jobs_service::admit() {
  while (running_ < cfg_.max_running && !queue_.empty()) {
    auto id = queue_.front();
    queue_.pop_front();
    auto i = jobs_.find(id);
    if (i == jobs_.end() || i->second.final)
      continue; // cancelled while queued
    i->second.started = true;
    ++running_;
    self()->send(i->second.runner, start_atom::value);
  }
}
// [/cookbook:admit]

void jobs_service::on_ended(uint64_t id, v1::JobStatus final) {
  auto i = jobs_.find(id);
  if (i == jobs_.end())
    return;
  if (i->second.started)
    --running_;
  switch (final.state()) {
    case v1::DONE:
      counts_.set_done(counts_.done() + 1);
      break;
    case v1::CANCELLED:
      counts_.set_cancelled(counts_.cancelled() + 1);
      break;
    case v1::TIMED_OUT:
      counts_.set_timed_out(counts_.timed_out() + 1);
      break;
    default:
      counts_.set_failed(counts_.failed() + 1);
      break;
  }
  counts_.set_cleanup_ran(counts_.cleanup_ran() + final.cleanups());
  i->second.final = std::move(final);
  i->second.runner = nullptr;
  --live_;
  ended_.push_back(id);
  while (ended_.size() > cfg_.kept_ended) {
    jobs_.erase(ended_.front());
    ended_.pop_front();
  }
  admit();
}

} // namespace jobs
