#pragma once

/// Forward declarations of the transport layer's public types.

namespace troupe::transport {

enum class transport_errc : unsigned char;
enum class handshake_role : unsigned char;
struct node_config;
struct call_options;
class frame_decoder;
class handshake;
class node;
class system_config;

} // namespace troupe::transport
