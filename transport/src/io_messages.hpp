#pragma once

// Internal: the atoms and message element types the node's actors and its
// I/O side exchange. Not installed.

#include <memory>
#include <string>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "io.hpp"
#include "troupe/transport/node_config.hpp"
#include "troupe/wire.pb.h"

namespace troupe::transport::detail {

// I/O -> actors
using frame_atom = caf::atom_constant<caf::atom("trp_frame")>;
using io_closed_atom = caf::atom_constant<caf::atom("trp_closed")>;
using connected_atom = caf::atom_constant<caf::atom("trp_up")>;
using accepted_atom = caf::atom_constant<caf::atom("trp_accept")>;
// connection <-> node
using established_atom = caf::atom_constant<caf::atom("trp_estab")>;
using routes_atom = caf::atom_constant<caf::atom("trp_routes")>;
using proxy_atom = caf::atom_constant<caf::atom("trp_proxy")>;
using close_atom = caf::atom_constant<caf::atom("trp_close")>;
// timers
using tick_atom = caf::atom_constant<caf::atom("trp_tick")>;
using hs_timeout_atom = caf::atom_constant<caf::atom("trp_hs_to")>;
using sweep_atom = caf::atom_constant<caf::atom("trp_sweep")>;
using reconnect_atom = caf::atom_constant<caf::atom("trp_recon")>;
using stop_atom = caf::atom_constant<caf::atom("trp_stop")>;
using stop_deadline_atom = caf::atom_constant<caf::atom("trp_stopdl")>;

/// One published actor.
struct route {
  caf::actor actor;
  bool pass_envelope = false;
};

/// Published name -> actor. Immutable once shared: the node replaces the
/// whole table on every change and sends the new pointer to connections.
using route_table = std::unordered_map<std::string, route>;
using routes_ptr = std::shared_ptr<const route_table>;

using config_ptr = std::shared_ptr<const node_config>;

} // namespace troupe::transport::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::transport::detail::routes_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::transport::detail::connection_io_ptr)
