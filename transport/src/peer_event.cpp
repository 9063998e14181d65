#include "troupe/transport/peer_event.hpp"

#include <troupe/messages/error_category.hpp>

namespace troupe::transport {

std::string to_string(const peer_event& x) {
  auto result = "peer " + x.node_id + " (" + x.address + ") " + to_string(x.status);
  if (x.reason)
    result += ": " + messages::describe(x.reason);
  return result;
}

} // namespace troupe::transport
