#include "troupe/services/server_call.hpp"

#include "troupe/services/service.hpp"

namespace troupe::services {

caf::timespan server_call::remaining() const {
  return ctx_->remaining(self_->clock().now());
}

std::shared_ptr<caf::response_promise> server_call::track() {
  if (promise_)
    return promise_; // a second defer() of the same call shares the promise
  promise_ = std::make_shared<caf::response_promise>(self_->make_response_promise());
  service_->watch_deferred(
    promise_, ctx_->has_deadline() ? ctx_->deadline() : caf::actor_clock::time_point::max());
  return promise_;
}

} // namespace troupe::services
