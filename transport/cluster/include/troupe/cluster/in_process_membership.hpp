#pragma once

/// `in_process_membership`: a membership store inside the process, for
/// deterministic tests. Its leases run on the actor clock, so on a
/// `troupe::testing::deterministic_system` a test decides when a lease
/// expires by advancing virtual time. It behaves like the etcd provider
/// seen from the cluster: records bound to leases, events in order, no
/// event missed by a member cut off from the store (they arrive when it is
/// healed), a duplicate id refused, a lost lease reported and re-registered.
///
///   troupe::testing::deterministic_system<troupe::transport::system_config> f;
///   troupe::cluster::in_process_membership store{f.sys, 5s};
///   auto a = troupe::cluster::spawn_cluster(f.sys, node_a, self_a, {}, store.provider());
///   store.cut("a");           // a's keep-alives stop reaching the store
///   f.advance_time(5s);       // a's lease expires: the others see it down
///   store.heal("a");          // a learns its lease was lost; registers again
///
/// A member whose cluster actor terminates without leaving keeps its
/// record until its lease expires, like a crashed process.
///
/// Thread safety: use it from the test's thread.

#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include "troupe/cluster/membership_provider.hpp"

namespace troupe::cluster {

class in_process_membership {
public:
  /// A store in `sys` whose leases last `lease_ttl` without keep-alives.
  in_process_membership(caf::actor_system& sys, caf::timespan lease_ttl);

  /// Stops the store.
  ~in_process_membership();

  in_process_membership(const in_process_membership&) = delete;
  in_process_membership& operator=(const in_process_membership&) = delete;

  /// A provider for one member (one per cluster).
  std::unique_ptr<membership_provider> provider() const;

  /// The member `id`'s keep-alives and events stop reaching it: its lease
  /// expires `lease_ttl` later; events for it wait.
  void cut(const std::string& id);

  /// They reach it again: the waiting events arrive in order; if its lease
  /// expired meanwhile it is told (`lease_lost`) and registers again.
  void heal(const std::string& id);

private:
  caf::actor store_;
};

} // namespace troupe::cluster
