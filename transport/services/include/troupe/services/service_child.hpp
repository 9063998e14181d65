#pragma once

/// `service_child`: a service as a supervisor's child, under a name that
/// survives its restarts.
///
///   supervisor_config cfg;
///   cfg.children.push_back(service_child<pricing>());            // this process
///   cfg.children.push_back(service_child<pricing>(
///     service_options{}.published_on(node->handle())));          // and remote callers
///
/// Every start of the child (the first and every restart) builds a fresh
/// `Impl` from the given arguments, spawns it as the service's actor,
/// registers it in the actor system's `service_directory` under the
/// service's full name and, with a node, publishes it there under the same
/// name (`<full name>@host:port`). No user code re-publishes anything: a
/// stub's next call finds the new incarnation (local callers wait in the
/// directory; remote callers retry `unknown_actor` within their deadline).
///
/// The child's id is the service's full name unless `service_options::id`
/// says otherwise.

#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include <troupe/supervisors/child_spec.hpp>
#include <troupe/transport/node_actor.hpp>

#include "troupe/services/service.hpp"

namespace troupe::services {

struct service_options {
  /// The child's id; empty: the service's full name.
  std::string id;
  /// A node to publish every incarnation on; none: this process only.
  std::optional<transport::node_actor> node;

  service_options&& published_on(transport::node_actor n) && {
    node = std::move(n);
    return std::move(*this);
  }
};

/// Starts one incarnation (see above). For `service_child`.
caf::expected<caf::actor> start_service(const supervisors::start_context& ctx,
                                        std::unique_ptr<service_base> impl,
                                        const service_options& opts);

/// A permanent child running `Impl` (a generated `<Service>::Service`
/// subclass) built with `args` on every start.
template <class Impl, class... Args>
supervisors::child_spec service_child(service_options opts, Args... args) {
  supervisors::child_spec spec;
  spec.id = opts.id.empty() ? std::string{Impl::service_full_name_v} : opts.id;
  spec.start = [opts, args = std::make_tuple(std::move(args)...)](
                 const supervisors::start_context& ctx) -> caf::expected<caf::actor> {
    auto impl =
      std::apply([](const auto&... xs) { return std::make_unique<Impl>(xs...); }, args);
    return start_service(ctx, std::move(impl), opts);
  };
  return spec;
}

/// The same with default options.
template <class Impl>
supervisors::child_spec service_child() {
  return service_child<Impl>(service_options{});
}

} // namespace troupe::services
