#pragma once

// Internal: the connection actor, one per peer connection: the control
// plane. It runs the handshake, sends and checks heartbeats, owns the proxies
// for the peer's actors, and ends the connection with a typed reason. The
// data plane does not pass through it: inbound envelopes and replies are
// dispatched on the I/O thread (dispatcher.hpp), responses are encoded by
// the responder, requests by the proxies.
//
// Its protocol (all local, from the node, the dispatcher and itself):
//   (connected_atom)                    the dialed socket is up
//   (frame_atom, vector<wire::Frame>)   frames the dispatcher leaves to it
//   (io_closed_atom, error)             the socket closed or broke
//   (timeout_atom, connection_timer)    a timer of its own
//   (proxy_atom, string name) -> actor  a proxy for the peer's actor `name`
//   (watch_atom, string name) -> actor  a remote monitor of the peer's actor
//                                       `name` (Watch / WatchDown / Unwatch)
//   (close_atom, error)                 the node closes it (goodbye)
//   exit message                        the node stops (goodbye)
// It tells its parent `(established_atom, peer_id, peer_listen_address,
// initiator_id)` once the handshake is done, and quits with the typed reason
// when the connection ends.
//
// Time comes only from the actor clock, and bytes only through
// `connection_io`: tests drive it on CAF's deterministic scheduler with an
// in-memory connection (tests/transport/connection_actor.test.cpp).

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>

#include "connection_claims.hpp"
#include "dispatcher.hpp"
#include "handshake.hpp"
#include "io.hpp"
#include "io_messages.hpp"

namespace spdlog {
class logger;
} // namespace spdlog

namespace troupe::transport::internal {

/// Most remote monitors a peer may hold on this node's actors through one
/// connection; one more is answered at once with `too_many_requests`.
constexpr size_t max_watches_per_connection = 4096;

/// What a connection actor needs to start.
struct connection_args {
  config_ptr cfg;
  std::string node_id;
  connection_io_ptr io;
  handshake_role role = handshake_role::acceptor;
  /// Initiator only: where to dial.
  std::string host;
  uint16_t port = 0;
  /// Where this node listens (advertised in Hello), empty if it does not.
  std::string listen_host;
  uint16_t listen_port = 0;
  route_registry_ptr routes;
  /// The node's connections by peer, shared by its connection actors (null
  /// in tests of one connection: no duplicate is detected then).
  connection_claims_ptr claims;
};

/// The connection's own timers.
enum class connection_timer : uint8_t {
  /// The dial did not complete within `connect_timeout`.
  connect,
  /// The handshake did not complete within `handshake_timeout`.
  handshake,
  /// Time to send a heartbeat and check the peer's.
  heartbeat,
};

/// How a connection ends, and so what the peer is told.
enum class close_mode : uint8_t {
  /// We violated nothing but the peer did (bad frame, handshake timeout):
  /// an error frame, then close.
  protocol_error,
  /// We close on purpose (the node stops, a duplicate connection, the peer
  /// fell silent): a goodbye if the connection is established (the protocol
  /// allows none during the handshake), then close.
  goodbye,
  /// The peer said goodbye: an orderly close, nothing to send.
  peer_left,
  /// The socket broke or the dial failed: close.
  lost,
};

/// The reason a connection ends with when its peer said goodbye:
/// `peer_lost` (or `duplicate_connection`, if that is why the peer left),
/// with the peer's own reason in its context.
caf::error peer_said_goodbye(const caf::error& why);

/// True for a reason made by `peer_said_goodbye`: an orderly end, which the
/// connections supervisor logs at info (`child_spec::expected_exit`).
bool is_goodbye(const caf::error& reason);

class connection_actor final : public caf::event_based_actor {
public:
  connection_actor(caf::actor_config& cfg, connection_args args, caf::actor parent);

  ~connection_actor() override;

  const char* name() const override;

  caf::behavior make_behavior() override;

private:
  enum class phase : uint8_t { connecting, handshaking, established, closed };

  // -- starting ---------------------------------------------------------------

  /// Creates the data plane (responder, dispatcher) and starts the socket.
  void start_io();

  void arm(connection_timer which, caf::timespan delay);

  // -- handshake --------------------------------------------------------------

  void on_connected();

  void on_handshake_frame(const wire::Frame& frame);

  /// The handshake failed with `err`; `refusal` (if any) tells the peer.
  void fail_handshake(caf::error err, const wire::Frame* refusal);

  /// Ends the handshake because the peer has, or is about to have, another
  /// connection with this node (see connection_claims.hpp): a Refusal
  /// tells it, and the node hands this connection's waiters the other one.
  void end_as_duplicate(const std::string& peer_id);

  void on_established();

  // -- established ------------------------------------------------------------

  void on_frames(std::vector<wire::Frame>& frames);

  void on_established_frame(const wire::Frame& frame);

  void on_heartbeat(const wire::Heartbeat& hb);

  /// The socket closed, broke, or its reader failed on bad bytes.
  void on_io_closed(caf::error reason);

  void on_timer(connection_timer which);

  /// Sends a heartbeat, or ends the connection if the peer fell silent.
  void on_heartbeat_due();

  caf::result<caf::actor> make_proxy_for(const std::string& name);

  /// The monitors this node placed on the peer's actors (watcher side) and
  /// the peer placed on this node's (served side).
  caf::result<caf::actor> make_watch_for(const std::string& name);
  void on_watch(const wire::Watch& w);
  void on_watch_down(const wire::WatchDown& w);
  void on_unwatch(const wire::Unwatch& w);
  void on_watching(const wire::Watching& w);
  /// Tells the peer that `addr` (watched by it) terminated with `reason`.
  void report_watched_down(const caf::actor_addr& addr, const caf::error& reason);

  /// A monitored actor terminated: a proxy, a watched actor or a sentinel.
  void on_down(const caf::down_msg& msg);

  void on_proxy_down(const caf::down_msg& msg);

  // -- ending -----------------------------------------------------------------

  /// Ends the connection with `reason`, telling the peer what `mode` says;
  /// whatever is written goes out before the socket closes. The proxies then
  /// fail their pending requests with `reason`.
  void close(caf::error reason, close_mode mode);

  /// Ends the data plane: proxies fail their pending requests with
  /// `reason` and terminate with it; late responses are dropped.
  void shut_down_children(const caf::error& reason);

  // -- helpers ----------------------------------------------------------------

  void send_frame(const wire::Frame& frame);

  /// Removes this connection from `args_.claims` (idempotent).
  void release_claim();

  /// "peer 127.0.0.1:4711 [node-id]" for log lines.
  std::string label() const;

  /// Records a round-trip measurement; the dispatcher subtracts half the
  /// smallest from inbound deadlines.
  void update_rtt(caf::timespan rtt);

  const node_config& settings() const {
    return *args_.cfg;
  }

  connection_args args_;
  caf::actor parent_;
  handshake hs_;
  phase state_ = phase::connecting;
  std::shared_ptr<spdlog::logger> log_;
  caf::actor responder_;
  dispatcher_ptr dsp_;
  /// Proxies by the name of the peer's actor, and their names and indexes
  /// by address (to forget them when they go away).
  std::unordered_map<std::string, caf::actor> proxies_;
  std::unordered_map<caf::actor_addr, std::pair<std::string, uint32_t>> proxy_names_;
  uint32_t next_proxy_ = 1;
  /// Watcher side: watch id -> the sentinel handed out (weak: a sentinel
  /// nobody holds any more is collected, and its watch ends with Unwatch).
  std::unordered_map<uint64_t, caf::actor_addr> watching_;
  std::unordered_map<caf::actor_addr, uint64_t> watch_of_sentinel_;
  /// Watches the peer has not confirmed yet: `watch` answers once it has
  /// (Watching), or once the watch ended at once (WatchDown).
  std::unordered_map<uint64_t, std::pair<caf::actor, caf::response_promise>> unconfirmed_;
  uint64_t next_watch_ = 1;
  /// Served side: the peer's watch ids per watched actor, and back.
  std::unordered_map<caf::actor_addr, std::vector<uint64_t>> served_;
  std::unordered_map<uint64_t, caf::actor_addr> served_ids_;
  caf::actor_clock::time_point last_seen_{};
  /// When our last handshake frame left, while we wait for the answer (a
  /// round-trip sample).
  caf::actor_clock::time_point hs_sent_{};
  bool hs_pending_ = false;
  caf::timespan min_rtt_ = caf::timespan::max();
};

} // namespace troupe::transport::internal

// Start arguments of a connection travel in a local message to the
// connections supervisor (never serialized).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::transport::internal::connection_args)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::transport::internal::connection_timer)
