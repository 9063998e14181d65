#include "troupe/messages/type_registry.hpp"

#include "well_known_types.hpp"

#include <algorithm>
#include <mutex>

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace troupe::messages {

type_registry& type_registry::instance() {
  // A function-local static: generated code calls this from static
  // initializers in other translation units, in unspecified order.
  // Never destroyed: static destructors of other units may still use it.
  static type_registry* registry = [] {
    auto* result = new type_registry;
    register_well_known_types(*result);
    return result;
  }();
  return *registry;
}

void type_registry::add(message_type x) {
  std::unique_lock guard{mtx_};
  auto [i, added] = by_name_.emplace(x.full_name, std::move(x));
  if (added)
    by_type_.emplace(i->second.cpp_type, &i->second);
  // Protobuf itself aborts when two linked files define the same full name,
  // so a second entry can only be the same class registered twice: a no-op.
}

const message_type* type_registry::find(std::string_view full_name) const {
  std::shared_lock guard{mtx_};
  auto i = by_name_.find(std::string{full_name});
  return i != by_name_.end() ? &i->second : nullptr;
}

const message_type* type_registry::find(std::type_index cpp_type) const {
  std::shared_lock guard{mtx_};
  auto i = by_type_.find(cpp_type);
  return i != by_type_.end() ? i->second : nullptr;
}

std::vector<std::string> type_registry::names() const {
  std::vector<std::string> result;
  {
    std::shared_lock guard{mtx_};
    for (auto& kvp : by_name_)
      result.push_back(kvp.first);
  }
  std::sort(result.begin(), result.end());
  return result;
}

size_t type_registry::size() const {
  std::shared_lock guard{mtx_};
  return by_name_.size();
}

void register_message_types(caf::actor_system_config& cfg) {
  auto& registry = type_registry::instance();
  for (auto& name : registry.names()) {
    auto* entry = registry.find(name);
    entry->add_to_config(cfg, entry->full_name);
  }
}

} // namespace troupe::messages
