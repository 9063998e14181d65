#pragma once

/// A node: this process's endpoint in a Troupe cluster. It listens for
/// peers, connects to peers by host:port (one connection per peer pair),
/// publishes local actors under names and hands out proxies for remote ones.
///
/// Structure (Asio only on the node's own I/O thread(s)):
///
///   node actor ── routing tables (published names, peers), reconnects
///    └─ supervisor "transport <node id>"              (one_for_one)
///        ├─ "connections" supervisor                  (dynamic)
///        │   └─ "conn-<n>" connection actor, one per peer (temporary):
///        │       handshake, heartbeats, goodbye; owns the proxies, one per
///        │       remote name (a remote actor's local handle)
///        └─ "listener" actor: accepts connections     (permanent)
///
/// The supervisors are `troupe::supervisors` supervisors: their lifecycle
/// events go to `node_config::observers` and to the log, a listener that
/// crashes is restarted (bound to the same port again), and `stop` is their
/// ordered, bounded shutdown (listener first, then every connection in
/// parallel). Connections are temporary children: re-dialing a lost peer is
/// the node's job, with `node_config::reconnect_backoff`.
///
/// A proxy is an ordinary `caf::actor`: `send` and `request` it with any
/// registered protobuf message (optionally preceded by `call_options`).
/// When the connection fails, the proxy fails every pending request with the
/// typed reason (`peer_lost`, `peer_timeout`, ...) and quits with it, so
/// `monitor(proxy)` yields a `down_msg` carrying that reason.
///
/// Usage:
///   troupe::transport::node_config cfg;            // 127.0.0.1, ephemeral port
///   auto n = troupe::transport::node::start(sys, cfg);
///   n->publish(calculator, "calc");
///   auto calc = n->remote_actor("calc@127.0.0.1:4711");
///   self->request(*calc, 1s, demo::v1::Add{...}).receive(...);
///
/// Thread safety: the member functions block the calling thread (bounded by
/// the config's timeouts) and may be called from any non-actor thread; from
/// inside an actor, send the node actor (`handle()`) the messages of its
/// typed protocol (`node_actor.hpp`) instead.

#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "troupe/transport/node_actor.hpp"
#include "troupe/transport/node_config.hpp"

namespace troupe::transport {

class node {
public:
  // -- constructors, destructors, and assignment operators -----------------

  /// Validates `cfg`, starts the I/O thread(s), listens (if `cfg.listen`)
  /// and spawns the node actor and its supervisor tree; returns once the
  /// tree runs (a peer connecting right after finds a listener), waiting at
  /// most 10 s. Errors: `invalid_config`, `listen_failed`.
  static caf::expected<node> start(caf::actor_system& sys, node_config cfg);

  /// Same with `node_config::from(sys.config())`: the `troupe.node.*` keys
  /// of the command line and config file, the defaults unless set.
  static caf::expected<node> start(caf::actor_system& sys);

  node(node&&) noexcept;
  node& operator=(node&&) noexcept;
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// Stops the node (see `stop`).
  ~node();

  // -- properties -----------------------------------------------------------

  /// The port the node listens on (the actual one when configured as 0).
  uint16_t port() const noexcept;

  /// This node's id.
  const std::string& id() const noexcept;

  /// The node actor, for use from inside actors (see `node_actor.hpp`).
  node_actor handle() const noexcept;

  /// The root of the node's supervisor tree (see above): send it
  /// `troupe::supervisors::which_children_atom` or
  /// `(troupe::actors::subscribe_atom, observer)` like any supervisor.
  caf::actor supervisor() const noexcept;

  // -- publishing -------------------------------------------------------------

  /// Makes `actor` reachable as `name@<host>:<port>`. With
  /// `delivery::with_envelope`, the actor receives `(troupe::Envelope,
  /// payload)` (the envelope without its payload bytes: sender, trace
  /// context, deadline, attempt) instead of the payload alone. A published
  /// actor that terminates is unpublished.
  caf::error publish(const caf::actor& actor, const std::string& name,
                     delivery how = delivery::payload);

  /// Removes `name`. Later envelopes for it get `unknown_actor`.
  caf::error unpublish(const std::string& name);

  // -- remote actors ----------------------------------------------------------

  /// Connects to `host:port` unless connected already; returns the peer's id.
  caf::expected<std::string> connect(const std::string& host, uint16_t port);

  /// Returns a proxy for the actor published as `name` on `host:port`,
  /// connecting first if needed. The proxy does not check that the name is
  /// published: requests to an unknown name fail with `unknown_actor`.
  caf::expected<caf::actor> remote_actor(const std::string& name, const std::string& host,
                                         uint16_t port);

  /// Same, from "name@host:port".
  caf::expected<caf::actor> remote_actor(const std::string& address);

  /// A remote monitor of the actor published as `name` on `host:port` now
  /// (see `node_actor.hpp`, `watch_atom`): `monitor` the returned actor;
  /// its down message carries the remote actor's exit reason, or the
  /// connection's when that node is lost or leaves first. Connects first if
  /// needed.
  caf::expected<caf::actor> watch(const std::string& name, const std::string& host,
                                  uint16_t port);

  /// Sends `observer` a `peer_event` whenever a peer comes up or goes down,
  /// until it unsubscribes or terminates.
  void subscribe(const caf::actor& observer);

  /// Stops sending `observer` peer events.
  void unsubscribe(const caf::actor& observer);

  // -- shutdown ---------------------------------------------------------------

  /// Stops in order, by the supervisor's shutdown: the listener first (no
  /// new peers), then every connection (each says goodbye; its proxies fail
  /// pending requests with `node_stopped`), then the node actor, then the I/O
  /// thread(s). Bounded by 1.5 × `node_config::stop_timeout` (children that
  /// hang are killed) plus a margin. Idempotent.
  void stop();

private:
  struct impl;
  explicit node(std::unique_ptr<impl> ptr);

  template <class Reply, class... Ts>
  caf::expected<Reply> ask(caf::timespan bound, Ts&&... xs);
  std::unique_ptr<impl> impl_;
};

/// Splits "name@host:port" into its parts. Error: `invalid_address`.
caf::error parse_address(const std::string& address, std::string& name, std::string& host,
                         uint16_t& port);

} // namespace troupe::transport
