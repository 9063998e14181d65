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
/// (copies share one `stub_core`, and so its cache); blocking calls must not be made
/// from inside an actor.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/duration.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/timespan.hpp>

#include "troupe/service.pb.h"
#include "troupe/services/async_reply.hpp"
#include "troupe/services/async_stream.hpp"
#include "troupe/services/call_options.hpp"
#include "troupe/services/channel.hpp"
#include "troupe/services/rpc_errc.hpp"
#include "troupe/services/stub_core.hpp"

namespace troupe::services {

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
    caf::actor from;
    auto opened = call_blocking<Request, troupe::StreamOpened>(method, request, opts, &from);
    if (!opened)
      return opened.error();
    auto left =
      std::max(deadline - self->clock().now(), caf::timespan{std::chrono::milliseconds{1}});
    auto stream =
      core_->claim(self, *opened, from, capacity, left, &detail::make_importer<Item>);
    if (!stream)
      return to_status(std::move(stream.error()));
    return stream;
  }

  /// `from` (if given) is set to the actor that answered.
  template <class Request, class Reply>
  caf::expected<Reply> call_blocking(const char* method, const Request& request,
                                     const call_options& opts,
                                     caf::actor* from = nullptr) const {
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
      if (reply) {
        if (from != nullptr)
          *from = *target;
        return std::move(*reply);
      }
      if (stub_core::target_gone(err))
        core_->forget(target->address());
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
