#pragma once

/// The atoms of the node actor's message interface (see `node.hpp`).

#include <caf/atom.hpp>

namespace troupe::transport {

/// `(publish_atom, std::string name, caf::actor, bool pass_envelope) -> ok`.
using publish_atom = caf::atom_constant<caf::atom("trp_pub")>;
/// `(unpublish_atom, std::string name) -> ok`.
using unpublish_atom = caf::atom_constant<caf::atom("trp_unpub")>;
/// `(remote_atom, std::string name, std::string host, uint16_t port) -> caf::actor`.
using remote_atom = caf::atom_constant<caf::atom("trp_remote")>;
/// `(connect_atom, std::string host, uint16_t port) -> std::string peer_node_id`.
using connect_atom = caf::atom_constant<caf::atom("trp_conn")>;
/// `(subscribe_atom, caf::actor observer)`: peer events go to `observer`.
using subscribe_atom = caf::atom_constant<caf::atom("trp_sub")>;
/// Event `(peer_up_atom, std::string node_id, std::string address)`.
using peer_up_atom = caf::atom_constant<caf::atom("peer_up")>;
/// Event `(peer_down_atom, std::string node_id, std::string address, caf::error)`.
using peer_down_atom = caf::atom_constant<caf::atom("peer_down")>;

} // namespace troupe::transport
