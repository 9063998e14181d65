#include "troupe/services/service.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <troupe/actors/credit.hpp>
#include <troupe/actors/flow_stats.hpp>
#include <troupe/transport/atoms.hpp>

#include "troupe/service.pb.h"
#include "troupe/services/service_directory.hpp"

#include <troupe/actors/log.hpp>
#include <troupe/messages/error_category.hpp>

#include "service_actor.hpp"

namespace troupe::services {

caf::timespan server_call::remaining() const {
  return ctx_->remaining(self_->clock().now());
}

std::shared_ptr<caf::response_promise> server_call::track() {
  auto promise = std::make_shared<caf::response_promise>(self_->make_response_promise());
  service_->watch_deferred(
    promise, ctx_->has_deadline() ? ctx_->deadline() : caf::actor_clock::time_point::max());
  return promise;
}

namespace {

struct later_first {
  template <class Entry>
  bool operator()(const Entry& x, const Entry& y) const {
    return x.first > y.first;
  }
};

} // namespace

void service_base::watch_deferred(const std::shared_ptr<caf::response_promise>& promise,
                                  caf::actor_clock::time_point deadline) {
  deferred_.emplace_back(deadline, promise);
  std::push_heap(deferred_.begin(), deferred_.end(), later_first{});
  if (deferred_.size() >= deferred_compact_at_) {
    deferred_.erase(std::remove_if(deferred_.begin(), deferred_.end(),
                                   [](const auto& x) { return !x.second->pending(); }),
                    deferred_.end());
    std::make_heap(deferred_.begin(), deferred_.end(), later_first{});
    deferred_compact_at_ = std::max<size_t>(256, 2 * deferred_.size());
  }
  if (deadline < deferred_armed_) {
    deferred_armed_ = deadline;
    self_->delayed_send(self_, std::max(deadline - self_->clock().now(), caf::timespan{0}),
                        deferred_check_atom::value);
  }
}

void service_base::expire_deferred() {
  auto now = self_->clock().now();
  deferred_armed_ = caf::actor_clock::time_point::max();
  while (!deferred_.empty() && deferred_.front().first <= now) {
    if (auto& promise = deferred_.front().second; promise->pending()) {
      ++stats_.deferred_expired;
      promise->deliver(caf::make_error(rpc_errc::deadline_exceeded,
                                       std::string{service_full_name()}
                                         + ": the reply was not given before the deadline"));
    }
    std::pop_heap(deferred_.begin(), deferred_.end(), later_first{});
    deferred_.pop_back();
  }
  if (!deferred_.empty() && deferred_.front().first != caf::actor_clock::time_point::max()) {
    deferred_armed_ = deferred_.front().first;
    self_->delayed_send(self_, deferred_armed_ - now, deferred_check_atom::value);
  }
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

caf::message service_base::open_stream(server_call& call, caf::actor producer,
                                       const std::string& item_type,
                                       const hub_factory& make_hub) {
  // Streams that ended leave the set here, not through a monitor per stream.
  for (auto i = streams_.begin(); i != streams_.end();)
    i = caf::actor_cast<caf::actor>(*i) ? std::next(i) : streams_.erase(i);
  const auto& ctx = call.context();
  auto name = std::string{service_full_name()} + "/stream/" + actors::new_span_id();
  troupe::StreamOpened opened;
  opened.set_stream(name);
  opened.set_item_type(item_type);
  streams_.insert(producer.address());
  ++stats_.streams_opened;
  // Local callers find it in the directory, remote ones on the node.
  with_service_directory(self_->system(), [&](const service_directory_actor& dir) {
    caf::anon_send(dir, register_service_atom::value, name, producer);
  });
  auto claim_within =
    ctx.has_deadline() ? ctx.remaining(self_->clock().now()) : stream_open_timeout;
  self_->delayed_send(self_, std::max(claim_within, caf::timespan{0}),
                      stream_check_atom::value, producer.address());
  if (!node_)
    return caf::make_message(std::move(opened));
  auto hub = make_hub(self_->system(), producer);
  if (!hub)
    return caf::make_message(caf::make_error(
      rpc_errc::internal, "cannot export the stream: " + messages::describe(hub.error())));
  // The answer waits until the node routes the name: a caller that pulls
  // right after must find it.
  auto later = call.defer<troupe::StreamOpened>();
  self_
    ->request(*node_, caf::infinite, transport::publish_atom::value, *hub, name,
              transport::delivery::payload)
    .then([later, opened](caf::ok_atom) mutable { later.deliver(opened); },
          [later, hub = *hub](caf::error& err) mutable {
            caf::anon_send_exit(hub, caf::exit_reason::user_shutdown);
            later.fail(caf::make_error(
              rpc_errc::unavailable, "cannot publish the stream: " + messages::describe(err)));
          });
  return caf::message{};
}

void service_base::check_stream(const caf::actor_addr& addr) {
  auto producer = caf::actor_cast<caf::actor>(addr);
  if (!producer)
    return; // finished already
  self_->request(producer, caf::infinite, actors::flow_stats_atom::value)
    .then(
      [this, producer](const actors::flow_stats& stats) {
        if (stats.max_pull > 0)
          return; // someone subscribed
        ++stats_.streams_unclaimed;
        actors::logger("troupe.services")
          ->warn("{}: nobody subscribed to a stream in time; stopping it",
                 service_full_name());
        self_->send_exit(producer,
                         caf::make_error(rpc_errc::deadline_exceeded,
                                         "nobody subscribed to the stream in time"));
      },
      [](caf::error&) {
        // It ended meanwhile.
      });
}

void service_base::after(caf::timespan delay, std::function<void()> f) {
  auto id = ++last_timer_;
  // The context current now (the call being handled) is current again when
  // `f` runs, so its log lines and calls belong to that call.
  if (const auto* ctx = actors::current_call_context())
    f = [ctx_copy = *ctx, g = std::move(f)] {
      actors::call_context_scope current{ctx_copy};
      g();
    };
  timers_.emplace(id, std::move(f));
  self_->delayed_send(self_, std::max(delay, caf::timespan{0}), service_timer_atom::value, id);
}

void service_base::fire(uint64_t id) {
  auto i = timers_.find(id);
  if (i == timers_.end())
    return;
  auto f = std::move(i->second);
  timers_.erase(i);
  f();
}

void service_base::stop_streams() {
  for (auto& addr : streams_)
    if (auto producer = caf::actor_cast<caf::actor>(addr))
      caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
  streams_.clear();
  // No caller waits for an answer that will not come.
  for (auto& [deadline, promise] : deferred_)
    if (promise->pending()) {
      ++stats_.deferred_expired;
      promise->deliver(
        caf::make_error(rpc_errc::unavailable, std::string{service_full_name()} + " stopped"));
    }
  deferred_.clear();
}

caf::actor spawn_service(caf::actor_system& sys, std::unique_ptr<service_base> impl,
                         std::optional<transport::node_actor> node) {
  return sys.spawn<service_actor>(std::move(impl), std::move(node));
}

} // namespace troupe::services
