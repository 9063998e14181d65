#include "troupe/testing/fake_node.hpp"

#include <string>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <troupe/services/service_directory.hpp>

namespace troupe::testing {

fake_node::~fake_node() {
  for (auto& x : published_)
    caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
}

caf::actor fake_node::publish(std::unique_ptr<services::service_base> impl) {
  std::string name = impl->service_full_name();
  auto actor = services::spawn_service(*sys_, std::move(impl));
  services::register_service(*sys_, name, actor);
  published_.push_back(actor);
  return actor;
}

services::channel fake_node::channel() const {
  return services::channel::local(*sys_);
}

} // namespace troupe::testing
