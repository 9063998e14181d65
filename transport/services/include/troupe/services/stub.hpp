#pragma once

/// The client side of a protobuf `service`: what generated stubs build on.
///
/// For `rpc Quote(QuoteRequest) returns (Quote)` of `shop.v1.Pricing`, the
/// generated `shop::v1::Pricing::Stub` has two `quote` methods:
///
///   // inside an actor: never blocks; the callbacks run in the actor
///   stub.quote(self, request, 500ms).then(
///     [](shop::v1::Quote& q) { ... },
///     [](caf::error& status) { ... });          // a trp_rpc status
///
///   // outside actors: blocks the calling thread until the reply or the
///   // deadline
///   caf::expected<shop::v1::Quote> q = stub.quote(request, 500ms);
///
/// One deadline per call (`call_options::timeout`, or the stub's
/// `default_timeout`); no second timeout. Inside a service handler, a call
/// inherits the handler's context: the earlier of its own timeout and the
/// handler's deadline, the same trace and request id, a new span. A call
/// whose deadline has passed is not sent (`deadline_exceeded` at once).
///
/// Failures are statuses (`rpc_errc`, see `to_status`). With
/// `wait_for_ready` (the default), a call that finds its service not
/// running — restarting, not yet registered, unknown on the remote node,
/// its connection being re-established — looks the service up again and
/// retries within its deadline; calls already delivered to a service that
/// then died are not retried (they may have run) and fail `unavailable`.
/// Without `wait_for_ready`, such a call fails `unavailable` at once
/// (gRPC's wait-for-ready semantics).
///
/// Thread safety: a stub may be copied and used from any thread or actor
/// (copies share the channel's cache); blocking calls must not be made
/// from inside an actor.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/duration.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/timespan.hpp>

#include <troupe/actors/call_context.hpp>
#include <troupe/transport/remote_stream.hpp>

#include "troupe/service.pb.h"

#include "troupe/services/channel.hpp"
#include "troupe/services/rpc_errc.hpp"

namespace troupe::services {

/// Options of one call.
struct call_options {
  /// The call's deadline, from now; 0: the inherited deadline, or the
  /// stub's `default_timeout` at the ingress.
  caf::timespan timeout{0};
  /// The request id, at the ingress only (calls inside a handler keep the
  /// handler's); empty: generated.
  std::string request_id;
  /// Wait for a service that is not running (see above). Default true.
  bool wait_for_ready = true;

  call_options() = default;

  template <class Rep, class Period>
  call_options(std::chrono::duration<Rep, Period> t) // NOLINT: implicit on purpose
    : timeout(std::chrono::duration_cast<caf::timespan>(t)) {
    // nop
  }
};

/// Settings of a stub.
struct stub_config {
  /// Deadline of an ingress call without a timeout. Default 5 s.
  caf::timespan default_timeout = std::chrono::seconds{5};
  /// First pause before retrying a remote service that is not there
  /// (doubling up to `max_retry_delay`). Local retries wait in the service
  /// directory instead. Default 10 ms.
  caf::timespan retry_delay = std::chrono::milliseconds{10};
  /// Default 250 ms.
  caf::timespan max_retry_delay = std::chrono::milliseconds{250};
};

namespace detail {

/// A call in flight that its deadline may end (see `stub_core::watch`).
struct expirable {
  virtual ~expirable() = default;
  /// Ends the call with `deadline_exceeded` unless it has ended.
  virtual void expire() = 0;
};

} // namespace detail

/// The non-template part of a stub, shared by its copies and its calls in
/// flight (a call outlives a temporary stub).
class stub_core : public std::enable_shared_from_this<stub_core> {
public:
  stub_core(channel ch, std::string service, stub_config cfg);

  const channel& target() const noexcept {
    return channel_;
  }

  const std::string& service_name() const noexcept {
    return service_;
  }

  const stub_config& config() const noexcept {
    return cfg_;
  }

  /// The deadline a call with `opts` made at `now` gets: the earlier of its
  /// timeout and the current context's deadline, else the timeout (the
  /// stub's default without one).
  caf::actor_clock::time_point deadline_for(const call_options& opts,
                                            caf::actor_clock::time_point now) const;

  /// The context of a new call of `method` at `now` (see above).
  actors::call_context make_context(const char* method, const call_options& opts,
                                    caf::actor_clock::time_point now) const;

  /// Finds the service's actor (not `stale`) from inside `self`, then
  /// calls `k` once, in `self`, with it or with the status why not.
  void resolve(caf::event_based_actor* self, const caf::actor_addr& stale, caf::timespan left,
               bool wait, std::function<void(caf::expected<caf::actor>)> k) const;

  /// Same, blocking.
  caf::expected<caf::actor> resolve(caf::scoped_actor& self, const caf::actor_addr& stale,
                                    caf::timespan left, bool wait) const;

  /// True if `err` says the call never reached a running service, so
  /// trying again (after looking it up again) cannot run it twice.
  static bool not_delivered(const caf::error& err);

  /// The actor found last for this service, unless it is `stale`; null if
  /// none.
  caf::actor cached(const caf::actor_addr& stale) const;

  /// Remembers `target` as the service's actor.
  void remember(const caf::actor& target) const;

  /// Forgets `target` (it died or cannot be reached).
  void forget(const caf::actor_addr& target) const;

  /// The CAF timeout of an attempt with `left` of the deadline: `left` for
  /// a fixed actor; none through a node's proxy, which enforces the deadline
  /// itself (`call_options.hpp`), nor to a service found in the directory,
  /// whose deadline `watch` enforces (a service always answers, at the
  /// latest when its deferred replies expire or it stops).
  caf::duration request_timeout(caf::timespan left) const;

  /// True if calls of this stub need `watch` (see `request_timeout`).
  bool watches_deadlines() const noexcept;

  /// Ends `call` with `deadline_exceeded` at `deadline` unless it ended
  /// before: one timer per actor and stub for the earliest deadline
  /// instead of one CAF timer per call (CAF 0.17 wakes its clock thread
  /// for every timeout it is given).
  void watch(caf::event_based_actor* self, caf::actor_clock::time_point deadline,
             std::weak_ptr<detail::expirable> call) const;

  /// The pause before retry number `retry` (1, 2, ...).
  caf::timespan retry_delay(uint32_t retry) const;

  /// Runs `f` in `self` after `delay`.
  void after(caf::event_based_actor* self, caf::timespan delay, std::function<void()> f) const;

  /// The status of a call whose deadline passed before it was sent.
  static caf::error expired(const actors::call_context& ctx);

  /// Makes the local end of a remote stream: an importer of `Item`s
  /// pulling from `remote` with `capacity` (`transport::spawn_importer`).
  using importer_factory = caf::expected<caf::actor> (*)(caf::actor_system&, caf::actor remote,
                                                         uint32_t capacity);

  /// Finds the stream a server-streaming call opened, from inside `self`:
  /// the producer itself (local) or an importer pulling with `capacity`
  /// (remote); calls `k` once, in `self`.
  void claim(caf::event_based_actor* self, const troupe::StreamOpened& opened,
             uint32_t capacity, caf::timespan left, importer_factory make_importer,
             std::function<void(caf::expected<caf::actor>)> k) const;

  /// Same, blocking.
  caf::expected<caf::actor> claim(caf::scoped_actor& self, const troupe::StreamOpened& opened,
                                  uint32_t capacity, caf::timespan left,
                                  importer_factory make_importer) const;

private:
  caf::expected<caf::actor> resolve_fixed(const caf::actor_addr& stale) const;

  struct sweeper;

  /// Sets the timer of `sw` for `at`.
  void arm(caf::event_based_actor* self, const std::shared_ptr<sweeper>& sw,
           caf::actor_clock::time_point at) const;

  /// Ends the calls of `self` whose deadline passed, if `armed_for` is
  /// still the live timer; arms the next one.
  void sweep(caf::event_based_actor* self, const std::shared_ptr<sweeper>& sw,
             caf::actor_clock::time_point armed_for) const;

  channel channel_;
  std::string service_;
  stub_config cfg_;
  /// The service's actor found last (calls from any thread share it).
  mutable std::mutex cache_mtx_;
  mutable caf::actor cached_;
  /// Deadline watches per calling actor (`watch`).
  mutable std::mutex sweep_mtx_;
  mutable std::unordered_map<caf::event_based_actor*, std::shared_ptr<sweeper>> sweepers_;
};

using stub_core_ptr = std::shared_ptr<const stub_core>;

namespace detail {

/// One asynchronous call in flight.
template <class Request, class Reply>
struct pending_call final : expirable {
  stub_core_ptr core;
  caf::event_based_actor* self = nullptr;
  /// What is sent: `(call_context, Request)`, built once (a retry changes
  /// the attempt in place; CAF copies it only if it is still shared).
  caf::message msg;
  bool wait = true;
  /// The context current when the call started, restored for the callbacks.
  std::optional<actors::call_context> outer;
  std::function<void(Reply&)> ok;
  std::function<void(caf::error&)> fail;
  caf::actor_addr stale;
  uint32_t retries = 0;
  /// Answered, failed or expired: later outcomes are dropped.
  bool finished = false;

  const actors::call_context& ctx() const {
    return msg.get_as<actors::call_context>(0);
  }

  void expire() override {
    failed(caf::make_error(rpc_errc::deadline_exceeded,
                           ctx().method + ": no answer before the deadline"));
  }

  void succeed(Reply& x) {
    if (finished)
      return;
    finished = true;
    std::optional<actors::call_context_scope> scope;
    if (outer)
      scope.emplace(*outer);
    ok(x);
  }

  void failed(caf::error err) {
    if (finished)
      return;
    finished = true;
    std::optional<actors::call_context_scope> scope;
    if (outer)
      scope.emplace(*outer);
    auto status = to_status(std::move(err));
    fail(status);
  }
};

template <class Request, class Reply>
void attempt(std::shared_ptr<pending_call<Request, Reply>> st);

template <class Request, class Reply>
void send(std::shared_ptr<pending_call<Request, Reply>> st, caf::actor target) {
  auto left = st->ctx().remaining(st->self->clock().now());
  if (left <= caf::timespan{0})
    return st->failed(stub_core::expired(st->ctx()));
  st->self->request(target, st->core->request_timeout(left), st->msg)
    .then([st](Reply& x) { st->succeed(x); },
          [st, target](caf::error& err) {
            if (st->finished)
              return;
            auto now = st->self->clock().now();
            if (!st->wait || !stub_core::not_delivered(err) || st->ctx().expired(now))
              return st->failed(std::move(err));
            st->core->forget(target.address());
            st->stale = target.address();
            ++st->retries;
            ++st->msg.template get_mutable_as<actors::call_context>(0).attempt;
            st->core->after(st->self, st->core->retry_delay(st->retries),
                            [st] { attempt(st); });
          });
}

template <class Request, class Reply>
void attempt(std::shared_ptr<pending_call<Request, Reply>> st) {
  if (st->finished)
    return;
  auto left = st->ctx().remaining(st->self->clock().now());
  if (left <= caf::timespan{0})
    return st->failed(stub_core::expired(st->ctx()));
  if (auto target = st->core->cached(st->stale))
    return send(st, std::move(target));
  st->core->resolve(st->self, st->stale, left, st->wait,
                    [st](caf::expected<caf::actor> found) {
                      if (!found)
                        return st->failed(std::move(found.error()));
                      st->core->remember(*found);
                      send(st, std::move(*found));
                    });
}

} // namespace detail

/// A call made from inside an actor, started by `then`.
template <class Request, class Reply>
class [[nodiscard]] async_reply {
public:
  async_reply(stub_core_ptr core, caf::event_based_actor* self, const char* method,
              const Request& request, call_options opts)
    : core_(std::move(core)),
      self_(self),
      method_(method),
      request_(request),
      opts_(std::move(opts)) {
    // nop
  }

  /// Starts the call: `ok(Reply&)` or `fail(caf::error&)` runs once, in the
  /// actor. A call whose deadline already passed fails before `then`
  /// returns.
  template <class OnReply, class OnError>
  void then(OnReply ok, OnError fail) {
    auto st = std::make_shared<detail::pending_call<Request, Reply>>();
    st->core = core_;
    st->self = self_;
    auto now = self_->clock().now();
    auto ctx = core_->make_context(method_, opts_, now);
    auto expired = ctx.expired(now);
    st->msg = caf::make_message(std::move(ctx), std::move(request_));
    st->wait = opts_.wait_for_ready;
    if (const auto* current = actors::current_call_context())
      st->outer = *current;
    st->ok = std::move(ok);
    st->fail = std::move(fail);
    if (expired)
      return st->failed(stub_core::expired(st->ctx()));
    if (core_->watches_deadlines())
      core_->watch(self_, st->ctx().deadline(), st);
    detail::attempt(std::move(st));
  }

  const call_options& options() const noexcept {
    return opts_;
  }

  /// Same with one callback for both outcomes.
  template <class OnDone>
  void then(OnDone done) {
    auto shared = std::make_shared<OnDone>(std::move(done));
    then([shared](Reply& x) { (*shared)(caf::expected<Reply>{std::move(x)}); },
         [shared](caf::error& err) { (*shared)(caf::expected<Reply>{std::move(err)}); });
  }

private:
  stub_core_ptr core_;
  caf::event_based_actor* self_;
  const char* method_;
  Request request_;
  call_options opts_;
};

namespace detail {

template <class Item>
caf::expected<caf::actor> make_importer(caf::actor_system& sys, caf::actor remote,
                                        uint32_t capacity) {
  transport::stream_import_config cfg = transport::stream_import_config::from(sys.config());
  cfg.capacity = capacity;
  // Batches to the local consumer grow with the capacity (a thirty-second
  // of it, at least the configured size, at most 1024): a large capacity
  // is asked for to move many items, and per-batch costs dominate there.
  cfg.batch_size =
    std::min({capacity, uint32_t{1024}, std::max(cfg.batch_size, capacity / 32)});
  return transport::spawn_importer<Item>(sys, std::move(remote), cfg);
}

} // namespace detail

/// A server-streaming call made from inside an actor, started by `then`:
/// `on_stream(caf::actor stream)` gets a producer of the items to subscribe
/// a consumer to (capacity at most the call's), or `on_error(caf::error&)`
/// the status. Both run once, in the actor.
template <class Request, class Item>
class [[nodiscard]] async_stream {
public:
  async_stream(async_reply<Request, troupe::StreamOpened> open, stub_core_ptr core,
               caf::event_based_actor* self, uint32_t capacity)
    : open_(std::move(open)), core_(std::move(core)), self_(self), capacity_(capacity) {
    // nop
  }

  template <class OnStream, class OnError>
  void then(OnStream on_stream, OnError on_error) {
    auto fail = std::make_shared<OnError>(std::move(on_error));
    auto ok = std::make_shared<OnStream>(std::move(on_stream));
    // Finding the stream is part of the call: it gets what is left of the
    // deadline, and the callbacks run in the caller's context.
    auto deadline = core_->deadline_for(open_.options(), self_->clock().now());
    std::optional<actors::call_context> outer;
    if (const auto* current = actors::current_call_context())
      outer = *current;
    std::move(open_).then(
      [core = core_, self = self_, capacity = capacity_, ok, fail, deadline,
       outer](troupe::StreamOpened& opened) {
        auto left = std::max(deadline - self->clock().now(),
                             caf::timespan{std::chrono::milliseconds{1}});
        core->claim(self, opened, capacity, left, &detail::make_importer<Item>,
                    [ok, fail, outer](caf::expected<caf::actor> stream) {
                      std::optional<actors::call_context_scope> scope;
                      if (outer)
                        scope.emplace(*outer);
                      if (stream) {
                        (*ok)(*stream);
                      } else {
                        auto err = to_status(std::move(stream.error()));
                        (*fail)(err);
                      }
                    });
      },
      [fail](caf::error& err) { (*fail)(err); });
  }

private:
  async_reply<Request, troupe::StreamOpened> open_;
  stub_core_ptr core_;
  caf::event_based_actor* self_;
  uint32_t capacity_;
};

/// Base of every generated `<Service>::Stub`.
class stub_base {
public:
  /// The channel the calls go through.
  const channel& target() const noexcept {
    return core_->target();
  }

  /// The service's full name, e.g. "shop.v1.Pricing".
  const std::string& service_name() const noexcept {
    return core_->service_name();
  }

protected:
  stub_base(channel ch, std::string service, stub_config cfg)
    : core_(std::make_shared<stub_core>(std::move(ch), std::move(service), std::move(cfg))) {
    // nop
  }

  template <class Request, class Reply>
  async_reply<Request, Reply> call_async(caf::event_based_actor* self, const char* method,
                                         const Request& request, call_options opts) const {
    return {core_, self, method, request, std::move(opts)};
  }

  template <class Request, class Item>
  async_stream<Request, Item> call_stream_async(caf::event_based_actor* self,
                                                const char* method, const Request& request,
                                                uint32_t capacity, call_options opts) const {
    return {call_async<Request, troupe::StreamOpened>(self, method, request, std::move(opts)),
            core_, self, capacity};
  }

  template <class Request, class Item>
  caf::expected<caf::actor> call_stream_blocking(const char* method, const Request& request,
                                                 uint32_t capacity,
                                                 const call_options& opts) const {
    caf::scoped_actor self{core_->target().system()};
    auto deadline = core_->deadline_for(opts, self->clock().now());
    auto opened = call_blocking<Request, troupe::StreamOpened>(method, request, opts);
    if (!opened)
      return opened.error();
    auto left =
      std::max(deadline - self->clock().now(), caf::timespan{std::chrono::milliseconds{1}});
    auto stream = core_->claim(self, *opened, capacity, left, &detail::make_importer<Item>);
    if (!stream)
      return to_status(std::move(stream.error()));
    return stream;
  }

  template <class Request, class Reply>
  caf::expected<Reply> call_blocking(const char* method, const Request& request,
                                     const call_options& opts) const {
    caf::scoped_actor self{core_->target().system()};
    auto ctx = core_->make_context(method, opts, self->clock().now());
    caf::actor_addr stale;
    for (uint32_t retries = 0;; ++retries) {
      auto left = ctx.remaining(self->clock().now());
      if (left <= caf::timespan{0})
        return stub_core::expired(ctx);
      auto target = core_->resolve(self, stale, left, opts.wait_for_ready);
      if (!target)
        return to_status(std::move(target.error()));
      std::optional<Reply> reply;
      caf::error err;
      // A blocking call keeps CAF's timeout: no sweeper runs in a scoped actor.
      auto timeout = core_->target().how() == channel::kind::remote
        ? caf::duration{caf::infinite}
        : caf::duration{left};
      self->request(*target, timeout, ctx, request)
        .receive([&](Reply& x) { reply = std::move(x); },
                 [&](caf::error& e) { err = std::move(e); });
      if (reply)
        return std::move(*reply);
      if (!opts.wait_for_ready || !stub_core::not_delivered(err)
          || ctx.expired(self->clock().now()))
        return to_status(std::move(err));
      core_->forget(target->address());
      stale = target->address();
      ++ctx.attempt;
      auto pause =
        std::min(core_->retry_delay(retries + 1), ctx.remaining(self->clock().now()));
      if (pause > caf::timespan{0})
        self->receive(caf::after(pause) >> [] {});
    }
  }

private:
  stub_core_ptr core_;
};

} // namespace troupe::services
