#include "node_actor_impl.hpp"

#include <caf/all.hpp>

#include <troupe/actors/human_units.hpp>
#include <troupe/actors/log.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/supervisors/atoms.hpp>
#include <troupe/supervisors/stop_reason.hpp>
#include <troupe/supervisors/supervisor.hpp>

#include "connection_actor.hpp"
#include "framing.hpp"
#include "listener_actor.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"
#include "troupe/wire.pb.h"

namespace troupe::transport::internal {

namespace {

std::string address_of(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port);
}

/// The IP of an "ip:port" address (IPv6 too: the port follows the last ':').
std::string ip_of(const std::string& address) {
  auto colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

/// A connection that ended for one of these reasons is not re-dialed.
bool is_permanent(const caf::error& reason) {
  return reason == transport_errc::duplicate_connection
    || reason == transport_errc::self_connection || reason == transport_errc::node_stopped;
}

/// The peer named by a `duplicate_connection` error (its context).
std::string duplicate_of(const caf::error& reason) {
  const auto& ctx = reason.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  return {};
}

/// A supervisor name is a path segment: no '/'.
std::string segment(std::string x) {
  for (auto& c : x)
    if (c == '/')
      c = '_';
  return x;
}

/// Starts a connection actor from `(connection_args, caf::actor parent)`.
caf::expected<caf::actor> start_connection_child(const supervisors::start_context& ctx) {
  if (!ctx.args.match_elements<connection_args, caf::actor>())
    return caf::make_error(caf::sec::invalid_argument,
                           "a connection starts from (connection_args, actor)");
  return ctx.system.spawn<connection_actor>(ctx.args.get_as<connection_args>(0),
                                            ctx.args.get_as<caf::actor>(1));
}

/// The "connections" child: a dynamic supervisor of temporary children. It
/// stops them in parallel, so its shutdown takes one timeout. Each
/// incarnation introduces itself to the node.
supervisors::child_spec connections_spec(const config_ptr& cfg, const caf::actor& node) {
  supervisors::child_spec conn;
  conn.id = "conn";
  conn.start = start_connection_child;
  conn.restart = supervisors::restart_type::temporary;
  conn.shutdown = supervisors::shutdown_policy::timeout(cfg->stop_timeout);
  // A peer that leaves in order is no warning (a peer lost is).
  conn.expected_exit = is_goodbye;
  supervisors::supervisor_config conns;
  conns.name = "connections";
  conns.strategy = supervisors::restart_strategy::dynamic;
  conns.children = {conn};
  auto result = supervisors::supervisor_child("connections", conns);
  result.start = [start = result.start,
                  node](const supervisors::start_context& ctx) -> caf::expected<caf::actor> {
    auto sup = start(ctx);
    if (sup)
      caf::anon_send(node, connections_atom::value, *sup);
    return sup;
  };
  return result;
}

/// The listener child: a restarted one takes over the same socket.
supervisors::child_spec listener_spec(const config_ptr& cfg, listener_io_ptr listener,
                                      const caf::actor& node) {
  supervisors::child_spec result;
  result.id = "listener";
  result.shutdown = supervisors::shutdown_policy::timeout(cfg->stop_timeout / 2);
  result.start = [listener,
                  node](const supervisors::start_context& ctx) -> caf::expected<caf::actor> {
    return ctx.system.spawn<listener_actor>(listener, node);
  };
  return result;
}

/// The node's supervisor tree (see node_actor_impl.hpp).
supervisors::supervisor_config node_supervision(const config_ptr& cfg,
                                                const std::string& node_id,
                                                listener_io_ptr listener,
                                                const caf::actor& node) {
  supervisors::supervisor_config root;
  root.name = "transport " + segment(node_id);
  root.strategy = supervisors::restart_strategy::one_for_one;
  root.intensity = supervisors::restart_intensity{3, std::chrono::seconds{10}};
  root.observers = cfg->observers;
  root.children.push_back(connections_spec(cfg, node));
  if (listener)
    root.children.push_back(listener_spec(cfg, std::move(listener), node));
  return root;
}

} // namespace

node_actor_impl::node_actor_impl(caf::actor_config& cfg, config_ptr settings,
                                 std::string node_id, io_runtime_ptr rt, tls_context_ptr tls,
                                 listener_io_ptr listener)
  : node_actor_internal::base(cfg),
    cfg_(std::move(settings)),
    id_(std::move(node_id)),
    rt_(std::move(rt)),
    tls_(std::move(tls)),
    listener_(std::move(listener)),
    port_(listener_ ? listener_->port() : uint16_t{0}),
    claims_(std::make_shared<connection_claims>(id_)),
    log_(actors::logger("troupe.transport")) {
  // nop
}

const char* node_actor_impl::name() const {
  return "troupe.node";
}

node_actor_impl::behavior_type node_actor_impl::make_behavior() {
  // The listening socket outlives listener restarts; it closes with the
  // node at the latest. Then the node lets go of every handle and of the
  // I/O runtime: its supervisor's start functions hold the node, so a
  // terminated node that kept its supervisor would never be freed.
  attach_functor([this](const caf::error&) {
    if (listener_)
      listener_->close();
    release_all();
  });
  // Nothing links to the node but its owner: an exit message is a request
  // to stop.
  set_exit_handler([this](caf::exit_msg&) { begin_stop(); });
  set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
  return {
    // -- public protocol --
    [this](publish_atom, caf::actor& actor, const std::string& name, delivery how) {
      return publish(std::move(actor), name, how);
    },
    [this](unpublish_atom, const std::string& name) { return unpublish(name); },
    [this](connect_atom, const std::string& host, uint16_t port) -> caf::result<std::string> {
      auto rp = make_response_promise<std::string>();
      with_connection(
        host, port,
        [rp](const caf::error& err, const caf::actor&, const std::string& peer) mutable {
          if (err)
            rp.deliver(err);
          else
            rp.deliver(peer);
        });
      return rp;
    },
    [this](remote_atom, const std::string& name, const std::string& host, uint16_t port) {
      return ask_connection(proxy_atom::value, name, host, port);
    },
    [this](watch_atom, const std::string& name, const std::string& host, uint16_t port) {
      return ask_connection(watch_atom::value, name, host, port);
    },
    [this](subscribe_atom, caf::actor& observer) { return subscribe(std::move(observer)); },
    [this](unsubscribe_atom, const caf::actor& observer) { return unsubscribe(observer); },
    [this](stats_atom) { return stats(); },
    // -- from its tree, its connections and its timers --
    [this](supervisor_atom, caf::actor& sup) {
      sup_ = std::move(sup);
      monitor(sup_);
    },
    [this](connections_atom, caf::actor& conn_sup) {
      // The connections supervisor started (or was restarted).
      conn_sup_ = std::move(conn_sup);
      auto pending = std::move(pending_);
      pending_.clear();
      for (auto& req : pending)
        start_connection(std::move(req));
    },
    [this](accepted_atom, connection_io_ptr& io) {
      if (stopping_)
        return io->close();
      auto ip = ip_of(io->remote_address());
      if (!admit(io, ip))
        return;
      add_connection(std::move(io), handshake_role::acceptor, std::string{}, 0, ip);
    },
    [this](established_atom, const std::string& peer_id, const std::string& peer_addr,
           const std::string& initiator) { on_established(peer_id, peer_addr, initiator); },
    [this](reconnect_atom, const std::string& addr) { on_reconnect(addr); },
    [this](stop_atom) { begin_stop(); },
    [this](stop_deadline_atom) { on_stop_deadline(); },
    [this](held_due_atom, const std::string& peer_id) {
      // No connection to the peer came up in time: it is down after all,
      // and the dials it refused wait for it in vain.
      auto up = by_id_.count(peer_id) > 0;
      if (auto i = held_down_.find(peer_id); i != held_down_.end()) {
        if (!up)
          observers_.notify(this, i->second);
        held_down_.erase(i);
      }
      if (auto i = awaiting_peer_.find(peer_id);
          !up && i != awaiting_peer_.end() && clock().now() >= i->second.due) {
        auto addrs = std::move(i->second.addrs);
        awaiting_peer_.erase(i);
        for (auto& addr : addrs) {
          resolve(addr,
                  caf::make_error(transport_errc::peer_lost, peer_id,
                                  "refused this node's dial as a duplicate, and its own "
                                  "connection did not come"),
                  caf::actor{}, "");
          // The peer may have refused it for a connection that was ending
          // (it had not noticed yet): try again, as after any loss.
          if (!stopping_ && cfg_->reconnect && remembered_.count(addr) > 0
              && by_addr_.count(addr) == 0)
            schedule_reconnect(addr);
        }
      }
    },
  };
}

void node_actor_impl::release_all() {
  sup_ = nullptr;
  conn_sup_ = nullptr;
  pending_.clear();
  routes_ = nullptr;
  conns_.clear();
  by_id_.clear();
  by_addr_.clear();
  waiters_.clear();
  observers_.clear();
  listener_ = nullptr;
  rt_ = nullptr;
}

// -- routing ------------------------------------------------------------------

caf::result<caf::ok_atom> node_actor_impl::publish(caf::actor actor, const std::string& name,
                                                   delivery how) {
  if (name.empty() || !actor)
    return caf::make_error(transport_errc::invalid_config,
                           "publish needs a name and an actor");
  auto table = std::make_shared<route_table>(*routes_);
  monitor(actor);
  (*table)[name] = route{std::move(actor), how};
  set_routes(std::move(table));
  log_->info("node {}: published '{}'", id_, name);
  return caf::ok_atom::value;
}

caf::ok_atom node_actor_impl::unpublish(const std::string& name) {
  auto table = std::make_shared<route_table>(*routes_);
  if (table->erase(name) > 0)
    set_routes(std::move(table));
  return caf::ok_atom::value;
}

void node_actor_impl::set_routes(std::shared_ptr<route_table> table) {
  routes_ = std::move(table);
  registry_->set(routes_);
}

void node_actor_impl::unpublish_all(const caf::actor_addr& actor) {
  auto table = std::make_shared<route_table>(*routes_);
  bool changed = false;
  for (auto i = table->begin(); i != table->end();) {
    if (i->second.actor.address() == actor) {
      i = table->erase(i);
      changed = true;
    } else {
      ++i;
    }
  }
  if (changed)
    set_routes(std::move(table));
}

// -- connections --------------------------------------------------------------

void node_actor_impl::add_connection(connection_io_ptr io, handshake_role role,
                                     const std::string& host, uint16_t port,
                                     std::string accepted_ip) {
  pending_start req{std::move(io), role, host, port, std::move(accepted_ip)};
  if (role == handshake_role::initiator)
    by_addr_.emplace(address_of(host, port), caf::actor{}); // being started
  if (!conn_sup_)
    pending_.push_back(std::move(req));
  else
    start_connection(std::move(req));
}

bool node_actor_impl::admit(const connection_io_ptr& io, const std::string& ip) {
  auto& from_ip = accepted_by_ip_[ip];
  const char* limit = nullptr;
  if (accepted_open_ >= cfg_->max_connections)
    limit = "max_connections";
  else if (from_ip >= cfg_->max_connections_per_address)
    limit = "max_connections_per_address";
  if (limit == nullptr) {
    ++accepted_open_;
    ++from_ip;
    return true;
  }
  if (from_ip == 0)
    accepted_by_ip_.erase(ip);
  auto err = caf::make_error(transport_errc::too_many_connections,
                             std::string{limit} + " reached, refusing " + ip);
  log_->warn("node {}: {}", id_, messages::describe(err));
  // The peer learns why before the close: a Refusal is the one frame the
  // protocol allows an acceptor to send before its Challenge.
  wire::Frame refusal;
  to_wire_error(err, messages::describe(err), *refusal.mutable_refusal()->mutable_error());
  std::string bytes;
  if (append_frame(refusal, cfg_->max_handshake_frame_size, bytes))
    io->close();
  else
    io->send_and_close(bytes);
  return false;
}

void node_actor_impl::release(const std::string& ip) {
  if (accepted_open_ > 0)
    --accepted_open_;
  auto i = accepted_by_ip_.find(ip);
  if (i != accepted_by_ip_.end() && --i->second == 0)
    accepted_by_ip_.erase(i);
}

void node_actor_impl::start_connection(pending_start req) {
  auto addr =
    req.role == handshake_role::initiator ? address_of(req.host, req.port) : std::string{};
  connection_args args{cfg_,
                       id_,
                       req.io,
                       req.role,
                       req.host,
                       req.port,
                       cfg_->listen ? cfg_->host : std::string{},
                       port_,
                       registry_,
                       claims_};
  auto me = caf::actor_cast<caf::actor>(this);
  request(conn_sup_, caf::infinite, supervisors::start_child_atom::value,
          caf::make_message(std::move(args), me))
    .await(
      [this, req, addr](caf::actor& conn) {
        connection_entry entry;
        entry.actor = conn;
        entry.accepted_ip = req.accepted_ip;
        if (!addr.empty()) {
          entry.dial_addr = addr;
          entry.target = dial_target{req.host, req.port};
          by_addr_[addr] = conn;
        }
        conns_.emplace(conn.address(), std::move(entry));
        monitor(conn);
      },
      [this, addr, io = req.io, ip = req.accepted_ip](caf::error& err) {
        log_->warn("node {}: cannot start a connection{}: {}", id_,
                   addr.empty() ? "" : " to " + addr, messages::describe(err));
        io->close();
        if (!ip.empty())
          release(ip);
        if (addr.empty())
          return;
        auto i = by_addr_.find(addr);
        if (i != by_addr_.end() && !i->second)
          by_addr_.erase(i);
        resolve(addr, err, caf::actor{}, "");
      });
}

void node_actor_impl::dial(const std::string& host, uint16_t port) {
  add_connection(make_tcp_connection(rt_, cfg_->max_handshake_frame_size, tls_),
                 handshake_role::initiator, host, port);
}

void node_actor_impl::with_connection(const std::string& host, uint16_t port, waiter w) {
  if (stopping_)
    return w(caf::make_error(transport_errc::node_stopped), caf::actor{}, "");
  auto addr = address_of(host, port);
  auto i = by_addr_.find(addr);
  if (i == by_addr_.end()) {
    // A connection with a peer listening there may be established already
    // without this node having heard of it (its message is on the way):
    // a dial now would only be refused as a duplicate.
    if (!claims_->established_at(addr))
      dial(host, port);
  } else if (i->second) {
    auto c = conns_.find(i->second.address());
    if (c != conns_.end() && c->second.established)
      return w(caf::none, c->second.actor, c->second.peer_id);
  }
  waiters_[addr].push_back(std::move(w));
}

void node_actor_impl::resolve(const std::string& addr, const caf::error& err,
                              const caf::actor& connection, const std::string& peer_id) {
  auto i = waiters_.find(addr);
  if (i == waiters_.end())
    return;
  auto ws = std::move(i->second);
  waiters_.erase(i);
  for (auto& w : ws)
    w(err, connection, peer_id);
}

void node_actor_impl::resolve_all(const caf::error& err) {
  std::vector<std::string> addrs;
  for (auto& kvp : waiters_)
    addrs.push_back(kvp.first);
  for (auto& addr : addrs)
    resolve(addr, err, caf::actor{}, "");
}

void node_actor_impl::on_established(const std::string& peer_id, const std::string& peer_addr,
                                     const std::string& initiator) {
  auto i = conns_.find(caf::actor_cast<caf::actor_addr>(current_sender()));
  if (i == conns_.end())
    return;
  auto& entry = i->second;
  entry.established = true;
  entry.peer_id = peer_id;
  entry.peer_addr = peer_addr;
  entry.initiator = initiator;
  if (!entry.dial_addr.empty())
    // Once established, a dialed address is worth reconnecting to.
    remembered_[entry.dial_addr] = entry.target;
  auto winner = entry.actor;
  // A down held back for this peer: it only replaced one connection by
  // another, and for the observers it never went away.
  bool held_for_peer = held_down_.erase(peer_id) > 0;
  auto j = by_id_.find(peer_id);
  if (j != by_id_.end() && j->second != entry.actor) {
    // Both nodes dialed each other: both keep the connection dialed by the
    // smaller node id, so they agree without another message.
    auto& other = conns_[j->second.address()];
    bool keep_new = entry.initiator < other.initiator;
    auto loser = keep_new ? other.actor : entry.actor;
    winner = keep_new ? entry.actor : other.actor;
    log_->info("node {}: two connections to {}; closing one", id_, peer_id);
    caf::anon_send(loser, close_atom::value,
                   caf::make_error(transport_errc::duplicate_connection, peer_id));
  } else if (!held_for_peer) {
    notify_up(entry, peer_id, peer_addr);
  }
  by_id_[peer_id] = winner;
  auto& won = conns_[winner.address()];
  std::vector<std::string> addrs{entry.dial_addr, entry.peer_addr};
  if (auto k = awaiting_peer_.find(peer_id); k != awaiting_peer_.end()) {
    // Dials of this node the peer refused: this connection serves them.
    addrs.insert(addrs.end(), k->second.addrs.begin(), k->second.addrs.end());
    awaiting_peer_.erase(k);
  }
  for (auto& addr : addrs) {
    if (addr.empty())
      continue;
    by_addr_[addr] = winner;
    backoffs_.erase(addr);
    reconnecting_.erase(addr);
    resolve(addr, caf::none, winner, won.peer_id);
  }
}

caf::result<caf::actor> node_actor_impl::ask_connection(caf::atom_value what,
                                                        const std::string& name,
                                                        const std::string& host,
                                                        uint16_t port) {
  auto rp = make_response_promise<caf::actor>();
  with_connection(host, port,
                  [rp, what, name](const caf::error& err, const caf::actor& connection,
                                   const std::string&) mutable {
                    if (err)
                      rp.deliver(err);
                    else
                      rp.delegate(connection, what, name);
                  });
  return rp;
}

void node_actor_impl::notify_up(const connection_entry& entry, const std::string& peer_id,
                                const std::string& peer_addr) {
  observers_.notify(
    this,
    peer_event{peer_status::up, peer_id, peer_addr.empty() ? entry.dial_addr : peer_addr, {}});
}

const caf::actor* node_actor_impl::dialing(const std::string& address) const {
  if (address.empty())
    return nullptr;
  for (const auto& [addr, e] : conns_)
    if (!e.established && e.dial_addr == address)
      return &e.actor;
  return nullptr;
}

void node_actor_impl::on_connection_down(const caf::actor_addr& source,
                                         const caf::error& reason) {
  auto i = conns_.find(source);
  if (i == conns_.end())
    return;
  auto entry = std::move(i->second);
  conns_.erase(i);
  if (!entry.accepted_ip.empty())
    release(entry.accepted_ip);
  if (!entry.peer_id.empty()) {
    auto j = by_id_.find(entry.peer_id);
    if (j != by_id_.end() && j->second == entry.actor) {
      by_id_.erase(j);
      peer_event down{peer_status::down, entry.peer_id,
                      entry.peer_addr.empty() ? entry.dial_addr : entry.peer_addr, reason};
      // The peer keeps another connection to this node (it said so), or
      // this node is dialing it: wait for that connection before telling
      // the observers anything.
      if (reason == transport_errc::duplicate_connection || dialing(down.address) != nullptr) {
        held_down_[entry.peer_id] = std::move(down);
        delayed_send(this, cfg_->handshake_timeout + cfg_->connect_timeout,
                     held_due_atom::value, entry.peer_id);
      } else {
        observers_.notify(this, down);
      }
    }
  } else if (!entry.established && !entry.dial_addr.empty()
             && reason == transport_errc::duplicate_connection) {
    // A dial ended as a duplicate in its handshake: the peer has, or is
    // about to have, its own connection with this node. Its waiters get
    // that one, not an error.
    auto peer = duplicate_of(reason);
    remembered_[entry.dial_addr] = entry.target;
    if (auto j = by_id_.find(peer); j != by_id_.end()) {
      by_addr_[entry.dial_addr] = j->second;
      backoffs_.erase(entry.dial_addr);
      reconnecting_.erase(entry.dial_addr);
      resolve(entry.dial_addr, caf::none, j->second, peer);
    } else {
      by_addr_.erase(entry.dial_addr);
      auto wait = cfg_->handshake_timeout + cfg_->connect_timeout;
      auto& w = awaiting_peer_[peer];
      w.addrs.push_back(entry.dial_addr);
      w.due = clock().now() + wait;
      delayed_send(this, wait, held_due_atom::value, peer);
    }
    return;
  } else if (!entry.established && !entry.dial_addr.empty()) {
    // A dial that failed: a down held back for a peer at that address
    // waited for it in vain.
    for (auto h = held_down_.begin(); h != held_down_.end();) {
      if (h->second.address == entry.dial_addr && by_id_.count(h->first) == 0) {
        observers_.notify(this, h->second);
        h = held_down_.erase(h);
      } else {
        ++h;
      }
    }
  }
  std::vector<std::string> lost;
  for (auto j = by_addr_.begin(); j != by_addr_.end();) {
    if (j->second == entry.actor) {
      lost.push_back(j->first);
      j = by_addr_.erase(j);
    } else {
      ++j;
    }
  }
  for (auto& addr : lost) {
    resolve(addr, reason ? reason : caf::make_error(transport_errc::peer_lost), caf::actor{},
            "");
    if (!stopping_ && cfg_->reconnect && !is_permanent(reason) && remembered_.count(addr) > 0)
      schedule_reconnect(addr);
    else
      reconnecting_.erase(addr); // given up on (or never to be dialed again)
  }
}

// -- reconnect ----------------------------------------------------------------

void node_actor_impl::schedule_reconnect(const std::string& addr) {
  auto i = backoffs_.find(addr);
  if (i == backoffs_.end())
    i = backoffs_.emplace(addr, actors::backoff_state{cfg_->reconnect_backoff}).first;
  auto delay = i->second.next();
  ++reconnects_total_;
  reconnecting_.insert(addr);
  log_->info("node {}: reconnecting to {} in {} (attempt {})", id_, addr,
             actors::human_duration(delay), i->second.attempts());
  delayed_send(this, delay, reconnect_atom::value, addr);
}

void node_actor_impl::on_reconnect(const std::string& addr) {
  if (stopping_ || by_addr_.count(addr) > 0)
    return;
  auto i = remembered_.find(addr);
  if (i != remembered_.end())
    dial(i->second.host, i->second.port);
}

// -- observers ----------------------------------------------------------------

transport_stats node_actor_impl::stats() const {
  transport_stats result;
  for (auto& [addr, entry] : conns_) {
    if (entry.established)
      ++result.connections_up;
    else
      ++result.connections_handshaking;
    if (!entry.accepted_ip.empty())
      ++result.connections_accepted;
  }
  result.reconnects_pending = static_cast<uint32_t>(reconnecting_.size());
  result.reconnects_total = reconnects_total_;
  if (rt_) {
    auto& c = rt_->counters();
    result.frames_in = c.frames_in.load(std::memory_order_relaxed);
    result.bytes_in = c.bytes_in.load(std::memory_order_relaxed);
    result.frames_out = c.frames_out.load(std::memory_order_relaxed);
    result.bytes_out = c.bytes_out.load(std::memory_order_relaxed);
  }
  return result;
}

caf::ok_atom node_actor_impl::subscribe(caf::actor observer) {
  if (observers_.add(observer))
    monitor(observer);
  return caf::ok_atom::value;
}

caf::ok_atom node_actor_impl::unsubscribe(const caf::actor& observer) {
  if (observer && observers_.remove(observer.address()))
    demonitor(observer);
  return caf::ok_atom::value;
}

// -- stopping -----------------------------------------------------------------

void node_actor_impl::begin_stop() {
  if (stopping_)
    return;
  stopping_ = true;
  log_->info("node {}: stopping", id_);
  reconnecting_.clear();
  resolve_all(caf::make_error(transport_errc::node_stopped));
  for (auto& req : pending_)
    req.io->close();
  pending_.clear();
  if (!sup_) {
    quit();
    return;
  }
  // The supervisor's shutdown is ordered and bounded; a last resort covers
  // a supervisor that does not finish.
  supervisors::request_shutdown(sup_, supervisors::make_shutdown("node " + id_));
  auto bound = cfg_->stop_timeout + cfg_->stop_timeout / 2;
  delayed_send(this, bound + std::chrono::milliseconds{500}, stop_deadline_atom::value);
}

void node_actor_impl::on_down(const caf::down_msg& msg) {
  if (sup_ && msg.source == sup_.address()) {
    // The supervisor finished its shutdown, or gave up (the listener kept
    // failing): the node ends with it.
    if (stopping_)
      return quit();
    log_->error("node {}: supervisor failed: {}", id_, messages::describe(msg.reason));
    resolve_all(msg.reason);
    return quit(msg.reason);
  }
  if (conns_.count(msg.source) > 0)
    return on_connection_down(msg.source, msg.reason);
  observers_.remove(msg.source);
  unpublish_all(msg.source);
}

void node_actor_impl::on_stop_deadline() {
  // The supervisor did not finish in time: killing it kills whatever still
  // runs below it.
  log_->warn("node {}: supervisor did not stop in time; killed", id_);
  if (sup_)
    send_exit(sup_, caf::exit_reason::kill);
  quit();
}

// -- spawning -----------------------------------------------------------------

caf::expected<node_handles> spawn_node_actor(caf::actor_system& sys, config_ptr cfg,
                                             std::string node_id, io_runtime_ptr rt,
                                             tls_context_ptr tls, listener_io_ptr listener) {
  auto id = node_id;
  auto node = sys.spawn<node_actor_impl>(cfg, std::move(node_id), std::move(rt),
                                         std::move(tls), listener);
  auto dynamic = caf::actor_cast<caf::actor>(node);
  auto sup = supervisors::spawn_supervisor(sys, node_supervision(cfg, id, listener, dynamic));
  if (!sup) {
    caf::anon_send_exit(node, caf::exit_reason::kill);
    return std::move(sup.error());
  }
  auto root = caf::actor_cast<caf::actor>(std::move(*sup));
  caf::anon_send(node, supervisor_atom::value, root);
  return node_handles{caf::actor_cast<node_actor>(node), std::move(root)};
}

} // namespace troupe::transport::internal
