#pragma once

/// Errors of cluster membership (category `trp_clus`).

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <troupe/messages/error_category.hpp>

namespace troupe::cluster {

enum class cluster_errc : uint8_t {
  /// Not an error (CAF reserves 0).
  none = 0,
  /// A setting is out of range or inconsistent; the message names it.
  invalid_config = 1,
  /// The membership store (etcd) could not be reached after the configured
  /// attempts; the node keeps serving its local actors and keeps trying.
  membership_unreachable = 2,
  /// Another live member holds this member's id.
  duplicate_member = 3,
  /// This member's lease expired (its keep-alives did not arrive in time):
  /// the others saw it go down; it registers again.
  lease_lost = 4,
  /// A value under the cluster's prefix is not a member record.
  invalid_record = 5,
  /// A member's record was withdrawn after it announced it leaves.
  member_left = 6,
  /// A member's record vanished without it leaving (its lease expired).
  member_expired = 7,
  /// The cluster was stopped.
  cluster_stopped = 8,
  /// Another node answers at a member's address: that member is gone (a
  /// restarted process is a new member), though its record has not expired
  /// yet.
  member_replaced = 9,
  /// This member was not registered within the wait (`cluster::wait_joined`).
  join_timeout = 10,
};

/// The CAF error category of `cluster_errc`.
constexpr caf::atom_value cluster_errc_category = caf::atom("trp_clus");

/// Returns the enumerator's name, e.g. "lease_lost".
std::string to_string(cluster_errc x);

} // namespace troupe::cluster

TROUPE_ERROR_CODE_ENUM(troupe::cluster, cluster_errc, "trp_clus")
