#pragma once

/// `etcd_provider`: membership kept in etcd (v3, through its JSON gateway
/// over HTTP with libcurl).
///
/// - This member's record (`troupe.MemberRecord`, binary protobuf) is the
///   value of `<prefix><member id>`, created only if absent (a live member
///   with the same id is a `duplicate_member`) and bound to a lease of
///   `lease_ttl` that a keep-alive renews every third of it. When the
///   process dies, the lease expires and etcd deletes the key: the others
///   see the member go down.
/// - Members are read by prefix, then watched from the next revision; a
///   watch that breaks resumes from the last revision seen, so no event is
///   missed (a compacted revision forces a full re-read, reporting what
///   vanished meanwhile).
/// - A value under the prefix that is not a member record is skipped with a
///   log line.
/// - etcd unreachable at start: after `start_attempts` tries (backoff
///   between them) the cluster hears `membership_unreachable`; the provider
///   keeps trying at the backoff's cap and registers when etcd answers.
///   Lost mid-run: members known so far stay as they are; keep-alives
///   retry; a lease that expired meanwhile is reported (`lease_lost`) and
///   the member registers again.
///
/// Two threads per provider (keep-alive and watch), blocking libcurl calls
/// bounded by `request_timeout`; actors never block on etcd.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include <troupe/actors/backoff.hpp>

#include "troupe/cluster/membership_provider.hpp"

namespace troupe::cluster {

struct etcd_config {
  /// etcd client URLs, tried in order. Default "http://127.0.0.1:2379".
  std::vector<std::string> endpoints{"http://127.0.0.1:2379"};
  /// Key prefix of the cluster's members; must end with '/'. Clusters that
  /// share an etcd use different prefixes. Default "/troupe/members/".
  std::string prefix = "/troupe/members/";
  /// Lease time-to-live: how long after a crash the others see this member
  /// down. At least 2 s (etcd's minimum). Default 10 s.
  caf::timespan lease_ttl = std::chrono::seconds{10};
  /// Bound on one HTTP request to etcd. Default 2 s.
  caf::timespan request_timeout = std::chrono::seconds{2};
  /// Delays between attempts while etcd does not answer.
  actors::backoff retry =
    actors::backoff::exponential(std::chrono::milliseconds{100}, std::chrono::seconds{2})
      .with_jitter(actors::jitter::full);
  /// Attempts at start before `membership_unreachable` is reported. Default 5.
  uint32_t start_attempts = 5;

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

/// A provider on etcd. Validate `cfg` first (`etcd_config::validate`).
std::unique_ptr<membership_provider> etcd_provider(etcd_config cfg);

} // namespace troupe::cluster
