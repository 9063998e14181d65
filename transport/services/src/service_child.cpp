#include "troupe/services/service_child.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <troupe/transport/atoms.hpp>

#include "troupe/services/service_directory.hpp"

namespace troupe::services {

caf::expected<caf::actor> start_service(const supervisors::start_context& ctx,
                                        std::unique_ptr<service_base> impl,
                                        const service_options& opts) {
  std::string name = impl->service_full_name();
  impl->set_path(ctx.path);
  auto actor = spawn_service(ctx.system, std::move(impl), opts.node);
  // Asynchronous on purpose: a start function must not block. A call that
  // arrives before the registration waits for it in the directory.
  register_service(ctx.system, name, actor);
  if (opts.node)
    caf::anon_send(*opts.node, transport::publish_atom::value, actor, name,
                   transport::delivery::payload);
  return actor;
}

} // namespace troupe::services
