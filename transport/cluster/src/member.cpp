#include "troupe/cluster/member.hpp"

namespace troupe::cluster {

std::string member::address() const {
  return host + ":" + std::to_string(port);
}

std::string to_string(const member& x) {
  auto n = x.services.size();
  return x.id + " (" + x.address() + ", " + to_string(x.state) + ", " + std::to_string(n)
    + (n == 1 ? " service)" : " services)");
}

} // namespace troupe::cluster
