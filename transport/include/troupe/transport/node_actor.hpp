#pragma once

/// The node actor's protocol as a type (`node::handle()`), for use from
/// inside actors; `node`'s blocking functions send the same messages. A
/// message the node does not understand is a compile error.
///
///   (publish_atom, caf::actor, std::string name, delivery) -> ok
///       makes the actor reachable as `name@<host>:<port>`; a published
///       actor that terminates is unpublished
///   (unpublish_atom, std::string name) -> ok
///   (remote_atom, std::string name, std::string host, uint16_t port)
///       -> caf::actor    a proxy, connecting first if needed
///   (connect_atom, std::string host, uint16_t port)
///       -> std::string   the peer's node id
///   (watch_atom, std::string name, std::string host, uint16_t port)
///       -> caf::actor    a remote monitor: an actor that exits when the
///       actor published as `name` there now terminates, with that actor's
///       exit reason; with `unknown_actor` if none is published; with the
///       connection's reason (`peer_lost`, `peer_timeout`, ...) when the
///       node is lost or leaves. `monitor` it for the down message.
///   (subscribe_atom, caf::actor observer) -> ok
///       the observer receives a `peer_event` for every peer that comes up
///       or goes down, until it unsubscribes or terminates
///   (unsubscribe_atom, caf::actor observer) -> ok
///   (stats_atom) -> transport_stats   connections by state, reconnects,
///       frames and bytes in and out (`transport_stats.hpp`)
///
/// Errors: `transport_errc` (e.g. `connect_failed`, `node_stopped`,
/// `invalid_config` for a publish without a name or actor).
///
/// Usage:
///   auto node = node::start(sys);
///   self->request(node->handle(), caf::infinite, publish_atom::value, pricing,
///                 std::string{"pricing"}, delivery::payload)
///     .then([](caf::ok_atom) { ... });

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "troupe/transport/atoms.hpp"
#include "troupe/transport/peer_event.hpp"
#include "troupe/transport/transport_stats.hpp"

namespace troupe::transport {

/// What a published actor receives for each inbound message.
enum class delivery : uint8_t {
  /// The payload alone.
  payload,
  /// `(troupe::Envelope, payload)`: the envelope without its payload bytes
  /// (sender, trace context, deadline, attempt), then the payload.
  with_envelope,
};

using node_actor = caf::typed_actor<
  caf::replies_to<publish_atom, caf::actor, std::string, delivery>::with<caf::ok_atom>,
  caf::replies_to<unpublish_atom, std::string>::with<caf::ok_atom>,
  caf::replies_to<remote_atom, std::string, std::string, uint16_t>::with<caf::actor>,
  caf::replies_to<connect_atom, std::string, uint16_t>::with<std::string>,
  caf::replies_to<watch_atom, std::string, std::string, uint16_t>::with<caf::actor>,
  caf::replies_to<subscribe_atom, caf::actor>::with<caf::ok_atom>,
  caf::replies_to<unsubscribe_atom, caf::actor>::with<caf::ok_atom>,
  caf::replies_to<stats_atom>::with<transport_stats>>;

} // namespace troupe::transport
