#pragma once

/// One HTTP endpoint per node for operators (off by default):
///
///   GET /metrics      Prometheus text format: supervisors, flow edges,
///                     services, the transport, cluster members
///                     (docs/observability.md lists them)
///   GET /api/tree     the live supervision tree as JSON
///   GET /api/events   supervision and peer events as server-sent events
///                     (the last 100 first, then as they happen; at most 4
///                     streams at once, 503 beyond); `?recent`: the kept
///                     events as one JSON array
///   GET /             a dashboard page (embedded; no CDN, no build step)
///
/// Everything is collected when asked for, from the actors themselves: each
/// supervisor answers `report_atom` (supervisor_report.hpp), each flow actor
/// `flow_stats_atom`, each service `service_report_atom`, the node
/// `stats_atom`, the cluster `members_atom`. The endpoint adds nothing to a
/// hot path: it reads counters the actors keep anyway.
///
///   observability::system_config cfg;        // declares troupe.http.*
///   ... caf::actor_system sys{cfg};
///   if (auto http = observability::endpoint_config::from(sys.config())) {
///     auto ep = observability::endpoint::start(
///       sys, *http, {{root_supervisor, node.supervisor()}, &node});
///     // ep: expected<unique_ptr<endpoint>>; (*ep)->port()
///   }
///
/// Served by cpp-httplib on its own threads; never on CAF's scheduler.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include <troupe/cluster/cluster_actor.hpp>
#include <troupe/transport/fwd.hpp>

namespace troupe::observability {

struct endpoint_config {
  /// Address to listen on. Default 127.0.0.1 (this host only).
  std::string host = "127.0.0.1";

  /// Port; 0 (default) = an ephemeral port, logged and returned by
  /// `endpoint::port()`.
  uint16_t port = 0;

  /// Bound on asking one actor of the trees (each supervisor, flow actor
  /// and service, one after the other; four times it bounds the whole
  /// walk), and on asking the node and the cluster together; what did not
  /// answer in time is shown as not answering. Default 2 s.
  caf::timespan collect_timeout = std::chrono::seconds{2};

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;

  /// The `troupe.http.*` keys of `cfg`: nothing (the endpoint is off)
  /// unless `troupe.http.port` is set.
  static std::optional<endpoint_config> from(const caf::actor_system_config& cfg);
};

/// What the endpoint shows.
struct endpoint_sources {
  /// Root supervisors (your application's, a node's `supervisor()`): their
  /// whole subtrees are walked at every request.
  std::vector<caf::actor> supervisors;

  /// A node whose peers are counted and whose peer events are streamed;
  /// nullptr for none. Used by `start` only (the node may stop first). Peers
  /// already up when the endpoint starts are not counted in
  /// `troupe_transport_peers_up` until they reconnect.
  transport::node* node = nullptr;

  /// A cluster member whose view of the members is shown
  /// (`troupe_cluster_members`); none by default.
  std::optional<cluster::cluster_actor> cluster;
};

class endpoint {
public:
  /// Listens and serves on threads of its own. Errors: `invalid_config`,
  /// `listen_failed` (transport_errc).
  static caf::expected<std::unique_ptr<endpoint>>
  start(caf::actor_system& sys, endpoint_config cfg, endpoint_sources sources);

  /// Stops serving (open event streams end) and joins its threads. Destroy
  /// the endpoint before the actor system.
  ~endpoint();

  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  /// The port it listens on.
  uint16_t port() const noexcept;

  /// "http://host:port".
  std::string url() const;

  /// As the destructor; idempotent.
  void stop();

  struct impl;

private:
  explicit endpoint(std::unique_ptr<impl> ptr);

  std::unique_ptr<impl> impl_;
};

} // namespace troupe::observability
