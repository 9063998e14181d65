#pragma once

/// The cluster actor: this node's view of the cluster. It turns what the
/// membership provider reports and what the transport says about peers into
/// member states (`member.hpp`), tells subscribers, connects to members,
/// and answers "where does service X run" (`cluster.hpp`).
///
/// Protocol (`cluster_actor`), besides what providers tell it
/// (`membership_listener`) and the node's `peer_event`s:
///
///   (members_atom) -> std::vector<member>   every member known, this one first
///   (joined_atom) -> ok   once this member is registered; fails with the
///       provider's error (`membership_unreachable`, `duplicate_member`) if
///       it reports one first
///   (advertise_atom, std::string service) -> ok   this member runs `service`
///       (published on its node under that name); announced to the others
///   (leave_atom) -> ok   announces that this member leaves (`leaving`)
///   (subscribe_atom, caf::actor) -> ok   sends it a `member_event` for every
///       change from now on, until it unsubscribes or terminates
///   (unsubscribe_atom, caf::actor) -> ok
///   (instances_atom, std::string service, uint32_t count, caf::timespan wait)
///       -> std::vector<std::string>   the members whose instance of
///       `service` takes calls, once there are at least `count` of them or
///       after `wait` (then fewer)
///   (find_service_atom, std::string, caf::actor_addr stale, caf::timespan wait)
///       -> caf::actor   an instance of the service on an up member (round
///       robin), not `stale`; waits at most `wait` for one; else
///       `rpc_errc::unavailable` / `deadline_exceeded`

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/typed_actor.hpp>

#include <troupe/actors/observers.hpp>
#include <troupe/services/service_directory.hpp>
#include <troupe/transport/peer_event.hpp>

#include "troupe/cluster/member.hpp"
#include "troupe/cluster/member_event.hpp"
#include "troupe/cluster/membership_provider.hpp"

namespace troupe::cluster {

using members_atom = caf::atom_constant<caf::atom("trp_cmembs")>;
using joined_atom = caf::atom_constant<caf::atom("trp_cjoin")>;
using advertise_atom = caf::atom_constant<caf::atom("trp_cadv")>;
using leave_atom = caf::atom_constant<caf::atom("trp_cleave")>;
using instances_atom = caf::atom_constant<caf::atom("trp_cinsts")>;
using actors::subscribe_atom;
using actors::unsubscribe_atom;
using services::find_service_atom;

using cluster_actor = membership_listener::extend<
  caf::replies_to<members_atom>::with<std::vector<member>>,
  caf::replies_to<joined_atom>::with<caf::ok_atom>,
  caf::replies_to<advertise_atom, std::string>::with<caf::ok_atom>,
  caf::replies_to<leave_atom>::with<caf::ok_atom>,
  caf::replies_to<instances_atom, std::string, uint32_t,
                  caf::timespan>::with<std::vector<std::string>>,
  caf::replies_to<subscribe_atom, caf::actor>::with<caf::ok_atom>,
  caf::replies_to<unsubscribe_atom, caf::actor>::with<caf::ok_atom>,
  caf::replies_to<find_service_atom, std::string, caf::actor_addr,
                  caf::timespan>::with<caf::actor>,
  caf::reacts_to<transport::peer_event>>;

} // namespace troupe::cluster
