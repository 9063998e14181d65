#pragma once

/// Errors of the messages layer: what can go wrong turning values into bytes
/// and back.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include "troupe/messages/error_category.hpp"

namespace troupe::messages {

/// What failed while (de)serializing a message. Category `trp_msg`.
enum class message_errc : uint8_t {
  /// Not an error (CAF reserves 0 for "no error").
  none = 0,
  /// A value's type was never registered for serialization; CAF 0.17 would
  /// otherwise send an empty message. Context: the C++ type name.
  unregistered_type,
  /// Bytes are not a valid encoding of the named protobuf type.
  /// Context: the protobuf full name.
  malformed_payload,
  /// CAF-encoded bytes of a whole message are truncated, carry trailing
  /// bytes, or name a type this process cannot create. Context: the detail.
  malformed_message,
  /// A protobuf full name that no linked message library registered.
  /// Context: the full name.
  unknown_message_type,
  /// A message that must be exactly one protobuf message is something else.
  /// Context: a description of the message.
  not_a_protobuf_message,
};

/// The CAF error category of `message_errc`.
constexpr caf::atom_value message_errc_category = caf::atom("trp_msg");

/// Returns the enumerator's name, e.g. "malformed_payload".
std::string to_string(message_errc x);

} // namespace troupe::messages

TROUPE_ERROR_CODE_ENUM(troupe::messages, message_errc, "trp_msg")
