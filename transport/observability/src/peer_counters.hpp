#pragma once

// Internal: what the endpoint counts of a node's peer events (the hub actor
// writes, scrapes read; each under the lock, never on a hot path: peer
// events are rare).

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace troupe::observability::internal {

struct peer_counters {
  struct values {
    /// Peers (node ids) up now.
    std::set<std::string> up;
    uint64_t up_events = 0;
    /// Down events by the reason's code name (e.g. "peer_timeout"); a
    /// bounded set: the codes of Troupe's and CAF's error enums.
    std::map<std::string, uint64_t> down_by_reason;
  };

  values read() const {
    std::lock_guard<std::mutex> guard{mtx};
    return counts;
  }

  mutable std::mutex mtx;
  values counts;
};

} // namespace troupe::observability::internal
