#pragma once

/// `member_watch`: records the member events a cluster sends, for tests and
/// benchmarks on real threads: `await` blocks until a predicate over what
/// was seen holds (a condition variable, no sleeps), bounded by a timeout.
///
///   troupe::testing::member_watch watch{sys, cluster};
///   REQUIRE(watch.await_state(other_id, troupe::cluster::member_state::up));

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <troupe/cluster/cluster.hpp>
#include <troupe/cluster/member_event.hpp>

namespace troupe::testing {

class member_watch {
public:
  using clock = std::chrono::steady_clock;

  struct seen {
    cluster::member_event event;
    clock::time_point at;
  };

  member_watch(caf::actor_system& sys, cluster::cluster& c) : st_(std::make_shared<state>()) {
    recorder_ = sys.spawn([st = st_]() -> caf::behavior {
      return {[st](const cluster::member_event& ev) {
        std::lock_guard<std::mutex> guard{st->mtx};
        st->events.push_back(seen{ev, clock::now()});
        st->cv.notify_all();
      }};
    });
    c.subscribe(recorder_);
  }

  ~member_watch() {
    caf::anon_send_exit(recorder_, caf::exit_reason::user_shutdown);
  }

  /// Waits until `pred(events)` holds; false after `timeout`.
  bool await(const std::function<bool(const std::vector<seen>&)>& pred,
             std::chrono::milliseconds timeout = std::chrono::seconds{30}) {
    std::unique_lock<std::mutex> guard{st_->mtx};
    return st_->cv.wait_for(guard, timeout, [&] { return pred(st_->events); });
  }

  /// Waits until member `id` was seen in `state` (after `since` events).
  bool await_state(const std::string& id, cluster::member_state state,
                   std::chrono::milliseconds timeout = std::chrono::seconds{30},
                   size_t since = 0) {
    return await(
      [&](const std::vector<seen>& xs) {
        for (size_t i = since; i < xs.size(); ++i)
          if (xs[i].event.who.id == id && xs[i].event.who.state == state)
            return true;
        return false;
      },
      timeout);
  }

  /// The first time `id` was seen in `state` after `since` events.
  std::optional<clock::time_point> when(const std::string& id, cluster::member_state state,
                                        size_t since = 0) {
    std::lock_guard<std::mutex> guard{st_->mtx};
    for (size_t i = since; i < st_->events.size(); ++i)
      if (st_->events[i].event.who.id == id && st_->events[i].event.who.state == state)
        return st_->events[i].at;
    return std::nullopt;
  }

  std::vector<seen> events() const {
    std::lock_guard<std::mutex> guard{st_->mtx};
    return st_->events;
  }

  size_t size() const {
    std::lock_guard<std::mutex> guard{st_->mtx};
    return st_->events.size();
  }

private:
  struct state {
    mutable std::mutex mtx;
    std::condition_variable cv;
    std::vector<seen> events;
  };
  std::shared_ptr<state> st_;
  caf::actor recorder_;
};

} // namespace troupe::testing
