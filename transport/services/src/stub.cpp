#include "troupe/services/stub.hpp"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

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
  if (channel_.how() == channel::kind::fixed)
    return caf::duration{left};
  return caf::infinite;
}

bool stub_core::watches_deadlines() const noexcept {
  return channel_.how() == channel::kind::local;
}

struct stub_core::sweeper {
  using time_point = caf::actor_clock::time_point;
  using entry = std::pair<time_point, std::weak_ptr<detail::expirable>>;
  /// Min-heap by deadline. Calls that ended stay until they are popped or
  /// compacted away (removing from the middle of a heap costs more).
  std::vector<entry> heap;
  /// The deadline the armed timer fires at; max: none armed.
  time_point armed = time_point::max();
  /// Heap size at which ended calls are dropped.
  size_t compact_at = 1024;
};

namespace {

struct later_first {
  template <class Entry>
  bool operator()(const Entry& x, const Entry& y) const {
    return x.first > y.first;
  }
};

} // namespace

void stub_core::watch(caf::event_based_actor* self, caf::actor_clock::time_point deadline,
                      std::weak_ptr<detail::expirable> call) const {
  std::shared_ptr<sweeper> sw;
  bool arm = false;
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
    auto& heap = sw->heap;
    heap.emplace_back(deadline, std::move(call));
    std::push_heap(heap.begin(), heap.end(), later_first{});
    if (heap.size() >= sw->compact_at) {
      heap.erase(std::remove_if(heap.begin(), heap.end(),
                                [](const sweeper::entry& x) { return x.second.expired(); }),
                 heap.end());
      std::make_heap(heap.begin(), heap.end(), later_first{});
      sw->compact_at = std::max<size_t>(1024, 2 * heap.size());
    }
    if (deadline < sw->armed) {
      sw->armed = deadline;
      arm = true;
    }
  }
  if (arm)
    after(self, deadline - self->clock().now(),
          [core = shared_from_this(), self, sw] { core->sweep(self, sw); });
}

void stub_core::sweep(caf::event_based_actor* self, const std::shared_ptr<sweeper>& sw) const {
  std::vector<std::shared_ptr<detail::expirable>> due;
  caf::actor_clock::time_point next = caf::actor_clock::time_point::max();
  auto now = self->clock().now();
  {
    std::lock_guard<std::mutex> guard{sweep_mtx_};
    auto& heap = sw->heap;
    while (!heap.empty() && heap.front().first <= now) {
      if (auto call = heap.front().second.lock())
        due.push_back(std::move(call));
      std::pop_heap(heap.begin(), heap.end(), later_first{});
      heap.pop_back();
    }
    sw->armed = caf::actor_clock::time_point::max();
    if (!heap.empty()) {
      next = heap.front().first;
      sw->armed = next;
    }
  }
  for (auto& call : due)
    call->expire();
  if (next != caf::actor_clock::time_point::max())
    after(self, next - now, [core = shared_from_this(), self, sw] { core->sweep(self, sw); });
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
