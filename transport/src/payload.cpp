#include "payload.hpp"

#include <typeindex>
#include <typeinfo>

#include <caf/message.hpp>
#include <caf/type_erased_tuple.hpp>

#include <google/protobuf/message.h>

#include <troupe/messages/message_errc.hpp>
#include <troupe/messages/type_registry.hpp>

namespace troupe::transport::internal {

namespace {

// The registry takes a reader lock per lookup; a thread that sends or
// receives one type over and over (the common case) asks it once. Entries
// never move or go away, so a cached pointer stays valid.

const messages::message_type* find_cached(const std::type_info& type) {
  thread_local const std::type_info* last_type = nullptr;
  thread_local const messages::message_type* last_entry = nullptr;
  if (last_type != nullptr && *last_type == type)
    return last_entry;
  auto* entry = messages::type_registry::instance().find(std::type_index{type});
  if (entry != nullptr) {
    last_type = &type;
    last_entry = entry;
  }
  return entry;
}

const messages::message_type* find_cached(std::string_view name) {
  thread_local const messages::message_type* last_entry = nullptr;
  if (last_entry != nullptr && last_entry->full_name == name)
    return last_entry;
  auto* entry = messages::type_registry::instance().find(name);
  if (entry != nullptr)
    last_entry = entry;
  return entry;
}

} // namespace

caf::error view_payload(const caf::type_erased_tuple& x, size_t pos, payload_ref& out) {
  auto rtti = x.type(pos);
  if (rtti.second == nullptr)
    // Built-in CAF types (integers, strings, atoms) carry no RTTI here.
    return caf::make_error(messages::message_errc::not_a_protobuf_message, x.stringify());
  auto* entry = find_cached(*rtti.second);
  if (entry == nullptr)
    return caf::make_error(messages::message_errc::unregistered_type,
                           std::string{rtti.second->name()});
  out.type = entry;
  out.message = entry->view(x.get(pos));
  return caf::none;
}

caf::error decode_payload(std::string_view type, std::string_view bytes, caf::message& out) {
  auto* entry = find_cached(type);
  if (entry == nullptr)
    return caf::make_error(messages::message_errc::unknown_message_type, std::string{type});
  // The registry decodes from a std::string only. Decoding the empty string
  // yields a message holding a default instance (always valid protobuf);
  // parsing the bytes into that instance in place saves the copy.
  static const std::string empty;
  caf::message result;
  if (auto err = entry->decode(empty, result))
    return err;
  auto* pb = const_cast<google::protobuf::Message*>(entry->view(result.get_mutable(0)));
  if (!pb->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return caf::make_error(messages::message_errc::malformed_payload, entry->full_name);
  out = std::move(result);
  return caf::none;
}

} // namespace troupe::transport::internal
