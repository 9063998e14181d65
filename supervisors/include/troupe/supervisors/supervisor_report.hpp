#pragma once

/// What a supervisor answers to `(report_atom)`: its path, its restart
/// budget and its children, for monitoring (Troupe's observability endpoint
/// builds its tree and metrics from it). Taken in one activation of the
/// supervisor, so the numbers agree with each other.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include "troupe/supervisors/child_info.hpp"

namespace troupe::supervisors {

struct supervisor_report {
  /// The supervisor's path, e.g. "shop/pricing" (its log name).
  std::string path;
  /// Its restart strategy, e.g. "one_for_one".
  std::string strategy;
  /// Restarts allowed within `window` (`supervisor_config::intensity`).
  uint32_t max_restarts = 0;
  caf::timespan window{0};
  /// Restarts of any child since the supervisor started.
  uint64_t restarts_total = 0;
  /// Restarts within the current window; `max_restarts - restarts_in_window`
  /// more are allowed before the supervisor gives up.
  uint32_t restarts_in_window = 0;
  /// Until the next planned restart of a child waiting out its backoff; 0
  /// when no restart is planned.
  caf::timespan next_restart_in{0};
  /// The children in start order.
  std::vector<child_info> children;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_report& x) {
  return f(caf::meta::type_name("troupe.supervisor_report"), x.path, x.strategy,
           x.max_restarts, x.window, x.restarts_total, x.restarts_in_window, x.next_restart_in,
           x.children);
}

} // namespace troupe::supervisors
