#pragma once

// Internal: a payload element of a CAF message seen as the protobuf message
// it is, and wire bytes turned back into one, through the type registry.
// Shared by the proxy (requests out, replies in) and the inbound side
// (requests in, replies out).

#include <cstddef>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace google::protobuf {
class Message;
} // namespace google::protobuf

namespace troupe::messages {
struct message_type;
} // namespace troupe::messages

namespace troupe::transport::internal {

/// A registered protobuf message inside a CAF message: its registry entry
/// (full name, decoder) and the message itself.
struct payload_ref {
  const messages::message_type* type = nullptr;
  const google::protobuf::Message* message = nullptr;
};

/// Views element `pos` of `x` as a registered protobuf message. Errors:
/// `not_a_protobuf_message` (built-in CAF types too), `unregistered_type`.
caf::error view_payload(const caf::type_erased_tuple& x, size_t pos, payload_ref& out);

/// Parses `bytes` as the registered message `type` into a one-element
/// message, straight from the bytes (no copy into a string first). Errors:
/// `unknown_message_type`, `malformed_payload` (then `out` is untouched).
caf::error decode_payload(std::string_view type, std::string_view bytes, caf::message& out);

} // namespace troupe::transport::internal
