#pragma once

// Internal: the atoms and message element types the node's actors and its
// I/O side exchange. Not installed.

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "io.hpp"
#include "troupe/transport/node_actor.hpp"
#include "troupe/transport/node_config.hpp"
#include "troupe/wire.pb.h"

namespace troupe::transport::internal {

// I/O -> actors
using frame_atom = caf::atom_constant<caf::atom("trp_frame")>;
using io_closed_atom = caf::atom_constant<caf::atom("trp_closed")>;
using connected_atom = caf::atom_constant<caf::atom("trp_up")>;
using accepted_atom = caf::atom_constant<caf::atom("trp_accept")>;
// supervision -> node: the root supervisor, the connections supervisor
using supervisor_atom = caf::atom_constant<caf::atom("trp_suprv")>;
using connections_atom = caf::atom_constant<caf::atom("trp_conns")>;
// connection <-> node
using established_atom = caf::atom_constant<caf::atom("trp_estab")>;
using proxy_atom = caf::atom_constant<caf::atom("trp_proxy")>;
using close_atom = caf::atom_constant<caf::atom("trp_close")>;
// timers: `(timer_atom, <which>)` to oneself
using timer_atom = caf::atom_constant<caf::atom("trp_timer")>;
/// The proxy's deadline timer.
using sweep_atom = caf::atom_constant<caf::atom("trp_sweep")>;
using reconnect_atom = caf::atom_constant<caf::atom("trp_recon")>;
/// A held-back peer `down` is due (node_actor_impl.hpp).
using held_due_atom = caf::atom_constant<caf::atom("trp_held")>;
using stop_atom = caf::atom_constant<caf::atom("trp_nstop")>;
using stop_deadline_atom = caf::atom_constant<caf::atom("trp_stopdl")>;

/// One published actor.
struct route {
  caf::actor actor;
  delivery how = delivery::payload;
};

/// Published name -> actor. Immutable once shared: the node replaces the
/// whole table on every change.
using route_table = std::unordered_map<std::string, route>;
using routes_ptr = std::shared_ptr<const route_table>;

/// The node's current route table, shared with its connections, whose I/O
/// threads read it. Thread-safe. The node swaps in a new table before it
/// acknowledges a publish, so a request read after `publish` returned sees
/// the name.
class route_registry {
public:
  routes_ptr get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return routes_;
  }

  void set(routes_ptr x) {
    std::lock_guard<std::mutex> guard{mtx_};
    routes_.swap(x);
  }

private:
  mutable std::mutex mtx_;
  routes_ptr routes_ = std::make_shared<const route_table>();
};

using route_registry_ptr = std::shared_ptr<route_registry>;

using config_ptr = std::shared_ptr<const node_config>;

} // namespace troupe::transport::internal

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::transport::internal::connection_io_ptr)
