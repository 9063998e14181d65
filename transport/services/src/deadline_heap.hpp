#pragma once

// Internal: entries ordered by deadline, for the two places that end things
// at their deadline with one timer instead of one per entry: a stub's watch
// over its calls (stub.cpp) and a service's watch over its deferred replies
// (service.cpp).
//
// Entries that ended early are not removed from the middle (that costs more
// than keeping them): they are dropped when they reach the top, and the whole
// heap is compacted each time it has doubled since the last compaction, so
// its size stays proportional to the live entries at an amortized constant
// cost per entry.
//
// Thread safety: none; the owner serializes.

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

#include <caf/actor_clock.hpp>

namespace troupe::services::internal {

template <class T>
class deadline_heap {
public:
  using time_point = caf::actor_clock::time_point;

  /// Adds `x`, due at `t`; `ended(x)` says whether an entry is done.
  template <class Ended>
  void push(time_point t, T x, Ended ended) {
    heap_.emplace_back(t, std::move(x));
    std::push_heap(heap_.begin(), heap_.end(), later_first{});
    if (heap_.size() < compact_at_)
      return;
    heap_.erase(std::remove_if(heap_.begin(), heap_.end(),
                               [&](const entry& e) { return ended(e.second); }),
                heap_.end());
    std::make_heap(heap_.begin(), heap_.end(), later_first{});
    compact_at_ = std::max<size_t>(min_compact, 2 * heap_.size());
  }

  /// Removes every entry due at `now` and hands each to `f`.
  template <class F>
  void pop_due(time_point now, F f) {
    while (!heap_.empty() && heap_.front().first <= now) {
      std::pop_heap(heap_.begin(), heap_.end(), later_first{});
      auto x = std::move(heap_.back().second);
      heap_.pop_back();
      f(x);
    }
  }

  /// Drops ended entries from the top, so `earliest` is a live one's.
  template <class Ended>
  void drop_ended_top(Ended ended) {
    while (!heap_.empty() && ended(heap_.front().second)) {
      std::pop_heap(heap_.begin(), heap_.end(), later_first{});
      heap_.pop_back();
    }
  }

  /// The earliest deadline; `time_point::max()` when empty.
  time_point earliest() const {
    return heap_.empty() ? time_point::max() : heap_.front().first;
  }

  bool empty() const noexcept {
    return heap_.empty();
  }

  /// Hands every entry to `f` and empties the heap.
  template <class F>
  void drain(F f) {
    for (auto& e : heap_)
      f(e.second);
    heap_.clear();
  }

private:
  using entry = std::pair<time_point, T>;

  struct later_first {
    bool operator()(const entry& x, const entry& y) const {
      return x.first > y.first;
    }
  };

  static constexpr size_t min_compact = 256;

  std::vector<entry> heap_;
  size_t compact_at_ = min_compact;
};

} // namespace troupe::services::internal
