#include "troupe/services/service.hpp"

#include <caf/actor_system.hpp>

#include <troupe/actors/log.hpp>
#include <troupe/messages/error_category.hpp>

#include "service_actor.hpp"

namespace troupe::services {

caf::timespan server_call::remaining() const {
  return ctx_->remaining(self_->clock().now());
}

service_base::~service_base() = default;

bool service_base::admit(const actors::call_context& ctx) {
  ++stats_.calls;
  return !ctx.expired(self_->clock().now());
}

caf::message service_base::refuse(const actors::call_context& ctx) {
  ++stats_.expired_before_start;
  actors::call_context_scope current{ctx};
  actors::logger("troupe.services")
    ->info("{}: not starting {}: its deadline passed {} µs ago", service_full_name(),
           ctx.method,
           -std::chrono::duration_cast<std::chrono::microseconds>(
              ctx.remaining(self_->clock().now()))
              .count());
  return caf::make_message(caf::make_error(rpc_errc::deadline_exceeded,
                                           ctx.method + " was not started: deadline passed"));
}

caf::message service_base::unknown_method(const actors::call_context& ctx) {
  ++stats_.unknown_method;
  return caf::make_message(
    caf::make_error(rpc_errc::unimplemented,
                    std::string{service_full_name()} + " has no method " + ctx.method));
}

caf::error service_base::unimplemented(const char* method) {
  return caf::make_error(rpc_errc::unimplemented, std::string{method} + " is not implemented");
}

void service_base::failed(const actors::call_context& ctx) {
  ++stats_.exceptions;
  std::string what = "unknown exception";
  try {
    throw;
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    // keep the default text
  }
  actors::logger("troupe.services")
    ->error("{}: {} threw: {}", service_full_name(), ctx.method, what);
  auto promise = self_->make_response_promise();
  if (promise.pending())
    promise.deliver(caf::make_error(rpc_errc::internal, ctx.method + " threw: " + what));
}

caf::actor spawn_service(caf::actor_system& sys, std::unique_ptr<service_base> impl) {
  return sys.spawn<service_actor>(std::move(impl));
}

} // namespace troupe::services
