#pragma once

/// What a node tells its observers about its peers: a peer came up (its
/// handshake completed) or went down (its connection ended, with the typed
/// reason). The same event model as `troupe::supervisors::supervision_event`:
/// one struct per event, sent to every observer that subscribed with
/// `(troupe::actors::subscribe_atom, observer)` (see `node_actor.hpp`).

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>

namespace troupe::transport {

/// What happened to a peer.
enum class peer_status : uint8_t {
  /// The handshake with the peer completed.
  up,
  /// The connection to the peer ended; see `reason`.
  down,
};

/// Returns the enumerator's name, e.g. "down".
std::string to_string(peer_status x);

struct peer_event {
  peer_status status = peer_status::up;
  /// The peer's node id.
  std::string node_id;
  /// The peer's address: where it listens, or the address dialed.
  std::string address;
  /// For `down`: why the connection ended.
  caf::error reason;
};

/// Returns e.g. "peer vm:42:ab12 (127.0.0.1:4711) down: trp_net:peer_timeout".
std::string to_string(const peer_event& x);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_event& x) {
  return f(caf::meta::type_name("troupe.peer_event"), x.status, x.node_id, x.address,
           x.reason);
}

} // namespace troupe::transport
