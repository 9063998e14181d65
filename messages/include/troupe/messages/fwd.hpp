#pragma once

/// Forward declarations of the messages layer's public types.

namespace troupe::messages {

enum class message_errc : unsigned char;
struct message_type;
class type_registry;
struct protobuf_payload;

} // namespace troupe::messages
