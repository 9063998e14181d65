#include "troupe/services/stub.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/sec.hpp>

#include <troupe/actors/flow_errc.hpp>
#include <troupe/transport/atoms.hpp>
#include <troupe/transport/transport_errc.hpp>

#include "troupe/services/service_directory.hpp"

namespace troupe::services {

stub_core::stub_core(channel ch, std::string service, stub_config cfg)
  : channel_(std::move(ch)), service_(std::move(service)), cfg_(std::move(cfg)) {
  // nop
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
          ->request(dir, left, actors::lookup_atom::value, service_, stale,
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
                             actors::lookup_atom::value, service_, stale, wait_for));
    std::optional<handle> pending;
    with_service_directory(channel_.system(), [&](const service_directory_actor& dir) {
      pending.emplace(
        self->request(dir, left, actors::lookup_atom::value, service_, stale, wait_for));
    });
    pending->receive(on_actor, on_error);
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
    return channel_.cached(service_, stale);
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
  if (channel_.how() == channel::kind::remote)
    return caf::infinite;
  return caf::duration{left};
}

caf::expected<caf::actor> stub_core::resolve_fixed(const caf::actor_addr& stale) const {
  if (auto found = channel_.cached(service_, stale))
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

caf::timespan stub_core::retry_delay(uint32_t retry) const {
  if (channel_.how() != channel::kind::remote)
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
  with_service_directory(channel_.system(), [&](const service_directory_actor& dir) {
    self->request(dir, caf::infinite, timer_atom::value, delay)
      .then([f](caf::ok_atom) { f(); }, [f](caf::error&) { f(); });
  });
}

void stub_core::claim(caf::event_based_actor* self, const troupe::StreamOpened& opened,
                      uint32_t capacity, caf::timespan left, importer_factory make_importer,
                      std::function<void(caf::expected<caf::actor>)> k) const {
  auto on_error = [k](caf::error& err) { k(std::move(err)); };
  if (channel_.how() != channel::kind::remote) {
    with_service_directory(channel_.system(), [&](const service_directory_actor& dir) {
      self
        ->request(dir, left, actors::lookup_atom::value, opened.stream(), caf::actor_addr{},
                  caf::timespan{0})
        .then([k](caf::actor& producer) { k(std::move(producer)); }, on_error);
    });
    return;
  }
  self
    ->request(channel_.node(), left, transport::remote_atom::value, opened.stream(),
              channel_.host(), channel_.port())
    .then([k, make_importer, capacity, sys = &self->system()](
            caf::actor& proxy) { k(make_importer(*sys, std::move(proxy), capacity)); },
          on_error);
}

caf::expected<caf::actor> stub_core::claim(caf::scoped_actor& self,
                                           const troupe::StreamOpened& opened,
                                           uint32_t capacity, caf::timespan left,
                                           importer_factory make_importer) const {
  caf::expected<caf::actor> result{caf::actor{}};
  auto on_error = [&](caf::error& err) { result = std::move(err); };
  if (channel_.how() != channel::kind::remote) {
    using handle = decltype(self->request(std::declval<const service_directory_actor&>(), left,
                                          actors::lookup_atom::value, opened.stream(),
                                          caf::actor_addr{}, caf::timespan{0}));
    std::optional<handle> pending;
    with_service_directory(channel_.system(), [&](const service_directory_actor& dir) {
      pending.emplace(self->request(dir, left, actors::lookup_atom::value, opened.stream(),
                                    caf::actor_addr{}, caf::timespan{0}));
    });
    pending->receive([&](caf::actor& producer) { result = std::move(producer); }, on_error);
    return result;
  }
  self
    ->request(channel_.node(), left, transport::remote_atom::value, opened.stream(),
              channel_.host(), channel_.port())
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
