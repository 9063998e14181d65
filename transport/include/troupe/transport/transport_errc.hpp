#pragma once

/// Errors of the transport: framing, handshake, connections, remote requests.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <troupe/messages/error_category.hpp>

namespace troupe::transport {

/// What failed in the transport. Category `trp_net`. The numbers travel on
/// the wire (`troupe.Error.code` with category "trp_net"): never renumber.
enum class transport_errc : uint8_t {
  /// Not an error (CAF reserves 0).
  none = 0,
  /// A config value is out of range. Context: the field and why.
  invalid_config = 1,
  /// A frame's length prefix exceeds the maximum frame size; nothing of that
  /// size was allocated. Context: the announced length and the limit.
  frame_too_large = 2,
  /// Bytes that are not a length-delimited `troupe.wire.Frame` (bad varint,
  /// unparsable frame). Context: the detail.
  malformed_frame = 3,
  /// The connection ended in the middle of a frame. Context: bytes missing.
  truncated_frame = 4,
  /// A frame kind the receiver does not know, or one not allowed in the
  /// connection's current state (e.g. an envelope before the handshake).
  /// Context: the frame kind and the state.
  unexpected_frame = 5,
  /// The peers speak different protocol versions. Context: both versions.
  version_mismatch = 6,
  /// Authentication failed: a wrong proof, or one side requires a shared
  /// secret the other does not use. Context: the detail.
  auth_failed = 7,
  /// The handshake did not finish within `handshake_timeout`.
  handshake_timeout = 8,
  /// The connection could not be established. Context: address and detail.
  connect_failed = 9,
  /// The peer closed the connection or it broke (reset, EOF, goodbye).
  /// Context: the detail.
  peer_lost = 10,
  /// The peer sent no heartbeat within `peer_timeout`. Context: the bound.
  peer_timeout = 11,
  /// A second connection to an already connected peer; the older or
  /// tie-break-losing one is closed. Context: the peer's node id.
  duplicate_connection = 12,
  /// No actor is published under the envelope's receiver name on that node.
  /// Context: the name.
  unknown_actor = 13,
  /// No reply arrived within the request's deadline.
  /// Context: the deadline.
  request_timeout = 14,
  /// The local node is shutting down or stopped.
  node_stopped = 15,
  /// The peer's node id equals ours (a node connected to itself).
  self_connection = 16,
  /// A remote error whose category this process cannot represent.
  /// Context: category, code and the peer's text.
  remote_error = 17,
  /// An address that is not `name@host:port` / `host:port`. Context: it.
  invalid_address = 18,
  /// The node could not listen on its configured address. Context: the
  /// address and the detail.
  listen_failed = 19,
  /// A remote-stream Pull for a session that belongs to another importer
  /// (another connection, or another local actor), a second `open` of a
  /// stream id that is already open, or an acknowledgement of items the
  /// session never sent. The session itself is left untouched. On the
  /// importing side: a Batch with more items than the importer granted
  /// (the stream then ends with it). Context: the stream id and the detail.
  stream_conflict = 20,
  /// A remote-stream Pull that does not open a session names a stream id
  /// with no session (never opened, finished, or closed after its importer
  /// went silent). Context: the stream id.
  unknown_stream = 21,
  /// The peer does not read: more than `node_config::max_write_buffer`
  /// bytes were queued for it, and the connection was closed. Context: the
  /// peer's address and the queued size.
  slow_peer = 22,
  /// The node refused a connection: it has `max_connections` accepted
  /// connections open, or `max_connections_per_address` from the peer's
  /// address. Sent in a Refusal frame before the close. Context: which
  /// limit.
  too_many_connections = 23,
  /// A peer has `node_config::max_requests_per_peer` requests being handled
  /// by this node: its next request is answered with this and not
  /// delivered; the connection goes on. Context: the limit.
  too_many_requests = 24,
  /// A Pull would open one more session of an exported stream for a peer
  /// that has `stream_export_config::max_sessions_per_peer` open. Context:
  /// the stream id and the limit.
  too_many_sessions = 25,
  /// One side of a connection speaks TLS and the other does not
  /// (`tls_config::enabled` differs): a TLS node refuses a plaintext Hello
  /// with a Refusal carrying this; a plaintext node closes a connection that
  /// starts with a TLS record, and the TLS dialer, whose TLS handshake then
  /// ends without an answer, reports this too. Context: which side is which.
  tls_mismatch = 26,
  /// The TLS handshake failed or TLS broke: the peer's certificate is
  /// expired, not yet valid, from a CA this node does not trust, or does not
  /// name the dialed address; the peer rejected ours; or a TLS record was
  /// corrupt. Context: OpenSSL's reason (e.g. "certificate has expired").
  tls_failed = 27,
};

/// The CAF error category of `transport_errc`.
constexpr caf::atom_value transport_errc_category = caf::atom("trp_net");

/// Returns the enumerator's name, e.g. "frame_too_large".
std::string to_string(transport_errc x);

} // namespace troupe::transport

TROUPE_ERROR_CODE_ENUM(troupe::transport, transport_errc, "trp_net")
