#pragma once

/// `spawn_cluster`: the cluster actor and its locator without the blocking
/// `cluster` wrapper — for code inside actors, and for tests on a
/// deterministic system with a scripted node and an in-process store.

#include <memory>

#include <caf/fwd.hpp>

#include <troupe/services/service_locator.hpp>
#include <troupe/transport/node_actor.hpp>

#include "troupe/cluster/cluster_actor.hpp"
#include "troupe/cluster/cluster_config.hpp"
#include "troupe/cluster/member.hpp"
#include "troupe/cluster/membership_provider.hpp"

namespace troupe::cluster {

/// A cluster actor and the locator its stubs read (`channel()`).
struct spawned_cluster {
  cluster_actor actor;
  std::shared_ptr<services::service_locator> locator;
};

/// Spawns the cluster actor of the member `self` (its id = the node's id)
/// on `node`: it starts `provider` and runs until it exits (after
/// `leave_atom` and the provider's `stop`, see `cluster::stop`). The
/// lower-level entry point of `cluster::start`, usable on a deterministic
/// system with a scripted node. Keep `provider` too and `stop` it before
/// the actor exits: the actor drops its share when it exits, and an etcd
/// provider's destructor would then join its threads on a scheduler
/// thread (`cluster::stop` stops the provider first).
spawned_cluster spawn_cluster(caf::actor_system& sys, transport::node_actor node, member self,
                              const cluster_config& cfg,
                              std::shared_ptr<membership_provider> provider);

} // namespace troupe::cluster
