#include "troupe/cluster/member.hpp"

#include <troupe/messages/error_category.hpp>

namespace troupe::cluster {

std::string member::address() const {
  return host + ":" + std::to_string(port);
}

std::string to_string(const member& x) {
  auto n = x.services.size();
  return x.id + " (" + x.address() + ", " + to_string(x.state) + ", " + std::to_string(n)
    + (n == 1 ? " service)" : " services)");
}

std::string to_string(const member_event& x) {
  auto result = "member " + x.who.id + " (" + x.who.address() + ") " + to_string(x.previous)
    + " -> " + to_string(x.who.state);
  if (x.reason)
    result += ": " + messages::describe(x.reason);
  return result;
}

} // namespace troupe::cluster
