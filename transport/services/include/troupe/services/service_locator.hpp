#pragma once

/// `service_locator`: where the instances of a service run when they are
/// neither in this process's directory nor on one given node — the seam a
/// cluster (`troupe::cluster`) plugs into, so that a stub made with
/// `channel::located(locator)` finds a service by its name alone.
///
/// A stub asks `pick` on every call (it must not block: a lock around a
/// snapshot at most), so a locator can balance calls over instances without
/// a hop through an actor; only when `pick` knows none does the stub ask
/// `finder()`, which may wait within the call's deadline for one to appear.
///
/// A server-streaming call's stream is published on the node of the
/// instance that answered: the stub asks `node_of` where that is and pulls
/// from there (or finds it in this process's directory).
///
/// Thread safety: `pick` is called from any thread.

#include <string>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include <troupe/transport/node_actor.hpp>

#include "troupe/services/service_directory.hpp"

namespace troupe::services {

/// Answers `(find_service_atom, name, stale, wait)` with an instance of
/// `name` that is not `stale`, waiting at most `wait` for one; fails with
/// `rpc_errc::unavailable` or `rpc_errc::deadline_exceeded` (the same
/// contract as the service directory's lookup).
using service_finder_actor =
  caf::typed_actor<caf::replies_to<find_service_atom, std::string, caf::actor_addr,
                                   caf::timespan>::with<caf::actor>>;

class service_locator {
public:
  virtual ~service_locator();

  /// An instance of `service` to call now that is not `stale`, or null if
  /// none is known at this moment.
  virtual caf::actor pick(const std::string& service, const caf::actor_addr& stale) = 0;

  /// The actor a stub asks when `pick` has nothing.
  virtual service_finder_actor finder() const = 0;

  /// Where the instance `target` (an actor `pick` or `finder` returned)
  /// runs: the node to reach and its host and port, or false for an
  /// instance in this process.
  virtual bool node_of(const caf::actor_addr& target, transport::node_actor& node,
                       std::string& host, uint16_t& port) const = 0;
};

} // namespace troupe::services
