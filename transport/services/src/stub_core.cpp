#include "troupe/services/stub_core.hpp"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/sec.hpp>

#include <troupe/actors/flow_errc.hpp>
#include <troupe/transport/atoms.hpp>
#include <troupe/transport/transport_errc.hpp>

#include "deadline_heap.hpp"
#include "troupe/services/rpc_errc.hpp"
#include "troupe/services/service_directory.hpp"

namespace troupe::services {

stub_core::stub_core(channel ch, std::string service, stub_config cfg)
  : channel_(std::move(ch)), service_(std::move(service)), cfg_(std::move(cfg)) {
  // nop
}

caf::actor_clock::time_point stub_core::deadline_for(const call_options& opts,
                                                     caf::actor_clock::time_point now) const {
  if (const auto* current = actors::current_call_context()) {
    auto inherited = current->deadline();
    if (opts.timeout > caf::timespan{0} && now + opts.timeout < inherited)
      return now + opts.timeout;
    return inherited;
  }
  return now + (opts.timeout > caf::timespan{0} ? opts.timeout : cfg_.default_timeout);
}

actors::call_context stub_core::make_context(const char* method, const call_options& opts,
                                             caf::actor_clock::time_point now) const {
  if (const auto* current = actors::current_call_context())
    return current->child(method, now, opts.timeout);
  auto timeout = opts.timeout > caf::timespan{0} ? opts.timeout : cfg_.default_timeout;
  auto result = actors::call_context::ingress(method, now, timeout);
  if (!opts.request_id.empty())
    result.request_id = opts.request_id;
  return result;
}

void stub_core::resolve(caf::event_based_actor* self, const caf::actor_addr& stale,
                        caf::timespan left, bool wait,
                        std::function<void(caf::expected<caf::actor>)> k) const {
  auto on_error = [k](caf::error& err) { k(std::move(err)); };
  switch (channel_.how()) {
    case channel::kind::fixed:
      k(resolve_fixed(stale));
      return;
    case channel::kind::local:
      with_service_directory(channel_.system(), [&](const service_directory_actor& dir) {
        self
          ->request(dir, left, find_service_atom::value, service_, stale,
                    wait ? left : caf::timespan{0})
          .then([k](caf::actor& found) { k(std::move(found)); }, on_error);
      });
      return;
    case channel::kind::remote:
      self
        ->request(channel_.node(), left, transport::remote_atom::value, service_,
                  channel_.host(), channel_.port())
        .then([k](caf::actor& proxy) { k(std::move(proxy)); }, on_error);
      return;
    case channel::kind::located:
      self
        ->request(channel_.locator().finder(), left, find_service_atom::value, service_, stale,
                  wait ? left : caf::timespan{0})
        .then([k](caf::actor& found) { k(std::move(found)); }, on_error);
      return;
  }
}

caf::expected<caf::actor> stub_core::resolve(caf::scoped_actor& self,
                                             const caf::actor_addr& stale, caf::timespan left,
                                             bool wait) const {
  if (channel_.how() == channel::kind::fixed)
    return resolve_fixed(stale);
  if (auto found = cached(stale))
    return found;
  caf::expected<caf::actor> result{caf::actor{}};
  auto on_actor = [&](caf::actor& x) {
    remember(x);
    result = std::move(x);
  };
  auto on_error = [&](caf::error& err) { result = std::move(err); };
  if (channel_.how() == channel::kind::local) {
    // The lookup goes out under the directory's lock; the wait for its
    // answer does not.
    auto wait_for = wait ? left : caf::timespan{0};
    using handle =
      decltype(self->request(std::declval<const service_directory_actor&>(), left,
                             find_service_atom::value, service_, stale, wait_for));
    std::optional<handle> pending;
    with_service_directory(channel_.system(), [&](const service_directory_actor& dir) {
      pending.emplace(
        self->request(dir, left, find_service_atom::value, service_, stale, wait_for));
    });
    pending->receive(on_actor, on_error);
  } else if (channel_.how() == channel::kind::located) {
    self
      ->request(channel_.locator().finder(), left, find_service_atom::value, service_, stale,
                wait ? left : caf::timespan{0})
      .receive(on_actor, on_error);
  } else {
    self
      ->request(channel_.node(), left, transport::remote_atom::value, service_,
                channel_.host(), channel_.port())
      .receive(on_actor, on_error);
  }
  return result;
}

caf::actor stub_core::cached(const caf::actor_addr& stale) const {
  if (channel_.how() == channel::kind::fixed)
    return channel_.fixed().address() != stale ? channel_.fixed() : caf::actor{};
  // A locator balances: it picks on every call instead of the stub caching.
  if (channel_.how() == channel::kind::located)
    return channel_.locator().pick(service_, stale);
  std::lock_guard<std::mutex> guard{cache_mtx_};
  return cached_ && cached_.address() != stale ? cached_ : caf::actor{};
}

void stub_core::remember(const caf::actor& target) const {
  std::lock_guard<std::mutex> guard{cache_mtx_};
  cached_ = target;
}

void stub_core::forget(const caf::actor_addr& target) const {
  std::lock_guard<std::mutex> guard{cache_mtx_};
  if (cached_ && cached_.address() == target)
    cached_ = nullptr;
}

caf::duration stub_core::request_timeout(caf::timespan left) const {
  if (channel_.how() == channel::kind::fixed)
    return caf::duration{left};
  return caf::infinite;
}

bool stub_core::watches_deadlines() const noexcept {
  // A located instance may be a local actor, which no proxy bounds.
  return channel_.how() == channel::kind::local || channel_.how() == channel::kind::located;
}

struct stub_core::sweeper {
  internal::deadline_heap<std::weak_ptr<detail::expirable>> calls;
  /// The deadline the live timer fires at; max: none armed. A timer armed
  /// for another deadline (superseded by an earlier one) does nothing.
  caf::actor_clock::time_point armed = caf::actor_clock::time_point::max();
};

namespace {

bool ended(const std::weak_ptr<detail::expirable>& call) {
  return call.expired();
}

} // namespace

void stub_core::watch(caf::event_based_actor* self, caf::actor_clock::time_point deadline,
                      std::weak_ptr<detail::expirable> call) const {
  std::shared_ptr<sweeper> sw;
  {
    std::lock_guard<std::mutex> guard{sweep_mtx_};
    auto& slot = sweepers_[self];
    if (!slot) {
      slot = std::make_shared<sweeper>();
      // An actor that ends takes its watches along.
      self->attach_functor([weak = weak_from_this(), self] {
        if (auto core = weak.lock()) {
          std::lock_guard<std::mutex> guard{core->sweep_mtx_};
          core->sweepers_.erase(self);
        }
      });
    }
    sw = slot;
    sw->calls.push(deadline, std::move(call), ended);
    if (deadline >= sw->armed)
      return;
    sw->armed = deadline;
  }
  arm(self, sw, deadline);
}

void stub_core::arm(caf::event_based_actor* self, const std::shared_ptr<sweeper>& sw,
                    caf::actor_clock::time_point at) const {
  after(self, at - self->clock().now(),
        [core = shared_from_this(), self, sw, at] { core->sweep(self, sw, at); });
}

void stub_core::sweep(caf::event_based_actor* self, const std::shared_ptr<sweeper>& sw,
                      caf::actor_clock::time_point armed_for) const {
  std::vector<std::shared_ptr<detail::expirable>> due;
  auto next = caf::actor_clock::time_point::max();
  auto now = self->clock().now();
  {
    std::lock_guard<std::mutex> guard{sweep_mtx_};
    if (sw->armed != armed_for)
      return; // superseded by a timer for an earlier deadline
    sw->calls.pop_due(now, [&](std::weak_ptr<detail::expirable>& call) {
      if (auto live = call.lock())
        due.push_back(std::move(live));
    });
    // Calls that ended leave no timer behind: only a live one re-arms.
    sw->calls.drop_ended_top(ended);
    next = sw->calls.earliest();
    sw->armed = next;
  }
  for (auto& call : due)
    call->expire();
  if (next != caf::actor_clock::time_point::max())
    arm(self, sw, next);
}

caf::expected<caf::actor> stub_core::resolve_fixed(const caf::actor_addr& stale) const {
  if (auto found = cached(stale))
    return found;
  // A fixed actor that died does not come back.
  return caf::make_error(rpc_errc::unavailable, service_ + ": its actor is gone");
}

bool stub_core::not_delivered(const caf::error& err) {
  // Bounced by CAF from a dead actor's mailbox, or refused by the remote
  // node before delivery: no handler saw the call.
  return messages::is(err, caf::sec::request_receiver_down)
    || messages::is(err, transport::transport_errc::unknown_actor)
    || messages::is(err, transport::transport_errc::connect_failed);
}

bool stub_core::target_gone(const caf::error& err) {
  return not_delivered(err) || messages::is(err, transport::transport_errc::peer_lost)
    || messages::is(err, transport::transport_errc::peer_timeout)
    || messages::is(err, transport::transport_errc::node_stopped)
    || messages::is(err, transport::transport_errc::duplicate_connection);
}

caf::timespan stub_core::retry_delay(uint32_t retry) const {
  if (channel_.how() != channel::kind::remote && channel_.how() != channel::kind::located)
    return caf::timespan{0};
  auto delay = cfg_.retry_delay;
  for (uint32_t i = 1; i < retry && delay < cfg_.max_retry_delay; ++i)
    delay *= 2;
  return std::min(delay, cfg_.max_retry_delay);
}

void stub_core::after(caf::event_based_actor* self, caf::timespan delay,
                      std::function<void()> f) const {
  if (delay <= caf::timespan{0}) {
    f();
    return;
  }
  // A timer in `self` without a handler of our own in its behavior: a
  // response handler for a request never sent, answered by CAF's clock
  // with its request timeout. It dies with the actor.
  auto id = self->new_request_id(caf::message_priority::normal).response_id();
  self->add_multiplexed_response_handler(id, caf::behavior{[f](caf::error&) { f(); }});
  self->clock().set_request_timeout(self->clock().now() + delay, self, id);
}

bool stub_core::stream_node(const caf::actor& from, transport::node_actor& node,
                            std::string& host, uint16_t& port) const {
  switch (channel_.how()) {
    case channel::kind::remote:
      node = channel_.node();
      host = channel_.host();
      port = channel_.port();
      return true;
    case channel::kind::located:
      return from && channel_.locator().node_of(from.address(), node, host, port);
    default:
      return false;
  }
}

void stub_core::claim(caf::event_based_actor* self, const troupe::StreamOpened& opened,
                      const caf::actor& from, uint32_t capacity, caf::timespan left,
                      importer_factory make_importer,
                      std::function<void(caf::expected<caf::actor>)> k) const {
  auto on_error = [k](caf::error& err) { k(std::move(err)); };
  transport::node_actor node;
  std::string host;
  uint16_t port = 0;
  if (!stream_node(from, node, host, port)) {
    with_service_directory(channel_.system(), [&](const service_directory_actor& dir) {
      self
        ->request(dir, left, find_service_atom::value, opened.stream(), caf::actor_addr{},
                  caf::timespan{0})
        .then([k](caf::actor& producer) { k(std::move(producer)); }, on_error);
    });
    return;
  }
  self->request(node, left, transport::remote_atom::value, opened.stream(), host, port)
    .then([k, make_importer, capacity, sys = &self->system()](
            caf::actor& proxy) { k(make_importer(*sys, std::move(proxy), capacity)); },
          on_error);
}

caf::expected<caf::actor> stub_core::claim(caf::scoped_actor& self,
                                           const troupe::StreamOpened& opened,
                                           const caf::actor& from, uint32_t capacity,
                                           caf::timespan left,
                                           importer_factory make_importer) const {
  caf::expected<caf::actor> result{caf::actor{}};
  auto on_error = [&](caf::error& err) { result = std::move(err); };
  transport::node_actor node;
  std::string host;
  uint16_t port = 0;
  if (!stream_node(from, node, host, port)) {
    using handle = decltype(self->request(std::declval<const service_directory_actor&>(), left,
                                          find_service_atom::value, opened.stream(),
                                          caf::actor_addr{}, caf::timespan{0}));
    std::optional<handle> pending;
    with_service_directory(channel_.system(), [&](const service_directory_actor& dir) {
      pending.emplace(self->request(dir, left, find_service_atom::value, opened.stream(),
                                    caf::actor_addr{}, caf::timespan{0}));
    });
    pending->receive([&](caf::actor& producer) { result = std::move(producer); }, on_error);
    return result;
  }
  self->request(node, left, transport::remote_atom::value, opened.stream(), host, port)
    .receive(
      [&](caf::actor& proxy) {
        result = make_importer(self->system(), std::move(proxy), capacity);
      },
      on_error);
  return result;
}

caf::error stub_core::expired(const actors::call_context& ctx) {
  return caf::make_error(rpc_errc::deadline_exceeded,
                         ctx.method + " was not sent: its deadline passed");
}

} // namespace troupe::services
