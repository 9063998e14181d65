#include "troupe/messages/serialization.hpp"

#include <caf/actor_system.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/message.hpp>
#include <caf/uniform_type_info_map.hpp>

#include "troupe/messages/message_errc.hpp"

namespace troupe::messages {

caf::error check_serializable(caf::actor_system& sys, const caf::message& msg) {
  auto& types = sys.types();
  for (size_t i = 0; i < msg.size(); ++i) {
    auto rtti = msg.type(i);
    if (types.portable_name(rtti) == types.default_type_name()) {
      std::string name = rtti.second != nullptr ? rtti.second->name() : "?";
      return caf::make_error(message_errc::unregistered_type, std::move(name));
    }
  }
  return caf::none;
}

caf::error serialize(caf::actor_system& sys, const caf::message& msg, std::vector<char>& buf) {
  if (auto err = check_serializable(sys, msg))
    return err;
  auto old_size = buf.size();
  caf::binary_serializer sink{sys, buf}; // appends at the end of `buf`
  if (auto err = msg.save(sink)) {
    buf.resize(old_size);
    return err;
  }
  return caf::none;
}

caf::error deserialize(caf::actor_system& sys, const std::vector<char>& buf,
                       caf::message& out) {
  // Call message::load directly: in CAF 0.17.6, `binary_deserializer{..}(msg)`
  // returns no error on truncated input and leaves an empty message.
  caf::binary_deserializer source{sys, buf};
  caf::message result;
  if (auto err = result.load(source)) {
    if (err.category() == message_errc_category)
      return err; // already typed, e.g. malformed_payload from the bridge
    return caf::make_error(message_errc::malformed_message, sys.render(err));
  }
  if (source.remaining() != 0)
    return caf::make_error(message_errc::malformed_message,
                           std::to_string(source.remaining()) + " trailing bytes");
  out = std::move(result);
  return caf::none;
}

} // namespace troupe::messages
