// The node actor and its supervisor tree. The node owns the routing tables:
// published names, connections by peer id and by address, callers waiting
// for a connection, and reconnect state. The listener and the connections
// are supervised children ("connections and the listener are supervised
// children of the node"):
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

#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include <troupe/actors/backoff.hpp>
#include <troupe/actors/log.hpp>
#include <troupe/supervisors/atoms.hpp>
#include <troupe/supervisors/spawn_with.hpp>
#include <troupe/supervisors/stop_reason.hpp>
#include <troupe/supervisors/supervisor.hpp>

#include <troupe/messages/error_category.hpp>

#include "actors.hpp"
#include "troupe/transport/atoms.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"

namespace troupe::transport::internal {

namespace {

struct dial_target {
  std::string host;
  uint16_t port = 0;
};

/// Called once a connection is established (error: never established).
using waiter = std::function<void(const caf::error&, const caf::actor&, const std::string&)>;

struct conn_entry {
  caf::actor actor;
  /// The address this node dialed; empty for accepted connections.
  std::string dial_addr;
  std::string peer_id;
  std::string peer_addr;
  std::string initiator;
  bool established = false;
  dial_target target;
};

/// A connection to start once the connections supervisor is known.
struct pending_start {
  connection_io_ptr io;
  handshake_role role;
  std::string host;
  uint16_t port = 0;
};

struct node_state {
  config_ptr cfg;
  std::string id;
  io_runtime_ptr rt;
  uint16_t port = 0;
  /// The root of the supervisor tree, and its "connections" child.
  caf::actor sup;
  caf::actor conn_sup;
  std::vector<pending_start> pending;
  routes_ptr routes = std::make_shared<route_table>();
  /// `routes`, as the connections' I/O threads read it.
  route_registry_ptr registry = std::make_shared<route_registry>();
  std::unordered_map<caf::actor_addr, conn_entry> conns;
  std::unordered_map<std::string, caf::actor> by_id;
  /// Dialed or advertised address -> connection; a null actor while the
  /// connection to a dialed address is being started.
  std::unordered_map<std::string, caf::actor> by_addr;
  std::unordered_map<std::string, std::vector<waiter>> waiters;
  /// Addresses this node dialed on request: reconnected after a loss.
  std::unordered_map<std::string, dial_target> remembered;
  std::unordered_map<std::string, actors::backoff_state> backoffs;
  std::vector<caf::actor> subscribers;
  bool stopping = false;
  std::shared_ptr<spdlog::logger> log = actors::logger("troupe.transport");
};

std::string address_of(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port);
}

bool is_permanent(const caf::error& reason) {
  return reason == transport_errc::duplicate_connection
         || reason == transport_errc::self_connection
         || reason == transport_errc::node_stopped;
}

/// A supervisor name is a path segment: no '/'.
std::string segment(std::string x) {
  for (auto& c : x)
    if (c == '/')
      c = '_';
  return x;
}

/// Starts a connection actor from `(connection_args, caf::actor parent)`.
caf::expected<caf::actor> start_connection(const supervisors::start_context& ctx) {
  if (!ctx.args.match_elements<connection_args, caf::actor>())
    return caf::make_error(caf::sec::invalid_argument,
                           "a connection starts from (connection_args, actor)");
  return ctx.system.spawn(connection_actor, ctx.args.get_as<connection_args>(0),
                          ctx.args.get_as<caf::actor>(1));
}

} // namespace

caf::behavior listener_actor(caf::event_based_actor* self, listener_io_ptr io,
                             caf::actor parent) {
  io->start(caf::actor_cast<caf::actor>(self));
  // Asked to stop: no new peers. A crash leaves the socket open for the
  // restarted listener (no rebind, no port to lose), which also gets the
  // peers accepted meanwhile; the node closes it when it ends.
  self->attach_functor([io](const caf::error& reason) {
    if (supervisors::is_normal_stop(reason))
      io->close();
    else
      io->detach();
  });
  return {
    [self, parent](accepted_atom, connection_io_ptr& conn) {
      self->send(parent, accepted_atom::value, std::move(conn));
    },
  };
}

namespace {

/// The node's supervisor tree (see the top of this file).
supervisors::supervisor_config node_supervision(const config_ptr& cfg,
                                                const std::string& node_id,
                                                listener_io_ptr listener,
                                                const caf::actor& node) {
  // The connections: a dynamic supervisor of temporary children. It stops
  // them in parallel, so its shutdown takes one timeout.
  supervisors::child_spec conn;
  conn.id = "conn";
  conn.start = start_connection;
  conn.restart = supervisors::restart_type::temporary;
  conn.shutdown = supervisors::shutdown_policy::timeout(cfg->stop_timeout);
  supervisors::supervisor_config conns;
  conns.name = "connections";
  conns.strategy = supervisors::restart_strategy::dynamic;
  conns.children = {conn};
  supervisors::child_spec conns_spec;
  conns_spec.id = "connections";
  conns_spec.kind = supervisors::child_kind::supervisor;
  conns_spec.shutdown = supervisors::shutdown_policy::timeout(conns.shutdown_bound());
  conns_spec.start = [conns, node](const supervisors::start_context& ctx)
    -> caf::expected<caf::actor> {
    auto result = supervisors::spawn_supervisor(ctx.system, conns, ctx.path, ctx.observers);
    if (result)
      caf::anon_send(node, connections_atom::value, *result);
    return result;
  };
  supervisors::supervisor_config root;
  root.name = "transport " + segment(node_id);
  root.strategy = supervisors::restart_strategy::one_for_one;
  root.intensity = supervisors::restart_intensity{3, std::chrono::seconds{10}};
  root.observers = cfg->observers;
  root.children.push_back(std::move(conns_spec));
  if (listener) {
    // The listener: a restarted one takes over the same socket.
    supervisors::child_spec lst;
    lst.id = "listener";
    lst.shutdown = supervisors::shutdown_policy::timeout(cfg->stop_timeout / 2);
    lst.start = supervisors::spawn_with(listener_actor, std::move(listener), node);
    root.children.push_back(std::move(lst));
  }
  return root;
}

} // namespace

caf::expected<node_handles> spawn_node_actor(caf::actor_system& sys, config_ptr cfg,
                                             std::string node_id, io_runtime_ptr rt,
                                             listener_io_ptr listener) {
  auto fn = [](caf::event_based_actor* self, config_ptr cfg, std::string node_id,
               io_runtime_ptr rt, listener_io_ptr lio) -> caf::behavior {
    auto st = std::make_shared<node_state>();
    st->cfg = std::move(cfg);
    st->id = std::move(node_id);
    st->rt = std::move(rt);
    st->port = lio ? lio->port() : uint16_t{0};
    auto me = caf::actor_cast<caf::actor>(self);
    // The listening socket outlives listener restarts; it closes with the
    // node at the latest.
    if (lio)
      self->attach_functor([lio](const caf::error&) { lio->close(); });

    auto notify = [self, st](auto... xs) {
      for (auto& sub : st->subscribers)
        self->send(sub, xs...);
    };

    auto resolve = [st](const std::string& addr, const caf::error& err,
                        const caf::actor& conn, const std::string& peer) {
      auto i = st->waiters.find(addr);
      if (i == st->waiters.end())
        return;
      auto ws = std::move(i->second);
      st->waiters.erase(i);
      for (auto& w : ws)
        w(err, conn, peer);
    };

    // Asks the connections supervisor for a connection actor and registers
    // it. The node awaits the reply: no message of the new connection (or
    // about it) is handled before it is in the tables.
    auto start = [self, st, me, resolve](pending_start req) {
      auto addr = req.role == handshake_role::initiator ? address_of(req.host, req.port)
                                                        : std::string{};
      connection_args args{st->cfg,
                           st->id,
                           req.io,
                           req.role,
                           req.host,
                           req.port,
                           st->cfg->listen ? st->cfg->host : std::string{},
                           st->port,
                           st->registry};
      auto on_error = [st, addr, io = req.io, resolve](caf::error& err) {
        st->log->warn("node {}: cannot start a connection{}: {}", st->id,
                      addr.empty() ? "" : " to " + addr, messages::describe(err));
        io->close();
        if (addr.empty())
          return;
        auto i = st->by_addr.find(addr);
        if (i != st->by_addr.end() && !i->second)
          st->by_addr.erase(i);
        resolve(addr, err, caf::actor{}, "");
      };
      self
        ->request(st->conn_sup, caf::infinite, supervisors::start_child_atom::value,
                  caf::make_message(std::move(args), me))
        .await(
          [self, st, req, addr](caf::actor& conn) {
            conn_entry entry;
            entry.actor = conn;
            if (!addr.empty()) {
              entry.dial_addr = addr;
              entry.target = dial_target{req.host, req.port};
              st->by_addr[addr] = conn;
            }
            st->conns.emplace(conn.address(), std::move(entry));
            self->monitor(conn);
          },
          on_error);
    };

    auto spawn_connection = [st, start](connection_io_ptr io, handshake_role role,
                                        const std::string& host, uint16_t port) {
      pending_start req{std::move(io), role, host, port};
      if (role == handshake_role::initiator)
        st->by_addr.emplace(address_of(host, port), caf::actor{}); // being started
      if (!st->conn_sup)
        st->pending.push_back(std::move(req));
      else
        start(std::move(req));
    };

    auto dial = [st, spawn_connection](const std::string& host, uint16_t port) {
      spawn_connection(make_tcp_connection(st->rt, st->cfg->max_frame_size),
                       handshake_role::initiator, host, port);
    };

    // Runs `w` once a connection to host:port is established.
    auto with_connection = [st, dial](const std::string& host, uint16_t port, waiter w) {
      if (st->stopping)
        return w(caf::make_error(transport_errc::node_stopped), caf::actor{}, "");
      auto addr = address_of(host, port);
      auto i = st->by_addr.find(addr);
      if (i != st->by_addr.end()) {
        if (i->second) {
          auto c = st->conns.find(i->second.address());
          if (c != st->conns.end() && c->second.established)
            return w(caf::none, c->second.actor, c->second.peer_id);
        }
      } else {
        dial(host, port);
      }
      st->waiters[addr].push_back(std::move(w));
    };

    auto begin_stop = [self, st, resolve] {
      if (st->stopping)
        return;
      st->stopping = true;
      st->log->info("node {}: stopping", st->id);
      std::vector<std::string> addrs;
      for (auto& kvp : st->waiters)
        addrs.push_back(kvp.first);
      for (auto& addr : addrs)
        resolve(addr, caf::make_error(transport_errc::node_stopped), caf::actor{}, "");
      for (auto& req : st->pending)
        req.io->close();
      st->pending.clear();
      if (!st->sup) {
        self->quit();
        return;
      }
      // The supervisor's shutdown is ordered and bounded; a last resort
      // covers a supervisor that does not finish.
      supervisors::request_shutdown(st->sup, supervisors::make_shutdown("node " + st->id));
      auto bound = st->cfg->stop_timeout + st->cfg->stop_timeout / 2;
      self->delayed_send(self, bound + std::chrono::milliseconds{500},
                         stop_deadline_atom::value);
    };

    auto schedule_reconnect = [self, st](const std::string& addr) {
      auto i = st->backoffs.find(addr);
      if (i == st->backoffs.end())
        i = st->backoffs.emplace(addr, actors::backoff_state{st->cfg->reconnect_backoff})
              .first;
      auto delay = i->second.next();
      st->log->info("node {}: reconnecting to {} in {} ms (attempt {})", st->id, addr,
                    std::chrono::duration_cast<std::chrono::milliseconds>(delay).count(),
                    i->second.attempts());
      self->delayed_send(self, delay, reconnect_atom::value, addr);
    };

    // A connection ended (its supervisor reports the same as an event).
    auto connection_down = [st, notify, resolve,
                            schedule_reconnect](const caf::actor_addr& source,
                                                const caf::error& reason) {
      auto i = st->conns.find(source);
      if (i == st->conns.end())
        return;
      auto entry = std::move(i->second);
      st->conns.erase(i);
      if (!entry.peer_id.empty()) {
        auto j = st->by_id.find(entry.peer_id);
        if (j != st->by_id.end() && j->second == entry.actor) {
          st->by_id.erase(j);
          notify(peer_down_atom::value, entry.peer_id,
                 entry.peer_addr.empty() ? entry.dial_addr : entry.peer_addr, reason);
        }
      }
      std::vector<std::string> lost;
      for (auto j = st->by_addr.begin(); j != st->by_addr.end();) {
        if (j->second == entry.actor) {
          lost.push_back(j->first);
          j = st->by_addr.erase(j);
        } else {
          ++j;
        }
      }
      for (auto& addr : lost) {
        auto failure = reason ? reason : caf::make_error(transport_errc::peer_lost);
        resolve(addr, failure, caf::actor{}, "");
        if (!st->stopping && st->cfg->reconnect && !is_permanent(reason)
            && st->remembered.count(addr) > 0)
          schedule_reconnect(addr);
      }
    };

    // Nothing links to the node but its owner: an exit message is a request
    // to stop.
    self->set_exit_handler([begin_stop](caf::exit_msg&) { begin_stop(); });

    self->set_down_handler([self, st, resolve, connection_down](caf::down_msg& msg) {
      if (st->sup && msg.source == st->sup.address()) {
        // The supervisor finished its shutdown, or gave up (the listener
        // kept failing): the node ends with it.
        if (!st->stopping) {
          st->log->error("node {}: supervisor failed: {}", st->id, messages::describe(msg.reason));
          std::vector<std::string> addrs;
          for (auto& kvp : st->waiters)
            addrs.push_back(kvp.first);
          for (auto& addr : addrs)
            resolve(addr, msg.reason, caf::actor{}, "");
          self->quit(msg.reason);
          return;
        }
        self->quit();
        return;
      }
      if (st->conns.count(msg.source) > 0)
        return connection_down(msg.source, msg.reason);
      // A published actor terminated: unpublish every name it had.
      auto table = std::make_shared<route_table>(*st->routes);
      bool changed = false;
      for (auto i = table->begin(); i != table->end();) {
        if (i->second.actor.address() == msg.source) {
          i = table->erase(i);
          changed = true;
        } else {
          ++i;
        }
      }
      if (!changed)
        return;
      st->routes = std::move(table);
      st->registry->set(st->routes);
    });

    auto update_routes = [st](std::shared_ptr<route_table> table) {
      st->routes = std::move(table);
      st->registry->set(st->routes);
    };

    return {
      [self, st](supervisor_atom, caf::actor& sup) {
        st->sup = std::move(sup);
        self->monitor(st->sup);
      },
      [st, start](connections_atom, caf::actor& conn_sup) {
        // The connections supervisor started (or was restarted).
        st->conn_sup = std::move(conn_sup);
        auto pending = std::move(st->pending);
        st->pending.clear();
        for (auto& req : pending)
          start(std::move(req));
      },
      [self, st, update_routes](publish_atom, const std::string& name, caf::actor& actor,
                                bool pass_envelope) -> caf::result<caf::ok_atom> {
        if (name.empty() || !actor)
          return caf::make_error(transport_errc::invalid_config,
                                 "publish needs a name and an actor");
        auto table = std::make_shared<route_table>(*st->routes);
        self->monitor(actor);
        (*table)[name] = route{std::move(actor), pass_envelope};
        update_routes(std::move(table));
        st->log->info("node {}: published '{}'", st->id, name);
        return caf::ok_atom::value;
      },
      [st, update_routes](unpublish_atom, const std::string& name) -> caf::ok_atom {
        auto table = std::make_shared<route_table>(*st->routes);
        if (table->erase(name) > 0)
          update_routes(std::move(table));
        return caf::ok_atom::value;
      },
      [self, with_connection](connect_atom, const std::string& host,
                              uint16_t port) -> caf::result<std::string> {
        auto rp = self->make_response_promise<std::string>();
        with_connection(host, port,
                        [rp](const caf::error& err, const caf::actor&,
                             const std::string& peer) mutable {
                          if (err)
                            rp.deliver(err);
                          else
                            rp.deliver(peer);
                        });
        return rp;
      },
      [self, with_connection](remote_atom, const std::string& name, const std::string& host,
                              uint16_t port) -> caf::result<caf::actor> {
        auto rp = self->make_response_promise<caf::actor>();
        with_connection(host, port,
                        [rp, name](const caf::error& err, const caf::actor& conn,
                                   const std::string&) mutable {
                          if (err)
                            rp.deliver(err);
                          else
                            rp.delegate(conn, proxy_atom::value, name);
                        });
        return rp;
      },
      [st](subscribe_atom, caf::actor& observer) {
        st->subscribers.push_back(std::move(observer));
      },
      [st, spawn_connection](accepted_atom, connection_io_ptr& io) {
        if (st->stopping) {
          io->close();
          return;
        }
        spawn_connection(std::move(io), handshake_role::acceptor, std::string{}, 0);
      },
      [self, st, notify, resolve](established_atom, const std::string& peer_id,
                                  const std::string& peer_addr,
                                  const std::string& initiator) {
        auto source = caf::actor_cast<caf::actor_addr>(self->current_sender());
        auto i = st->conns.find(source);
        if (i == st->conns.end())
          return;
        auto& entry = i->second;
        entry.established = true;
        entry.peer_id = peer_id;
        entry.peer_addr = peer_addr;
        entry.initiator = initiator;
        if (!entry.dial_addr.empty())
          // Once established, a dialed address is worth reconnecting to.
          st->remembered[entry.dial_addr] = entry.target;
        auto winner = entry.actor;
        auto j = st->by_id.find(peer_id);
        if (j != st->by_id.end() && j->second != entry.actor) {
          // Both nodes dialed each other: both keep the connection dialed by
          // the smaller node id, so they agree without another message.
          auto& other = st->conns[j->second.address()];
          bool keep_new = entry.initiator < other.initiator;
          auto loser = keep_new ? other.actor : entry.actor;
          winner = keep_new ? entry.actor : other.actor;
          st->log->info("node {}: two connections to {}; closing one", st->id, peer_id);
          self->send(loser, close_atom::value,
                     caf::make_error(transport_errc::duplicate_connection, peer_id));
        } else {
          notify(peer_up_atom::value, peer_id,
                 peer_addr.empty() ? entry.dial_addr : peer_addr);
        }
        st->by_id[peer_id] = winner;
        auto& won = st->conns[winner.address()];
        for (auto* addr : {&entry.dial_addr, &entry.peer_addr}) {
          if (addr->empty())
            continue;
          st->by_addr[*addr] = winner;
          st->backoffs.erase(*addr);
          resolve(*addr, caf::none, winner, won.peer_id);
        }
      },
      [st, dial](reconnect_atom, const std::string& addr) {
        if (st->stopping || st->by_addr.count(addr) > 0)
          return;
        auto i = st->remembered.find(addr);
        if (i != st->remembered.end())
          dial(i->second.host, i->second.port);
      },
      [begin_stop](stop_atom) { begin_stop(); },
      [self, st](stop_deadline_atom) {
        // The supervisor did not finish in time: killing it kills whatever
        // still runs below it.
        st->log->warn("node {}: supervisor did not stop in time; killed", st->id);
        if (st->sup)
          self->send_exit(st->sup, caf::exit_reason::kill);
        self->quit();
      },
    };
  };
  node_handles result;
  auto id = node_id;
  result.node = sys.spawn(fn, cfg, std::move(node_id), std::move(rt), listener);
  auto sup = supervisors::spawn_supervisor(sys,
                                           node_supervision(cfg, id, listener, result.node));
  if (!sup) {
    caf::anon_send_exit(result.node, caf::exit_reason::kill);
    return std::move(sup.error());
  }
  result.supervisor = std::move(*sup);
  caf::anon_send(result.node, supervisor_atom::value, result.supervisor);
  return result;
}

} // namespace troupe::transport::internal
