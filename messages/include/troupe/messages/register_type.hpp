#pragma once

/// Used by code that `troupe_add_messages` generates: adds one generated
/// protobuf class to the `type_registry`. Users never include this directly.

#include <string>
#include <typeindex>

#include "troupe/messages/protobuf_inspect.hpp" // before CAF instantiates T

#include <caf/actor_system_config.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "troupe/messages/type_registry.hpp"

namespace troupe::messages {

namespace detail {

template <class T>
void add_to_config(caf::actor_system_config& cfg, const std::string& name) {
  cfg.add_message_type<T>(name);
}

template <class T>
caf::error decode(const std::string& bytes, caf::message& out) {
  T x;
  if (auto err = parse_or_error(x, bytes))
    return err;
  out = caf::make_message(std::move(x));
  return caf::none;
}

template <class T>
const google::protobuf::Message* view(const void* element) {
  return static_cast<const T*>(element);
}

} // namespace detail

/// Adds `T` under `full_name`. Returns true, so generated code can use it to
/// initialize a namespace-scope constant.
template <class T>
bool register_type(const char* full_name) {
  type_registry::instance().add(message_type{full_name, std::type_index{typeid(T)},
                                             &detail::add_to_config<T>, &detail::decode<T>,
                                             &detail::view<T>});
  return true;
}

} // namespace troupe::messages
