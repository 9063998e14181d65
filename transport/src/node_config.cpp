#include "troupe/transport/node_config.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>
#include <caf/settings.hpp>

#include "config_keys.hpp"
#include "troupe/transport/transport_errc.hpp"

namespace troupe::transport {

namespace {

caf::error bad(std::string what) {
  return caf::make_error(transport_errc::invalid_config, std::move(what));
}

std::string ms(caf::timespan x) {
  // Exact, not human_duration's three digits: a validation error compares
  // two values ("got 1000ms <= 1001ms" must not read "1 s <= 1 s").
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(x).count())
    + "ms";
}

} // namespace

std::string to_string(tls_verify x) {
  switch (x) {
    case tls_verify::none:
      return "none";
    case tls_verify::peer:
      return "peer";
    default:
      return "mutual";
  }
}

caf::error node_config::validate() const {
  if (!config_errors.empty())
    return bad(config_errors.front());
  if (listen && host.empty())
    return bad("host must not be empty when listen is true");
  if (max_frame_size < 64)
    return bad("max_frame_size must be >= 64 (got " + std::to_string(max_frame_size) + ")");
  if (max_frame_size > (1u << 30))
    return bad("max_frame_size must be <= 1 GiB (got " + std::to_string(max_frame_size) + ")");
  if (max_handshake_frame_size < 256 || max_handshake_frame_size > max_frame_size)
    return bad("max_handshake_frame_size must be in [256, max_frame_size] (got "
               + std::to_string(max_handshake_frame_size) + ")");
  if (max_write_buffer < max_frame_size)
    return bad("max_write_buffer must be >= max_frame_size (got "
               + std::to_string(max_write_buffer) + ")");
  if (max_connections == 0)
    return bad("max_connections must be > 0");
  if (max_requests_per_peer == 0)
    return bad("max_requests_per_peer must be >= 1 (got 0)");
  if (max_connections_per_address == 0 || max_connections_per_address > max_connections)
    return bad("max_connections_per_address must be in [1, max_connections] (got "
               + std::to_string(max_connections_per_address) + ")");
  if (handshake_timeout <= caf::timespan{0})
    return bad("handshake_timeout must be > 0");
  if (connect_timeout <= caf::timespan{0})
    return bad("connect_timeout must be > 0");
  if (heartbeat_interval <= caf::timespan{0})
    return bad("heartbeat_interval must be > 0");
  if (peer_timeout <= heartbeat_interval)
    return bad("peer_timeout must be > heartbeat_interval (got " + ms(peer_timeout)
               + " <= " + ms(heartbeat_interval) + ")");
  if (default_deadline <= caf::timespan{0})
    return bad("default_deadline must be > 0");
  if (io_threads == 0 || io_threads > 64)
    return bad("io_threads must be in 1..64 (got " + std::to_string(io_threads) + ")");
  if (auto err = reconnect_backoff.validate())
    return bad("reconnect_backoff: " + caf::to_string(err.context()));
  for (size_t i = 0; i < observers.size(); ++i)
    if (!observers[i])
      return bad("observers[" + std::to_string(i) + "] must be a valid actor");
  if (stop_timeout <= caf::timespan{0})
    return bad("stop_timeout must be > 0");
  if (tls.enabled) {
    auto needs_own = listen || tls.verify == tls_verify::mutual;
    if (needs_own && (tls.certificate_file.empty() || tls.private_key_file.empty()))
      return bad(std::string{"tls.certificate_file and tls.private_key_file must be set "}
                 + (listen ? "to listen with TLS" : "for tls.verify = mutual"));
    if (tls.verify != tls_verify::none && tls.ca_file.empty())
      return bad("tls.ca_file must be set for tls.verify = " + to_string(tls.verify)
                 + " (or tls.verify = none to encrypt without checking certificates)");
  }
  return caf::none;
}

node_config node_config::from(const caf::actor_system_config& cfg) {
  node_config n;
  auto read = [&cfg](const char* group) {
    return [&cfg, group](const char* name, auto& field, const char*) {
      field = caf::get_or(cfg, internal::config_key(group, name), field);
    };
  };
  internal::visit_node_keys(n, read(internal::node_group));
  auto verify = to_string(n.tls.verify);
  internal::visit_tls_keys(n.tls, verify, read(internal::tls_group));
  if (auto parsed = internal::parse_tls_verify(verify))
    n.tls.verify = *parsed;
  else
    n.config_errors.push_back(internal::config_key(internal::tls_group, "verify")
                              + " must be none, peer or mutual (got \"" + verify + "\")");
  return n;
}

} // namespace troupe::transport
