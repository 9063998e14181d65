#pragma once

/// A cluster: nodes that find each other through a membership provider
/// (etcd, a static list, an in-process store) and call each other's
/// services by name, wherever they run.
///
///   auto node = troupe::transport::node::start(sys, node_cfg);
///   troupe::cluster::cluster_config cfg;
///   cfg.advertise_host = "10.0.0.2";                 // where peers reach this node
///   auto c = troupe::cluster::cluster::start(sys, *node, cfg,
///                                            troupe::cluster::etcd_provider(etcd_cfg));
///   c->advertise(shop::v1::Warehouse::service_full_name_v);  // after publishing it
///   shop::v1::Warehouse::Stub stub{c->channel()};    // any member running it
///
/// Structure: the cluster actor (`cluster_actor.hpp`) holds the member
/// states, subscribes to the node's peer events and connects to every
/// member it learns of; a locator shared with `channel()`'s stubs holds, per
/// service, a proxy on each up member that runs it, so a call picks an
/// instance (round robin) without a hop through the cluster actor. When a
/// member goes down its instances leave the locator at once: calls in
/// flight there fail with `unavailable` (the transport's `peer_lost`),
/// new calls go to the others.
///
/// Thread safety: the member functions block the calling thread (bounded)
/// and may be called from any non-actor thread; inside an actor, use the
/// cluster actor's protocol through `handle()`.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include <troupe/services/channel.hpp>
#include <troupe/transport/node_actor.hpp>

#include "troupe/cluster/cluster_actor.hpp"
#include "troupe/cluster/cluster_config.hpp"
#include "troupe/cluster/member.hpp"
#include "troupe/cluster/membership_provider.hpp"
#include "troupe/cluster/spawn_cluster.hpp"

namespace troupe::transport {
class node;
} // namespace troupe::transport

namespace troupe::cluster {

class cluster {
public:
  /// Validates `cfg` and joins through `provider` as the member with the
  /// node's id. Returns at once: registration happens in the background
  /// (`wait_joined`). Errors: `invalid_config`.
  static caf::expected<cluster> start(caf::actor_system& sys, transport::node& node,
                                      cluster_config cfg,
                                      std::unique_ptr<membership_provider> provider);

  cluster(cluster&&) noexcept;
  /// Stops the cluster this one was, then takes `other`'s place.
  cluster& operator=(cluster&& other) noexcept;
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  /// Leaves (see `stop`).
  ~cluster();

  /// This member's id (the node's id).
  const std::string& id() const noexcept;

  cluster_actor handle() const noexcept;

  /// Waits at most `timeout` until this member is registered: none, or the
  /// provider's error (`membership_unreachable` after its bounded attempts,
  /// `duplicate_member`), or `join_timeout`.
  caf::error wait_joined(caf::timespan timeout);

  /// Every member known now, this one first.
  caf::expected<std::vector<member>> members();

  /// Announces that this member runs `service` (already published on its
  /// node under that name, e.g. by `service_child` with `published_on`).
  caf::error advertise(const std::string& service);

  /// Sends `observer` every later `member_event`.
  void subscribe(const caf::actor& observer);

  /// Where stubs find services by name on any up member (round robin).
  services::channel channel() const;

  /// The members whose instance of `service` takes calls now (this one
  /// included if it advertised it), as `channel()`'s stubs see them.
  std::vector<std::string> instances(const std::string& service) const;

  /// Waits at most `timeout` until at least `count` members run `service`
  /// (see `instances`); returns them, fewer after the timeout.
  std::vector<std::string> await_instances(const std::string& service, uint32_t count,
                                           caf::timespan timeout);

  /// Leaves gracefully: announces `leaving`, withdraws this member's record
  /// (the others see it removed, not down), stops the cluster actor.
  /// Idempotent. Bounded by the provider: with etcd, the request in flight,
  /// the last record and the lease's revocation, each within
  /// `request_timeout` per endpoint.
  void stop();

private:
  struct impl;
  explicit cluster(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::cluster
