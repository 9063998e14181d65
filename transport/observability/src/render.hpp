#pragma once

// Internal: a tree snapshot and the node's view (peers, connections,
// members) as Prometheus text (`/metrics`) and as JSON (`/api/tree`), and
// events as JSON lines.

#include <optional>
#include <string>
#include <vector>

#include <troupe/cluster/member.hpp>
#include <troupe/supervisors/supervision_event.hpp>
#include <troupe/transport/peer_event.hpp>
#include <troupe/transport/transport_stats.hpp>

#include "peer_counters.hpp"
#include "troupe/observability/tree_snapshot.hpp"

namespace troupe::observability::internal {

/// Children of a supervisor beyond this many (in start order) get no series
/// of their own: a dynamic supervisor's children come and go, and labels
/// must stay a bounded set. They still count in the supervisor's series and
/// show in `/api/tree`.
constexpr size_t max_labelled_children = 32;

/// What the endpoint knows of its node and its cluster at one request.
struct node_view {
  /// False when the endpoint has no node (then nothing below is shown).
  bool has_node = false;
  std::string node_id;
  peer_counters::values peers;
  /// The node's answer to `stats_atom`; none if it did not answer.
  std::optional<transport::transport_stats> transport;
  /// The cluster's members; none without a cluster or if it did not answer.
  std::optional<std::vector<cluster::member>> members;
  /// How long asking the node and the cluster took.
  caf::timespan took{0};
};

std::string metrics_text(const tree_snapshot& snapshot, const node_view& node);

std::string tree_json(const tree_snapshot& snapshot, const node_view& node);

std::string event_json(const supervisors::supervision_event& x);

std::string event_json(const transport::peer_event& x);

/// `[{"seq": n, "event": {...}}, ...]` of numbered event lines.
std::string events_json(const std::vector<std::pair<uint64_t, std::string>>& events);

/// "trp_net:peer_timeout" of an error (its category and code name, without
/// the context): a bounded label value.
std::string reason_label(const caf::error& err);

} // namespace troupe::observability::internal
