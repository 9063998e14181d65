// The node actor and its listener child. The node owns the routing tables:
// published names, connections by peer id and by address, callers waiting
// for a connection, and reconnect state.
//
// Children and their order (issue 5: "connections and the listener are
// supervised children of the node"): the node links to the listener and to
// every connection and traps their exits; it stops the listener first, then
// the connections, then itself.
//
// SUPERVISION PLUGS IN HERE: when troupe::supervisors lands, the listener and
// the connections become child specs of a supervisor owned by the node
// (listener: permanent; connection: temporary, because reconnecting is a
// policy of the node with its own backoff). `child_down` below is the hook
// that a supervisor's exit event replaces.

#include <set>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include <troupe/actors/backoff.hpp>
#include <troupe/actors/log.hpp>

#include "actors.hpp"
#include "troupe/transport/atoms.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"

namespace troupe::transport::detail {

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

struct node_state {
  config_ptr cfg;
  std::string id;
  io_runtime_ptr rt;
  listener_io_ptr lio;
  uint16_t port = 0;
  caf::actor listener;
  routes_ptr routes = std::make_shared<route_table>();
  /// `routes`, as the connections' I/O threads read it.
  route_registry_ptr registry = std::make_shared<route_registry>();
  std::unordered_map<caf::actor_addr, conn_entry> conns;
  std::unordered_map<std::string, caf::actor> by_id;
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

} // namespace

caf::behavior listener_actor(caf::event_based_actor* self, listener_io_ptr io,
                             caf::actor parent) {
  io->start(caf::actor_cast<caf::actor>(self));
  self->attach_functor([io](const caf::error&) { io->close(); });
  return {
    [self, parent](accepted_atom, connection_io_ptr& conn) {
      self->send(parent, accepted_atom::value, std::move(conn));
    },
  };
}

caf::actor spawn_node_actor(caf::actor_system& sys, config_ptr cfg, std::string node_id,
                            io_runtime_ptr rt, listener_io_ptr listener) {
  auto fn = [](caf::event_based_actor* self, config_ptr cfg, std::string node_id,
               io_runtime_ptr rt, listener_io_ptr lio) -> caf::behavior {
    auto st = std::make_shared<node_state>();
    st->cfg = std::move(cfg);
    st->id = std::move(node_id);
    st->rt = std::move(rt);
    st->lio = std::move(lio);
    auto me = caf::actor_cast<caf::actor>(self);
    if (st->lio) {
      st->port = st->lio->port();
      st->listener = self->spawn<caf::linked + caf::monitored>(listener_actor, st->lio, me);
    }

    auto notify = [self, st](auto... xs) {
      for (auto& sub : st->subscribers)
        self->send(sub, xs...);
    };

    auto spawn_connection = [self, st, me](connection_io_ptr io, handshake_role role,
                                           const std::string& host, uint16_t port) {
      connection_args args{st->cfg,
                           st->id,
                           std::move(io),
                           role,
                           host,
                           port,
                           st->lio ? st->cfg->host : std::string{},
                           st->port,
                           st->registry};
      auto conn = self->spawn<caf::linked + caf::monitored>(connection_actor,
                                                            std::move(args), me);
      conn_entry entry;
      entry.actor = conn;
      if (role == handshake_role::initiator) {
        entry.dial_addr = address_of(host, port);
        entry.target = dial_target{host, port};
        st->by_addr[entry.dial_addr] = conn;
      }
      st->conns.emplace(conn.address(), std::move(entry));
      return conn;
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
        auto& entry = st->conns[i->second.address()];
        if (entry.established)
          return w(caf::none, entry.actor, entry.peer_id);
      } else {
        dial(host, port);
      }
      st->waiters[addr].push_back(std::move(w));
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

    auto finish_stop = [self, st] {
      if (st->stopping && !st->listener && st->conns.empty())
        self->quit();
    };

    auto stop_connections = [self, st, finish_stop] {
      for (auto& kvp : st->conns)
        self->send_exit(kvp.second.actor, caf::exit_reason::user_shutdown);
      finish_stop();
    };

    auto begin_stop = [self, st, resolve, stop_connections] {
      if (st->stopping)
        return;
      st->stopping = true;
      st->log->info("node {}: stopping", st->id);
      std::vector<std::string> addrs;
      for (auto& kvp : st->waiters)
        addrs.push_back(kvp.first);
      for (auto& addr : addrs)
        resolve(addr, caf::make_error(transport_errc::node_stopped), caf::actor{}, "");
      // Bound the whole shutdown even if a child hangs.
      self->delayed_send(self, std::chrono::seconds{2}, stop_deadline_atom::value);
      if (st->listener)
        self->send_exit(st->listener, caf::exit_reason::user_shutdown);
      else
        stop_connections();
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

    // A child ended. SUPERVISION PLUGS IN HERE (see the top of this file).
    auto child_down = [self, st, notify, resolve, finish_stop, stop_connections,
                       schedule_reconnect](const caf::actor_addr& source,
                                           const caf::error& reason) {
      if (st->listener && source == st->listener.address()) {
        st->listener = nullptr;
        if (st->stopping)
          stop_connections();
        else
          st->log->error("node {}: listener died: {}", st->id, describe(reason));
        return;
      }
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
      finish_stop();
    };

    // Children are linked (they die with the node) *and* monitored: CAF
    // unlinks an actor from the sender of an exit message, so a child the
    // node told to stop would never send its exit back; the down message
    // always arrives.
    self->set_exit_handler([st, begin_stop](caf::exit_msg& msg) {
      if ((st->listener && msg.source == st->listener.address())
          || st->conns.count(msg.source) > 0)
        return; // handled by the down message
      begin_stop();
    });

    self->set_down_handler([self, st, child_down](caf::down_msg& msg) {
      if ((st->listener && msg.source == st->listener.address())
          || st->conns.count(msg.source) > 0)
        return child_down(msg.source, msg.reason);
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
        if (st->listener)
          self->send_exit(st->listener, caf::exit_reason::kill);
        for (auto& kvp : st->conns)
          self->send_exit(kvp.second.actor, caf::exit_reason::kill);
        st->log->warn("node {}: children did not stop in time; killed", st->id);
        self->quit();
      },
    };
  };
  return sys.spawn(fn, std::move(cfg), std::move(node_id), std::move(rt),
                   std::move(listener));
}

} // namespace troupe::transport::detail
