#pragma once

/// What a node says about its connections when asked `(stats_atom)` (the
/// observability endpoint asks at every scrape).
///
/// The byte and frame counters are kept by the node's I/O side in relaxed
/// atomics, added once per read and once per write batch (never per
/// message under a lock); the connection counts are the node actor's own
/// tables.

#include <cstdint>

#include <caf/meta/type_name.hpp>

namespace troupe::transport {

struct transport_stats {
  /// Connections whose handshake is done (peers up).
  uint32_t connections_up = 0;
  /// Connections dialed or accepted whose handshake is not done yet.
  uint32_t connections_handshaking = 0;
  /// Of all open connections, those accepted from other nodes.
  uint32_t connections_accepted = 0;
  /// Lost peers this node will dial again (waiting out their backoff, or
  /// dialing).
  uint32_t reconnects_pending = 0;
  /// Reconnect attempts scheduled since the node started.
  uint64_t reconnects_total = 0;
  /// Frames and bytes read from every connection since the node started.
  uint64_t frames_in = 0;
  uint64_t bytes_in = 0;
  /// Frames and bytes written since the node started (Troupe's protocol
  /// bytes: before TLS encrypts them, as the read side after it decrypts).
  uint64_t frames_out = 0;
  uint64_t bytes_out = 0;
};

/// @relates transport_stats
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transport_stats& x) {
  return f(caf::meta::type_name("troupe.transport_stats"), x.connections_up,
           x.connections_handshaking, x.connections_accepted, x.reconnects_pending,
           x.reconnects_total, x.frames_in, x.bytes_in, x.frames_out, x.bytes_out);
}

} // namespace troupe::transport
