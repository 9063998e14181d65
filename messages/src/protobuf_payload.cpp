#include "troupe/messages/protobuf_payload.hpp"

#include <google/protobuf/message.h>

#include <caf/message.hpp>

#include "troupe/messages/message_errc.hpp"
#include "troupe/messages/type_registry.hpp"

namespace troupe::messages {

caf::error encode_payload(const caf::message& msg, protobuf_payload& out) {
  if (msg.size() != 1)
    return caf::make_error(message_errc::not_a_protobuf_message, caf::to_string(msg));
  auto rtti = msg.type(0);
  if (rtti.second == nullptr)
    // Built-in CAF types (integers, strings, atoms) carry no RTTI here.
    return caf::make_error(message_errc::not_a_protobuf_message, caf::to_string(msg));
  auto* entry = type_registry::instance().find(std::type_index{*rtti.second});
  if (entry == nullptr)
    return caf::make_error(message_errc::unregistered_type, std::string{rtti.second->name()});
  auto* pb = entry->view(msg.at(0));
  protobuf_payload result;
  result.type = entry->full_name;
  if (!pb->SerializeToString(&result.bytes))
    return caf::make_error(message_errc::malformed_payload, entry->full_name);
  out = std::move(result);
  return caf::none;
}

caf::error decode_payload(const protobuf_payload& in, caf::message& out) {
  auto* entry = type_registry::instance().find(in.type);
  if (entry == nullptr)
    return caf::make_error(message_errc::unknown_message_type, in.type);
  return entry->decode(in.bytes, out);
}

} // namespace troupe::messages
