#pragma once

// Internal: the events the endpoint streams (`/api/events`), as JSON lines
// with increasing numbers. Keeps the last `capacity` so a client that
// connects sees the recent past first; a client that falls further behind
// than that misses the oldest.
//
// Thread safety: every member is thread-safe.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <caf/timespan.hpp>

namespace troupe::observability::internal {

class event_feed {
public:
  static constexpr size_t capacity = 100;

  /// Appends one event (a JSON object).
  void push(std::string json) {
    std::lock_guard<std::mutex> guard{mtx_};
    events_.emplace_back(++last_, std::move(json));
    if (events_.size() > capacity)
      events_.pop_front();
    cv_.notify_all();
  }

  using numbered = std::pair<uint64_t, std::string>;

  /// Events numbered after `seen`, waiting up to `bound` for one; empty on
  /// timeout or once closed. Sets `seen` to the last one returned.
  std::vector<numbered> after(uint64_t& seen, caf::timespan bound) {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait_for(guard, bound, [&] { return closed_ || last_ > seen; });
    std::vector<numbered> result;
    if (closed_)
      return result;
    for (auto& e : events_)
      if (e.first > seen)
        result.push_back(e);
    seen = last_;
    return result;
  }

  /// The events kept now, oldest first.
  std::vector<numbered> recent() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return {events_.begin(), events_.end()};
  }

  /// Ends every wait; `after` returns nothing from now on.
  void close() {
    std::lock_guard<std::mutex> guard{mtx_};
    closed_ = true;
    cv_.notify_all();
  }

  bool closed() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return closed_;
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<numbered> events_;
  uint64_t last_ = 0;
  bool closed_ = false;
};

} // namespace troupe::observability::internal
