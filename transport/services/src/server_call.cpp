#include "troupe/services/server_call.hpp"

#include "troupe/services/service.hpp"

namespace troupe::services {

caf::timespan server_call::remaining() const {
  return ctx_->remaining(self_->clock().now());
}

std::shared_ptr<detail::pending_reply> server_call::track() {
  if (reply_)
    return reply_; // a second defer() of the same call shares the promise
  reply_ = std::make_shared<detail::pending_reply>();
  reply_->promise = self_->make_response_promise();
  reply_->stats = stats_;
  reply_->clock = &self_->clock();
  reply_->started = started_;
  service_->watch_deferred(
    reply_, ctx_->has_deadline() ? ctx_->deadline() : caf::actor_clock::time_point::max());
  return reply_;
}

namespace detail {

void pending_reply::fail(caf::error err) {
  if (!promise.pending())
    return;
  counted(err);
  promise.deliver(std::move(err));
}

void pending_reply::counted(const caf::error& err) {
  if (stats != nullptr)
    stats->record(clock->now() - started, err);
}

} // namespace detail

} // namespace troupe::services
