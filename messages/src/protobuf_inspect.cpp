#include "troupe/messages/protobuf_inspect.hpp"

#include <caf/make_message.hpp>

namespace troupe::messages::detail {

caf::error parse_or_error(google::protobuf::Message& x, const std::string& bytes) {
  // ParseFromString clears `x` first and reports invalid wire data; on
  // failure we clear again so no half-parsed value can escape by accident.
  if (x.ParseFromString(bytes))
    return caf::none;
  x.Clear();
  return caf::make_error(message_errc::malformed_payload, x.GetDescriptor()->full_name());
}

} // namespace troupe::messages::detail
