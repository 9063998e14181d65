#include "troupe/transport/transport_errc.hpp"

namespace troupe::transport {

std::string to_string(transport_errc x) {
  switch (x) {
    case transport_errc::none:
      return "none";
    case transport_errc::invalid_config:
      return "invalid_config";
    case transport_errc::frame_too_large:
      return "frame_too_large";
    case transport_errc::malformed_frame:
      return "malformed_frame";
    case transport_errc::truncated_frame:
      return "truncated_frame";
    case transport_errc::unexpected_frame:
      return "unexpected_frame";
    case transport_errc::version_mismatch:
      return "version_mismatch";
    case transport_errc::auth_failed:
      return "auth_failed";
    case transport_errc::handshake_timeout:
      return "handshake_timeout";
    case transport_errc::connect_failed:
      return "connect_failed";
    case transport_errc::peer_lost:
      return "peer_lost";
    case transport_errc::peer_timeout:
      return "peer_timeout";
    case transport_errc::duplicate_connection:
      return "duplicate_connection";
    case transport_errc::unknown_actor:
      return "unknown_actor";
    case transport_errc::request_timeout:
      return "request_timeout";
    case transport_errc::node_stopped:
      return "node_stopped";
    case transport_errc::self_connection:
      return "self_connection";
    case transport_errc::remote_error:
      return "remote_error";
    case transport_errc::invalid_address:
      return "invalid_address";
    case transport_errc::listen_failed:
      return "listen_failed";
    case transport_errc::stream_conflict:
      return "stream_conflict";
    case transport_errc::unknown_stream:
      return "unknown_stream";
  }
  return "transport_errc(" + std::to_string(static_cast<int>(x)) + ")";
}

} // namespace troupe::transport
