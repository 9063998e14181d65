#pragma once

/// Where a cluster's membership comes from: one interface, three providers.
///
/// - `static_provider`: a fixed list of members (seeds), for small fixed
///   deployments and tests without a store.
/// - `etcd_provider`: each member's record under a key bound to a lease it
///   keeps alive; members watched by prefix (real clusters).
/// - `in_process_membership`: a store inside the process whose leases run
///   on the actor clock, for deterministic tests on virtual time.
///
/// A provider announces this member and reports what it sees to a
/// listener — the cluster's membership actor — with the messages of
/// `membership_listener`. It decides nothing about member states; the
/// cluster does (`member.hpp`).
///
/// Thread safety: `start` and `update` are called by the cluster actor;
/// `stop` by `cluster::stop`'s thread, possibly while the actor calls
/// `update`: a provider guards its state. `stop` may block (bounded).

#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "troupe/cluster/member.hpp"

namespace troupe::cluster {

using member_seen_atom = caf::atom_constant<caf::atom("trp_mseen")>;
using member_gone_atom = caf::atom_constant<caf::atom("trp_mgone")>;
using provider_status_atom = caf::atom_constant<caf::atom("trp_mstat")>;

/// What a provider tells the cluster:
///
///   (member_seen_atom, member)   a member's record appeared or changed:
///       state `joining`, or `leaving` if it announced so (this member's
///       own record included)
///   (member_gone_atom, std::string id, caf::error reason)   a member's
///       record is gone: `member_left` or `member_expired`
///   (provider_status_atom, caf::error)   this member's registration: none
///       once registered (again), else why it is not (`membership_unreachable`,
///       `duplicate_member`, `lease_lost`)
using membership_listener =
  caf::typed_actor<caf::reacts_to<member_seen_atom, member>,
                   caf::reacts_to<member_gone_atom, std::string, caf::error>,
                   caf::reacts_to<provider_status_atom, caf::error>>;

class membership_provider {
public:
  virtual ~membership_provider();

  /// E.g. "etcd http://127.0.0.1:2379 /troupe/members/".
  virtual std::string describe() const = 0;

  /// Announces `self` and reports to `listener` (this member too) until
  /// `stop`. Returns at once; the outcome arrives as `provider_status`.
  virtual void start(const member& self, membership_listener listener) = 0;

  /// Replaces this member's record (its services, leaving).
  virtual void update(const member& self) = 0;

  /// Withdraws this member's record (within the provider's bound) and
  /// stops reporting. Idempotent.
  virtual void stop() = 0;
};

} // namespace troupe::cluster
