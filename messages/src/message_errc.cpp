#include "troupe/messages/message_errc.hpp"

namespace troupe::messages {

std::string to_string(message_errc x) {
  switch (x) {
    case message_errc::none:
      return "none";
    case message_errc::unregistered_type:
      return "unregistered_type";
    case message_errc::malformed_payload:
      return "malformed_payload";
    case message_errc::malformed_message:
      return "malformed_message";
    case message_errc::unknown_message_type:
      return "unknown_message_type";
    case message_errc::not_a_protobuf_message:
      return "not_a_protobuf_message";
  }
  return "message_errc(" + std::to_string(static_cast<int>(x)) + ")";
}

} // namespace troupe::messages
