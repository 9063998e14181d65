#pragma once

/// One view of supervision trees, collected by asking the actors: each
/// supervisor its `supervisor_report`, each flow actor its `flow_stats`,
/// each service its `service_report`, each bounded mailbox's gate its
/// `mailbox_stats`.
/// The endpoint renders it as JSON (`/api/tree`) and as metrics
/// (`/metrics`); a program can take one itself.

#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include <troupe/actors/bounded_mailbox.hpp>
#include <troupe/actors/fetcher.hpp>
#include <troupe/actors/flow_stats.hpp>
#include <troupe/services/service_report.hpp>
#include <troupe/supervisors/child_info.hpp>
#include <troupe/supervisors/supervisor_report.hpp>

namespace troupe::observability {

struct supervisor_view;

/// One child with what its actor said about itself.
struct child_view {
  supervisors::child_info info;
  /// Its supervision path, "<supervisor path>/<id>".
  std::string path;
  /// The actor's type name (CAF's `name()`), e.g. "troupe.flow"; empty while
  /// it does not run.
  std::string type;
  /// For a flow actor (producer, stage, consumer, fetcher) that answered.
  std::optional<actors::flow_stats> flow;
  /// For a service (CAF name "troupe.service") that answered.
  std::optional<services::service_report> service;
  /// For a bounded mailbox's gate (CAF name "troupe.mailbox") that answered.
  std::optional<actors::mailbox_stats> mailbox;
  /// For a fetcher (CAF name "troupe.fetcher", a flow actor too) that
  /// answered.
  std::optional<actors::fetch_stats> fetch;
  /// For a child that is a Troupe supervisor: its own view (one element).
  std::vector<supervisor_view> supervisor;
};

struct supervisor_view {
  /// False if it did not answer within the collect timeout (then only
  /// `report.path` is set, from its parent).
  bool answered = false;
  supervisors::supervisor_report report;
  std::vector<child_view> children;
};

struct tree_snapshot {
  std::vector<supervisor_view> roots;
  /// How long collecting took.
  caf::timespan took{0};
};

/// Asks every supervisor under `roots` (and its flow actors) for its state,
/// one at a time, each within `timeout`. Blocks the calling thread: call it
/// outside actors. The snapshot holds no actor handle; `answered`, if set,
/// receives every supervisor that answered (to subscribe to its events).
tree_snapshot take_snapshot(caf::actor_system& sys, const std::vector<caf::actor>& roots,
                            caf::timespan timeout,
                            std::vector<caf::actor>* answered = nullptr);

} // namespace troupe::observability
