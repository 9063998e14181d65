#pragma once

/// Settings of one node: where it listens, how it authenticates, how fast it
/// detects a dead peer and how it reconnects.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/timespan.hpp>

#include <troupe/actors/backoff.hpp>

namespace troupe::transport {

/// The wire protocol version this build speaks (`Hello.protocol_version`).
constexpr uint32_t protocol_version = 1;

/// How a TLS connection checks its peer's certificate.
enum class tls_verify : uint8_t {
  /// Encrypt only: no certificate is checked on either side (the HMAC
  /// secret, if set, still authenticates the peer).
  none,
  /// The dialing node checks the accepting node's certificate: its chain up
  /// to `tls_config::ca_file`, its validity dates, and that it names the
  /// dialed address (an IP address in its subjectAltName, or the host
  /// name). The accepting node asks for no certificate.
  peer,
  /// Both sides check each other's certificate (mutual TLS); every node
  /// needs a certificate of its own. The accepting node checks the chain
  /// and the dates (it has no name to check the dialer against).
  mutual,
};

/// Returns "none", "peer" or "mutual".
std::string to_string(tls_verify x);

/// TLS on a node's connections (over OpenSSL, through Asio's SSL streams).
/// The handshake (and its HMAC secret, if set) runs inside the encrypted
/// connection.
struct tls_config {
  /// Whether this node speaks TLS. A TLS node refuses a plaintext peer and a
  /// plaintext node refuses a TLS peer, each with `tls_mismatch`. Default
  /// false.
  bool enabled = false;

  /// PEM file with this node's certificate (and its intermediate CAs, if
  /// any). Needed to listen, and for `tls_verify::mutual`.
  std::string certificate_file;

  /// PEM file with the private key of `certificate_file`.
  std::string private_key_file;

  /// PEM file with the CA certificate(s) a peer's certificate must chain
  /// to. Needed unless `verify` is `none`.
  std::string ca_file;

  /// What is checked of a peer's certificate. Default mutual (the
  /// strictest).
  tls_verify verify = tls_verify::mutual;
};

struct node_config {
  /// Address to listen on. Default 127.0.0.1 (loopback only); "0.0.0.0"
  /// accepts connections from other hosts.
  std::string host = "127.0.0.1";

  /// Port to listen on; 0 = an ephemeral port chosen by the OS (the node
  /// logs it and `node::port()` returns it). Default 0.
  uint16_t port = 0;

  /// Whether to listen at all. A node that only connects out can set false.
  /// Default true.
  bool listen = true;

  /// This node's id, sent in the handshake. Empty (default) = generated as
  /// "<hostname>:<pid>:<random hex>", unique per process run.
  std::string node_id;

  /// Largest frame accepted or sent, in bytes (after the length prefix). A
  /// larger length prefix closes the connection with `frame_too_large`
  /// before anything of that size is allocated. Default 16 MiB.
  uint32_t max_frame_size = 16u * 1024u * 1024u;

  /// Largest frame accepted before the handshake completes. Handshake
  /// frames need a few hundred bytes: a peer that has not authenticated yet
  /// cannot make the node buffer `max_frame_size` for the whole handshake
  /// timeout. At least 256 and at most `max_frame_size`. Default 4 KiB.
  uint32_t max_handshake_frame_size = 4096;

  // -- limits against hostile or broken peers ---------------------------------

  /// Most bytes queued for one connection and not yet taken by the socket.
  /// A peer that does not read what it is sent (its replies, its stream
  /// items) is disconnected with `slow_peer` once its queue passes this,
  /// instead of growing this node's memory. At least `max_frame_size` (one
  /// frame must fit). Default 64 MiB.
  uint32_t max_write_buffer = 64u * 1024u * 1024u;

  /// Most accepted connections open at once (handshaking or established);
  /// one more is refused with `too_many_connections` and closed. Dialed
  /// connections do not count. Default 1024.
  uint32_t max_connections = 1024;

  /// Most accepted connections open at once from one remote IP address;
  /// one more is refused with `too_many_connections`. Default 64.
  uint32_t max_connections_per_address = 64;

  /// Most requests from one peer that this node's actors are handling at
  /// once (delivered, not yet answered). One more is answered at once with
  /// `too_many_requests` and not delivered; the connection goes on. Bounds
  /// what a peer that sends faster than the node answers can pile up in its
  /// actors' mailboxes. Default 10 000.
  uint32_t max_requests_per_peer = 10'000;

  /// Shared secret for the HMAC-SHA256 challenge-response. Empty (default) =
  /// no authentication. Both sides must use the same value; it never travels.
  /// Works alone and inside TLS.
  std::string secret;

  /// TLS on every connection of the node (default off). The files are read
  /// once, at `node::start` (`invalid_config` if one cannot be loaded).
  tls_config tls;

  /// Bound on the whole handshake (hello to welcome). Default 5 s.
  caf::timespan handshake_timeout = std::chrono::seconds{5};

  /// Bound on establishing the TCP connection (and, with TLS, the dialing
  /// side's TLS handshake). Default 5 s.
  caf::timespan connect_timeout = std::chrono::seconds{5};

  /// How often each side sends a heartbeat. Smaller detects a dead peer
  /// sooner at the cost of a few bytes per interval. Default 1 s.
  caf::timespan heartbeat_interval = std::chrono::seconds{1};

  /// A peer that sent no heartbeat for this long is declared down
  /// (`peer_timeout`). Must exceed `heartbeat_interval`; a closed or reset
  /// connection is detected at once. Default 5 s.
  caf::timespan peer_timeout = std::chrono::seconds{5};

  /// Deadline of a remote request sent without `call_options`. Default 10 s.
  caf::timespan default_deadline = std::chrono::seconds{10};

  /// Whether a lost outbound connection is re-established (with
  /// `reconnect_backoff` between attempts, reset after each success).
  /// Default true.
  bool reconnect = true;

  /// Delays between reconnect attempts: the same value type supervisors use
  /// for restarts. Default exponential 100 ms .. 5 s, full jitter.
  actors::backoff reconnect_backoff =
    actors::backoff::exponential(std::chrono::milliseconds{100}, std::chrono::seconds{5})
      .with_jitter(actors::jitter::full);

  /// Threads running the node's Asio I/O. Default 1 (one thread serves many
  /// connections; actors never run on it).
  uint32_t io_threads = 1;

  /// Actors that receive every `troupe::supervisors::supervision_event` of
  /// the node's supervisor tree: the listener and each connection starting,
  /// exiting, being stopped or killed (see `node::supervisor`). Default none;
  /// the events are logged either way (logger "transport <node id>").
  std::vector<caf::actor> observers;

  /// How long the node's supervisor gives a connection to say goodbye when
  /// the node stops; then it is killed. The listener gets half of it. A
  /// node's stop takes at most 1.5 times this. Default 1 s.
  caf::timespan stop_timeout = std::chrono::seconds{1};

  /// What `from` could not read (e.g. an unknown `tls.verify` value); the
  /// field keeps its default and `validate` reports the first entry.
  std::vector<std::string> config_errors;

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;

  /// The defaults above, overridden by the `troupe.node.*` keys of `cfg`
  /// (command line, config file; see `transport::system_config`), TLS by
  /// `troupe.node.tls.*`. The reconnect backoff and the observers are not
  /// config keys.
  static node_config from(const caf::actor_system_config& cfg);
};

} // namespace troupe::transport
