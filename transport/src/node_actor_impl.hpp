#pragma once

// Internal: the node actor (its protocol: troupe/transport/node_actor.hpp)
// and its supervisor tree. The node owns the routing tables: published
// names, connections by peer id and by address, callers waiting for a
// connection, and reconnect state. The listener and the connections are
// supervised children:
//
//   supervisor "transport <node id>"     one_for_one, observers from the config
//    ├─ "connections" supervisor          dynamic; "conn-<n>", temporary
//    └─ "listener"                        permanent (re-binds its port)
//
// Children start in that order and stop in reverse order, so a stop closes
// the listener first and then says goodbye on every connection (in
// parallel), each within its shutdown timeout. The node asks the
// connections supervisor for every new connection (`start_child`) and
// monitors the connection it gets for its own bookkeeping (peer tables,
// waiters, reconnects); the supervisor reports the same exit as a
// supervision event. A connection is never restarted by its supervisor:
// re-dialing is the node's job, with its backoff, and only for addresses it
// dialed.

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <troupe/actors/backoff.hpp>
#include <troupe/actors/observers.hpp>

#include "connection_claims.hpp"
#include "handshake.hpp"
#include "io.hpp"
#include "io_messages.hpp"
#include "troupe/transport/node_actor.hpp"

namespace spdlog {
class logger;
} // namespace spdlog

namespace troupe::transport::internal {

/// The node's full protocol: the public one plus what its own tree, its
/// connections and its timers tell it.
using node_actor_internal = node_actor::extend<
  caf::reacts_to<supervisor_atom, caf::actor>, caf::reacts_to<connections_atom, caf::actor>,
  caf::reacts_to<accepted_atom, connection_io_ptr>,
  caf::reacts_to<established_atom, std::string, std::string, std::string>,
  caf::reacts_to<reconnect_atom, std::string>, caf::reacts_to<held_due_atom, std::string>,
  caf::reacts_to<stop_atom>, caf::reacts_to<stop_deadline_atom>>;

class node_actor_impl final : public node_actor_internal::base {
public:
  node_actor_impl(caf::actor_config& cfg, config_ptr settings, std::string node_id,
                  io_runtime_ptr rt, tls_context_ptr tls, listener_io_ptr listener);

  const char* name() const override;

  behavior_type make_behavior() override;

private:
  /// Called once a connection to an address is established (or not).
  using waiter = std::function<void(const caf::error&, const caf::actor& connection,
                                    const std::string& peer_id)>;

  struct dial_target {
    std::string host;
    uint16_t port = 0;
  };

  struct connection_entry {
    caf::actor actor;
    /// The address this node dialed; empty for accepted connections.
    std::string dial_addr;
    std::string peer_id;
    std::string peer_addr;
    std::string initiator;
    bool established = false;
    dial_target target;
    /// The remote IP of an accepted connection (counted against the
    /// connection limits until the connection ends); empty when dialed.
    std::string accepted_ip;
  };

  /// A connection to start once the connections supervisor is known.
  struct pending_start {
    connection_io_ptr io;
    handshake_role role = handshake_role::acceptor;
    std::string host;
    uint16_t port = 0;
    std::string accepted_ip;
  };

  // -- routing ----------------------------------------------------------------

  caf::result<caf::ok_atom> publish(caf::actor actor, const std::string& name, delivery how);

  caf::ok_atom unpublish(const std::string& name);

  /// Swaps in a new route table; connections read it on their I/O threads.
  void set_routes(std::shared_ptr<route_table> table);

  /// A published actor terminated: unpublishes every name it had.
  void unpublish_all(const caf::actor_addr& actor);

  // -- connections ------------------------------------------------------------

  /// Creates a connection actor (now, or once the connections supervisor is
  /// known).
  /// `accepted_ip`: the remote IP of an accepted connection, admitted
  /// against the connection limits (empty when dialed).
  void add_connection(connection_io_ptr io, handshake_role role, const std::string& host,
                      uint16_t port, std::string accepted_ip = {});

  /// Asks the connections supervisor for a connection actor and registers
  /// it. The node awaits the reply: no message of the new connection (or
  /// about it) is handled before it is in the tables.
  void start_connection(pending_start req);

  /// Counts an accepted connection from `ip` against `max_connections` and
  /// `max_connections_per_address`; false (and a refusal sent, the
  /// connection closed) when one is reached.
  bool admit(const connection_io_ptr& io, const std::string& ip);

  /// An accepted connection from `ip` ended (or never started).
  void release(const std::string& ip);

  void dial(const std::string& host, uint16_t port);

  /// Asks the connection to host:port (dialing first if there is none) for
  /// `(what, name)` — a proxy or a remote monitor — and answers with it.
  caf::result<caf::actor> ask_connection(caf::atom_value what, const std::string& name,
                                         const std::string& host, uint16_t port);

  /// Runs `w` once a connection to host:port is established, dialing first
  /// if there is none.
  void with_connection(const std::string& host, uint16_t port, waiter w);

  /// Resolves every waiter for `addr`.
  void resolve(const std::string& addr, const caf::error& err, const caf::actor& connection,
               const std::string& peer_id);

  /// Fails every waiter with `err`.
  void resolve_all(const caf::error& err);

  void on_established(const std::string& peer_id, const std::string& peer_addr,
                      const std::string& initiator);

  /// A connection ended (its supervisor reports the same as an event).
  void on_connection_down(const caf::actor_addr& source, const caf::error& reason);

  /// Tells the observers that `peer_id` is up through `entry`.
  void notify_up(const connection_entry& entry, const std::string& peer_id,
                 const std::string& peer_addr);

  /// The connection being established to `address` (dialed), if any.
  const caf::actor* dialing(const std::string& address) const;

  // -- reconnect --------------------------------------------------------------

  void schedule_reconnect(const std::string& addr);

  void on_reconnect(const std::string& addr);

  // -- observers --------------------------------------------------------------

  /// Connections by state, reconnects, frames and bytes (`stats_atom`).
  transport_stats stats() const;

  caf::ok_atom subscribe(caf::actor observer);

  caf::ok_atom unsubscribe(const caf::actor& observer);

  // -- stopping ---------------------------------------------------------------

  void release_all();

  void begin_stop();

  void on_down(const caf::down_msg& msg);

  void on_stop_deadline();

  config_ptr cfg_;
  std::string id_;
  io_runtime_ptr rt_;
  /// Null unless the node speaks TLS; every dialed connection uses it.
  tls_context_ptr tls_;
  listener_io_ptr listener_;
  uint16_t port_ = 0;
  /// The root of the supervisor tree, and its "connections" child.
  caf::actor sup_;
  caf::actor conn_sup_;
  std::vector<pending_start> pending_;
  routes_ptr routes_ = std::make_shared<route_table>();
  /// `routes_`, as the connections' I/O threads read it.
  route_registry_ptr registry_ = std::make_shared<route_registry>();
  /// Which connections exist with which peers, as the connection actors
  /// see it this instant (they decide duplicates in their handshakes).
  connection_claims_ptr claims_;
  std::unordered_map<caf::actor_addr, connection_entry> conns_;
  /// Accepted connections open, in total and per remote IP.
  uint32_t accepted_open_ = 0;
  std::unordered_map<std::string, uint32_t> accepted_by_ip_;
  std::unordered_map<std::string, caf::actor> by_id_;
  /// A peer's `down` held back, by peer id: both nodes dialed, and the
  /// connection this node used was dropped (by the peer: `duplicate_connection`)
  /// or lost while another one to the peer was still being established. The
  /// next connection established to that peer cancels it (the observers
  /// never see the peer go); otherwise it is sent when `held_due_atom`
  /// fires (one handshake and connect timeout later).
  std::unordered_map<std::string, peer_event> held_down_;
  /// Dialed addresses waiting for a peer's own connection, by peer id: the
  /// peer refused this node's dial as a duplicate (it dialed this node at
  /// the same time, and its dial won). Its connection, once established,
  /// resolves their waiters; `held_due_atom` fails them if it never comes.
  struct awaiting {
    std::vector<std::string> addrs;
    /// When they fail if the peer's connection has not come (a
    /// `held_due_atom` for the peer that fires earlier, e.g. for a held
    /// down, leaves them waiting).
    caf::actor_clock::time_point due;
  };
  std::unordered_map<std::string, awaiting> awaiting_peer_;
  /// Dialed or advertised address -> connection; a null actor while the
  /// connection to a dialed address is being started.
  std::unordered_map<std::string, caf::actor> by_addr_;
  std::unordered_map<std::string, std::vector<waiter>> waiters_;
  /// Addresses this node dialed on request: reconnected after a loss.
  std::unordered_map<std::string, dial_target> remembered_;
  std::unordered_map<std::string, actors::backoff_state> backoffs_;
  actors::observer_set observers_;
  /// Reconnects scheduled since the node started.
  uint64_t reconnects_total_ = 0;
  /// Lost addresses being reconnected (in backoff or dialing) until a
  /// connection is established or the node gives up on them.
  std::unordered_set<std::string> reconnecting_;
  bool stopping_ = false;
  std::shared_ptr<spdlog::logger> log_;
};

/// The node actor and the root of its supervisor tree.
struct node_handles {
  node_actor node;
  caf::actor supervisor;
};

/// Spawns the node actor and its supervisor tree (the listener, if
/// `listener` is not null, and the connections supervisor). `tls` is null
/// for a plaintext node.
caf::expected<node_handles> spawn_node_actor(caf::actor_system& sys, config_ptr cfg,
                                             std::string node_id, io_runtime_ptr rt,
                                             tls_context_ptr tls, listener_io_ptr listener);

} // namespace troupe::transport::internal
