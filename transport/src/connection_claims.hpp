#pragma once

// Internal: which connections this node has, or is dialing, with which
// peers — kept by the connection actors themselves, synchronously, so that
// an acceptor can decide *before it welcomes a peer* whether that peer
// already has (or is about to have) another connection with this node.
//
// Why: two nodes that dial each other at once used to establish both
// connections, then drop one as a duplicate. Anything sent on the dropped
// one in the meantime failed (requests in flight, proxies handed out on
// it). Deciding in the handshake, like Erlang's distribution protocol does
// for a simultaneous connect, means the connection that loses never
// carries traffic. The node's own tables (node_actor_impl) learn the same
// things a message later; this is the part that cannot wait.
//
// The rule, for an acceptor about to welcome peer P (id, advertised
// listen address):
//   - a connection with P is established already: refuse (P uses it);
//   - this node is dialing P (matched by P's id once P's Challenge told it,
//     else by P's listen address) and this node's id is the smaller: refuse
//     (this node's dial wins; P, at its end, welcomes it);
//   - otherwise welcome (if this node was dialing P, P refuses that dial).
// Both ends apply the same order of ids, so they agree without another
// message. A refused dial is `duplicate_connection` with the acceptor's id;
// its node hands its waiters the other connection.
//
// Thread safety: all members are safe to call from any thread.

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include <caf/actor_addr.hpp>

namespace troupe::transport::internal {

class connection_claims {
public:
  explicit connection_claims(std::string self_id) : self_id_(std::move(self_id)) {}

  /// An initiator is connected and about to say Hello: it dials `dialed`
  /// (the host:port it was asked for) and reached `remote` (ip:port).
  /// Returns the id of a peer listening there with which a connection is
  /// established already (the dial must end as a duplicate), else empty.
  std::string dialing(const caf::actor_addr& conn, std::string dialed, std::string remote);

  /// An initiator learned who answers (the acceptor's Challenge). Returns
  /// false if a connection with that peer is established already (the dial
  /// must end as a duplicate).
  bool dialing_peer(const caf::actor_addr& conn, const std::string& peer_id);

  /// An acceptor about to welcome `peer_id` (listening at `listen`, empty
  /// if it does not say): returns false if it must refuse the connection as
  /// a duplicate (the rule above), else records it as established and
  /// returns true. One step under the lock, so no dial slips in between.
  bool welcome(const caf::actor_addr& conn, const std::string& peer_id,
               const std::string& listen);

  /// An initiator was welcomed by `peer_id` (listening at `listen`).
  void established(const caf::actor_addr& conn, const std::string& peer_id,
                   const std::string& listen);

  /// A connection ended (whatever its state).
  void ended(const caf::actor_addr& conn);

  /// The node's question before it dials `address`: is a connection with
  /// a peer that listens there established already? (The node hears of it
  /// in a moment: its dial would only be refused.)
  bool established_at(const std::string& address) const;

private:
  struct claim {
    bool established = false;
    std::string peer_id;
    /// An initiator's dialed address; empty for an acceptor.
    std::string dialed;
    /// While dialing, the ip:port reached; once established, the peer's
    /// advertised listen address (what the node resolves waiters for).
    std::string remote;
  };

  bool matches(const claim& c, const std::string& peer_id, const std::string& listen) const;

  /// Requires the lock.
  void record_established(const caf::actor_addr& conn, const std::string& peer_id,
                          const std::string& listen);

  const std::string self_id_;
  mutable std::mutex mtx_;
  std::unordered_map<caf::actor_addr, claim> claims_;
};

using connection_claims_ptr = std::shared_ptr<connection_claims>;

} // namespace troupe::transport::internal
