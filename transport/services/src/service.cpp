#include "troupe/services/service.hpp"

#include <random>

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <troupe/actors/credit.hpp>
#include <troupe/actors/flow_stats.hpp>
#include <troupe/transport/atoms.hpp>

#include <troupe/actors/human_units.hpp>
#include <troupe/actors/log.hpp>
#include <troupe/messages/error_category.hpp>

#include "deadline_heap.hpp"
#include "service_actor.hpp"
#include "troupe/service.pb.h"
#include "troupe/services/service_directory.hpp"

namespace troupe::services {

namespace {

bool was_answered(const std::shared_ptr<detail::pending_reply>& reply) {
  return !reply->pending();
}

/// 32 hex digits from the OS's random source.
std::string unguessable_name() {
  static constexpr char hex[] = "0123456789abcdef";
  std::random_device os;
  std::string result;
  for (int i = 0; i < 8; ++i)
    for (auto word = os(), j = 0u; j < 4; ++j, word >>= 4)
      result += hex[word & 0xF];
  return result;
}

int64_t ns_of(caf::actor_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

} // namespace

void service_base::watch_deferred(const std::shared_ptr<detail::pending_reply>& reply,
                                  caf::actor_clock::time_point deadline) {
  deferred_->push(deadline, reply, was_answered);
  if (deadline < deferred_armed_)
    arm_deferred(deadline);
}

void service_base::arm_deferred(caf::actor_clock::time_point at) {
  deferred_armed_ = at;
  if (at == caf::actor_clock::time_point::max())
    return; // no deadline: answered when the service stops
  self_->delayed_send(self_, std::max(at - self_->clock().now(), caf::timespan{0}),
                      deferred_check_atom::value, ns_of(at));
}

void service_base::expire_deferred(int64_t armed_for) {
  if (ns_of(deferred_armed_) != armed_for)
    return; // superseded by a timer for an earlier deadline
  deferred_->pop_due(self_->clock().now(), [this](std::shared_ptr<detail::pending_reply>& p) {
    if (!p->pending())
      return;
    ++stats_.deferred_expired;
    p->fail(caf::make_error(rpc_errc::deadline_exceeded,
                            std::string{service_full_name()}
                              + ": the reply was not given before the deadline"));
  });
  // Replies that were given leave no timer behind.
  deferred_->drop_ended_top(was_answered);
  arm_deferred(deferred_->earliest());
}

service_base::service_base()
  : deferred_(
    std::make_unique<internal::deadline_heap<std::shared_ptr<detail::pending_reply>>>()) {
  // nop
}

service_base::~service_base() = default;

bool service_base::admit(const actors::call_context& ctx, caf::actor_clock::time_point now) {
  ++stats_.calls;
  return !ctx.expired(now);
}

caf::message service_base::refuse(const actors::call_context& ctx) {
  ++stats_.expired_before_start;
  actors::call_context_scope current{ctx, &self_->clock()};
  actors::logger("troupe.services")
    ->info("{}: not starting {}: its deadline passed {} ago", service_full_name(), ctx.method,
           actors::human_duration(-ctx.remaining(self_->clock().now())));
  return caf::make_message(caf::make_error(rpc_errc::deadline_exceeded,
                                           ctx.method + " was not started: deadline passed"));
}

caf::message service_base::unknown_method(const actors::call_context& ctx) {
  ++stats_.unknown_method;
  unknown_ = true;
  return caf::make_message(
    caf::make_error(rpc_errc::unimplemented,
                    std::string{service_full_name()} + " has no method " + ctx.method));
}

caf::error service_base::unimplemented(const char* method) {
  return caf::make_error(rpc_errc::unimplemented, std::string{method} + " is not implemented");
}

void service_base::failed(server_call& call) {
  const auto& ctx = call.context();
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
  auto status = caf::make_error(rpc_errc::internal, ctx.method + " threw: " + what);
  if (const auto& deferred = call.deferred_reply(); deferred && deferred->pending()) {
    deferred->fail(std::move(status)); // it deferred, then threw
    return;
  }
  auto promise = self_->make_response_promise();
  if (promise.pending()) {
    call.stats()->record(self_->clock().now() - call.started(), status);
    promise.deliver(std::move(status));
  }
}

method_stats& service_base::method_stats_of(const std::string& method) {
  auto i = methods_.find(method);
  made_for_call_ = i == methods_.end();
  if (made_for_call_) {
    i = methods_.emplace(method, method_stats{}).first;
    i->second.method = method;
  }
  return i->second;
}

void service_base::answered(const server_call& call, const caf::message& answer) {
  if (unknown_) {
    unknown_ = false;
    // Only an entry this call made, and no deferred reply of it points to.
    if (made_for_call_ && !call.deferred_reply())
      methods_.erase(call.context().method);
    return;
  }
  // A deferred reply (or a stream being published) is counted when it is
  // answered — also when the method deferred and then returned a value
  // anyway (CAF drops that value: the promise took the reply over).
  if (answer.empty() || call.deferred_reply())
    return;
  caf::error status;
  if (answer.match_element<caf::error>(0))
    status = answer.get_as<caf::error>(0);
  call.stats()->record(self_->clock().now() - call.started(), status);
}

service_report service_base::report() const {
  service_report result;
  result.service = service_full_name();
  result.stats = stats_;
  for (auto& [name, m] : methods_)
    if (m.answered() > 0)
      result.methods.push_back(m);
  return result;
}

caf::message service_base::open_stream(server_call& call, caf::actor producer, bool owned,
                                       const std::string& item_type,
                                       const hub_factory& make_hub) {
  // Streams that ended leave the set here, not through a monitor per stream.
  for (auto i = streams_.begin(); i != streams_.end();)
    i = caf::actor_cast<caf::actor>(*i) ? std::next(i) : streams_.erase(i);
  const auto& ctx = call.context();
  // A connected peer pulls a stream by its name: unguessable (128 bits from
  // the OS), not a trace id (those need not be unpredictable).
  auto name = std::string{service_full_name()} + "/stream/" + unguessable_name();
  troupe::StreamOpened opened;
  opened.set_stream(name);
  opened.set_item_type(item_type);
  if (owned)
    streams_.insert(producer.address());
  ++stats_.streams_opened;
  // Local callers find it in the directory, remote ones on the node.
  register_service(self_->system(), name, producer);
  if (owned) {
    auto claim_within =
      ctx.has_deadline() ? ctx.remaining(self_->clock().now()) : stream_open_timeout;
    self_->delayed_send(self_, std::max(claim_within, caf::timespan{0}),
                        stream_check_atom::value, producer.address());
  }
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
    f = [this, ctx_copy = *ctx, g = std::move(f)] {
      actors::call_context_scope current{ctx_copy, &self_->clock()};
      actors::actor_path_scope at{path_};
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

void service_base::stop() {
  for (auto& addr : streams_)
    if (auto producer = caf::actor_cast<caf::actor>(addr))
      caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
  streams_.clear();
  // No caller waits for an answer that will not come.
  deferred_->drain([this](std::shared_ptr<detail::pending_reply>& reply) {
    if (reply->pending()) {
      ++stats_.deferred_expired;
      reply->fail(
        caf::make_error(rpc_errc::unavailable, std::string{service_full_name()} + " stopped"));
    }
    reply->stats = nullptr; // the counters go away with the service object
  });
}

caf::actor spawn_service(caf::actor_system& sys, std::unique_ptr<service_base> impl,
                         std::optional<transport::node_actor> node) {
  if (impl->path().empty())
    impl->set_path(impl->service_full_name());
  return sys.spawn<service_actor>(std::move(impl), std::move(node));
}

} // namespace troupe::services
