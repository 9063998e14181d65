#include "troupe/cluster/member_event.hpp"

#include <troupe/messages/error_category.hpp>

namespace troupe::cluster {

std::string to_string(const member_event& x) {
  auto result = "member " + x.who.id + " (" + x.who.address() + ") " + to_string(x.previous)
    + " -> " + to_string(x.who.state);
  if (x.reason)
    result += ": " + messages::describe(x.reason);
  return result;
}

} // namespace troupe::cluster
