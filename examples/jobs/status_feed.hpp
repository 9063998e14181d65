#pragma once

// The status changes of one job, on their way from its runner to one
// watcher's stream: the runner pushes, the stream's producer pulls at the
// watcher's pace and waits (no polling) while nothing is new. Bounded by
// construction: a job changes status at most once per task plus a few
// times (queued, running, its end).
//
// Thread safety: the runner and the producer are different actors; every
// member is safe to call from any thread.

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/send.hpp>

#include <troupe/actors/credit.hpp>
#include <troupe/actors/flow/flow_output.hpp>

#include "jobs.pb.h"

namespace jobs {

class status_feed {
public:
  /// The producer that pulls this feed (known once it is spawned). Held
  /// weakly: the producer's source holds the feed.
  void attach(const caf::actor& producer) {
    std::lock_guard<std::mutex> guard{mtx_};
    producer_ = producer.address();
  }

  /// Adds a status; `last`: nothing follows it. Wakes the producer.
  void push(const v1::JobStatus& status, bool last) {
    caf::actor wake;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (closed_)
        return;
      items_.push_back(status);
      closed_ = last;
      wake = caf::actor_cast<caf::actor>(producer_);
    }
    if (wake)
      caf::anon_send(wake, troupe::actors::flow_resume_atom::value);
  }

  /// The producer's source: what is new, up to `demand`; `wait` while
  /// nothing is, `done` after the last status.
  troupe::actors::pull_status pull(size_t demand, std::vector<v1::JobStatus>& out) {
    std::lock_guard<std::mutex> guard{mtx_};
    while (out.size() < demand && !items_.empty()) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    if (items_.empty())
      return closed_ ? troupe::actors::pull_status::done : troupe::actors::pull_status::wait;
    return troupe::actors::pull_status::more;
  }

private:
  std::mutex mtx_;
  std::deque<v1::JobStatus> items_;
  bool closed_ = false;
  caf::actor_addr producer_;
};

using status_feed_ptr = std::shared_ptr<status_feed>;

} // namespace jobs

// A feed travels between local actors only (the runner is told to feed it).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobs::status_feed_ptr)
