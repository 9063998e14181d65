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

#include <troupe/actors/backoff.hpp>
#include <troupe/services/channel.hpp>
#include <troupe/transport/node_actor.hpp>

#include "troupe/cluster/cluster_actor.hpp"
#include "troupe/cluster/member.hpp"
#include "troupe/cluster/membership_provider.hpp"

namespace troupe::transport {
class node;
} // namespace troupe::transport

namespace troupe::cluster {

struct cluster_config {
  /// The address other members reach this node at. Default "127.0.0.1";
  /// set it when the node listens on 0.0.0.0 or behind another address.
  std::string advertise_host = "127.0.0.1";
  /// The port they reach it at; 0 (default) = the node's listening port.
  uint16_t advertise_port = 0;
  /// Services this member runs from the start (more with `advertise`).
  std::vector<std::string> services;
  /// Delays between attempts to connect to a member not reached yet.
  actors::backoff connect_backoff =
    actors::backoff::exponential(std::chrono::milliseconds{100}, std::chrono::seconds{2})
      .with_jitter(actors::jitter::full);

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

/// A cluster actor and the locator its stubs read (`channel()`).
struct spawned_cluster {
  cluster_actor actor;
  std::shared_ptr<services::service_locator> locator;
};

/// Spawns the cluster actor of the member `self` (its id = the node's id)
/// on `node`: it starts `provider` and runs until it exits (after
/// `leave_atom` and the provider's `stop`, see `cluster::stop`). The
/// lower-level entry point of `cluster::start`, usable on a deterministic
/// system with a scripted node.
spawned_cluster spawn_cluster(caf::actor_system& sys, transport::node_actor node, member self,
                              const cluster_config& cfg,
                              std::shared_ptr<membership_provider> provider);

class cluster {
public:
  /// Validates `cfg` and joins through `provider` as the member with the
  /// node's id. Returns at once: registration happens in the background
  /// (`wait_joined`). Errors: `invalid_config`.
  static caf::expected<cluster> start(caf::actor_system& sys, transport::node& node,
                                      cluster_config cfg,
                                      std::unique_ptr<membership_provider> provider);

  cluster(cluster&&) noexcept;
  cluster& operator=(cluster&&) noexcept;
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  /// Leaves (see `stop`).
  ~cluster();

  /// This member's id (the node's id).
  const std::string& id() const noexcept;

  cluster_actor handle() const noexcept;

  /// Waits at most `timeout` until this member is registered: none, or the
  /// provider's error (`membership_unreachable` after its bounded attempts,
  /// `duplicate_member`), or `deadline_exceeded`.
  caf::error wait_joined(caf::timespan timeout);

  /// Every member known now, this one first.
  std::vector<member> members();

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
  /// Idempotent; bounded by the provider's request timeout.
  void stop();

private:
  struct impl;
  explicit cluster(std::unique_ptr<impl> ptr);
  std::unique_ptr<impl> impl_;
};

} // namespace troupe::cluster
