#pragma once

// The config keys of `node_config` and the remote-stream configs, one list
// per struct: `system_config` declares each as an option (and writes the
// default into the settings, for `--dump-config`), and the structs' `from`
// read them back. A field added to a list is both at once.
//
// Each `visit_*` calls `f(name, field, description)` for every key, `name`
// relative to the group (`troupe.node`, `troupe.stream`).

#include <optional>
#include <string>

#include "troupe/transport/node_config.hpp"
#include "troupe/transport/remote_stream.hpp"

namespace troupe::transport::internal {

constexpr const char* node_group = "troupe.node";
constexpr const char* stream_group = "troupe.stream";
constexpr const char* tls_group = "troupe.node.tls";

template <class F>
void visit_node_keys(node_config& x, F&& f) {
  f("host", x.host, "address to listen on (0.0.0.0: other hosts too)");
  f("port", x.port, "port to listen on; 0 = an ephemeral port");
  f("listen", x.listen, "whether to listen at all");
  f("node-id", x.node_id, "this node's id; empty = <host>:<pid>:<random>");
  f("secret", x.secret, "shared secret of the HMAC handshake; empty = none");
  f("max-frame-size", x.max_frame_size, "largest frame accepted or sent, in bytes");
  f("max-handshake-frame-size", x.max_handshake_frame_size,
    "largest frame before the handshake");
  f("max-write-buffer", x.max_write_buffer,
    "bytes queued for a peer before it is disconnected as slow");
  f("max-connections", x.max_connections, "most accepted connections open at once");
  f("max-connections-per-address", x.max_connections_per_address,
    "most accepted connections open at once from one IP address");
  f("max-requests-per-peer", x.max_requests_per_peer,
    "most requests of one peer handled at once; more are refused");
  f("handshake-timeout", x.handshake_timeout, "bound on the whole handshake");
  f("connect-timeout", x.connect_timeout, "bound on establishing a TCP connection");
  f("heartbeat-interval", x.heartbeat_interval, "how often each side sends a heartbeat");
  f("peer-timeout", x.peer_timeout, "silence after which a peer is down");
  f("default-deadline", x.default_deadline, "deadline of a request without options");
  f("reconnect", x.reconnect, "whether a lost outbound connection is re-established");
  f("io-threads", x.io_threads, "threads running the node's I/O");
  f("stop-timeout", x.stop_timeout, "how long a connection may take to say goodbye");
}

/// `verify` stands for `x.verify` as its name ("none", "peer", "mutual"):
/// config values are strings, see `parse_tls_verify`.
template <class F>
void visit_tls_keys(tls_config& x, std::string& verify, F&& f) {
  f("enabled", x.enabled, "whether connections use TLS");
  f("certificate-file", x.certificate_file, "PEM certificate (chain) of this node");
  f("private-key-file", x.private_key_file, "PEM private key of the certificate");
  f("ca-file", x.ca_file, "PEM CA certificate(s) a peer's certificate must chain to");
  f("verify", verify, "none, peer (the dialer checks) or mutual (both check)");
}

inline std::optional<tls_verify> parse_tls_verify(const std::string& x) {
  if (x == "none")
    return tls_verify::none;
  if (x == "peer")
    return tls_verify::peer;
  if (x == "mutual")
    return tls_verify::mutual;
  return std::nullopt;
}

template <class F>
void visit_stream_export_keys(stream_export_config& x, F&& f) {
  f("poll-interval", x.poll_interval, "exporter: longest a Pull waits for items");
  f("idle-timeout", x.idle_timeout, "exporter: closes a stream whose importer is silent");
  f("max-batch", x.max_batch, "exporter: most items per Batch");
  f("max-sessions-per-peer", x.max_sessions_per_peer,
    "exporter: most sessions of a stream one peer may open");
}

template <class F>
void visit_stream_import_keys(stream_import_config& x, F&& f) {
  f("capacity", x.capacity, "importer: most items held or on their way (the bound)");
  f("batch-size", x.batch_size, "importer: most items per local batch");
  f("pull-timeout", x.pull_timeout, "importer: limit of one Pull round trip");
}

/// `group.name`, the full key.
inline std::string config_key(const char* group, const char* name) {
  return std::string{group} + "." + name;
}

} // namespace troupe::transport::internal
