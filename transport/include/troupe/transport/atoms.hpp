#pragma once

/// The atoms of the node actor's protocol (`node_actor.hpp`). Subscribing to
/// peer events uses the one vocabulary of `troupe/actors/observers.hpp`.

#include <caf/atom.hpp>

#include <troupe/actors/observers.hpp>

namespace troupe::transport {

using publish_atom = caf::atom_constant<caf::atom("trp_pub")>;
using unpublish_atom = caf::atom_constant<caf::atom("trp_unpub")>;
using remote_atom = caf::atom_constant<caf::atom("trp_remote")>;
using connect_atom = caf::atom_constant<caf::atom("trp_conn")>;
using watch_atom = caf::atom_constant<caf::atom("trp_watch")>;
using stats_atom = caf::atom_constant<caf::atom("trp_stats")>;
using actors::subscribe_atom;
using actors::unsubscribe_atom;

} // namespace troupe::transport
