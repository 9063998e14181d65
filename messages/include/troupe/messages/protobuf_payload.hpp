#pragma once

/// A protobuf message as it travels between processes: its full type name and
/// its wire bytes, nothing CAF-specific (any protobuf language can produce it).

#include <string>

#include <caf/fwd.hpp>

namespace troupe::messages {

/// A protobuf message taken out of (or bound for) a `caf::message`.
struct protobuf_payload {
  /// Full protobuf name, e.g. "demo.v1.Order".
  std::string type;
  /// Protobuf wire bytes.
  std::string bytes;
};

/// Encodes a message holding exactly one protobuf message of a registered
/// class. Errors: `not_a_protobuf_message`, `unregistered_type`.
caf::error encode_payload(const caf::message& msg, protobuf_payload& out);

/// Decodes into a one-element `caf::message` of the registered class.
/// Errors: `unknown_message_type`, `malformed_payload`. On error, `out` is
/// untouched.
caf::error decode_payload(const protobuf_payload& in, caf::message& out);

} // namespace troupe::messages
