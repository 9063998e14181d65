#pragma once

// Internal: the spawn functions of the node's actors. Each lives in its own
// translation unit (node_actor.cpp, connection.cpp); the proxy and the
// responder are actors without mailboxes (proxy.hpp, responder.hpp).

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "io.hpp"
#include "io_messages.hpp"
#include "handshake.hpp"

namespace troupe::transport::internal {

/// What a connection actor needs to start.
struct connection_args {
  config_ptr cfg;
  std::string node_id;
  connection_io_ptr io;
  handshake_role role;
  /// Initiator only: where to dial.
  std::string host;
  uint16_t port = 0;
  /// Where this node listens (advertised in Hello), empty if it does not.
  std::string listen_host;
  uint16_t listen_port = 0;
  route_registry_ptr routes;
};

/// The node actor and the root of its supervisor tree.
struct node_handles {
  caf::actor node;
  caf::actor supervisor;
};

/// Spawns the node actor and its supervisor tree (the listener, if
/// `listener` is not null, and the connections supervisor).
caf::expected<node_handles> spawn_node_actor(caf::actor_system& sys, config_ptr cfg,
                                             std::string node_id, io_runtime_ptr rt,
                                             listener_io_ptr listener);

/// Body of a listener actor: forwards accepted connections to `parent`.
caf::behavior listener_actor(caf::event_based_actor* self, listener_io_ptr io,
                             caf::actor parent);

/// Body of a connection actor. Reports `(established_atom, peer_id,
/// peer_listen_address, initiator_id)` to `parent` once the handshake is
/// done; quits with the typed reason when the connection ends.
caf::behavior connection_actor(caf::event_based_actor* self, connection_args args,
                               caf::actor parent);

/// Builds an error frame and appends it, encoded, to `out`.
void append_error_frame(const caf::error& err, uint64_t correlation_id,
                        const troupe::TraceContext* trace, uint32_t max_frame_size,
                        std::string& out);

} // namespace troupe::transport::internal

// Start arguments of a connection travel in a local message to the
// connections supervisor (never serialized).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::transport::internal::connection_args)
