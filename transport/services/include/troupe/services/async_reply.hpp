#pragma once

/// `async_reply`: a unary call made from inside an actor, started by
/// `then`; the callbacks run in the actor, once. What a generated stub's
/// method returns when given the calling actor (`stub.hpp`).

#include <memory>
#include <optional>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/message.hpp>

#include <troupe/actors/actor_path.hpp>
#include <troupe/actors/call_context.hpp>

#include "troupe/services/call_options.hpp"
#include "troupe/services/rpc_errc.hpp"
#include "troupe/services/stub_core.hpp"

namespace troupe::services {

namespace detail {

/// One asynchronous call in flight, with its callbacks' own types (no
/// `std::function`: one allocation per call fewer).
template <class Reply, class OnReply, class OnError>
struct pending_call final : expirable {
  using reply_type = Reply;

  pending_call(OnReply on_reply, OnError on_error)
    : ok(std::move(on_reply)), fail(std::move(on_error)) {
    // nop
  }

  stub_core_ptr core;
  caf::event_based_actor* self = nullptr;
  /// What is sent: `(call_context, Request)`, built once (a retry changes
  /// the attempt in place; CAF copies it only if it is still shared: the
  /// generated handlers take it by const reference, so it is not).
  caf::message msg;
  bool wait = true;
  /// The context current when the call started, restored for the callbacks
  /// (with the actor's clock and its path, for their log lines).
  std::optional<actors::call_context> outer;
  const std::string* path = nullptr;
  /// `ok(Reply&, const caf::actor& from)`: the reply, and the actor that
  /// sent it (where a stream it opened lives). `fail(caf::error&)`.
  OnReply ok;
  OnError fail;
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

  void succeed(Reply& x, const caf::actor& from) {
    if (finished)
      return;
    finished = true;
    std::optional<actors::call_context_scope> scope;
    if (outer)
      scope.emplace(*outer, &self->clock());
    std::optional<actors::actor_path_scope> at;
    if (path != nullptr)
      at.emplace(*path);
    ok(x, from);
  }

  void failed(caf::error err) {
    if (finished)
      return;
    finished = true;
    std::optional<actors::call_context_scope> scope;
    if (outer)
      scope.emplace(*outer, &self->clock());
    std::optional<actors::actor_path_scope> at;
    if (path != nullptr)
      at.emplace(*path);
    auto status = to_status(std::move(err));
    fail(status);
  }
};

template <class Call>
void attempt(std::shared_ptr<Call> st, caf::actor_clock::time_point now);

/// Sends the call to `target` (`now` read by the caller: one clock read per
/// attempt).
template <class Call>
void send(std::shared_ptr<Call> st, caf::actor target, caf::actor_clock::time_point now) {
  using Reply = typename Call::reply_type;
  auto left = st->ctx().remaining(now);
  if (left <= caf::timespan{0})
    return st->failed(stub_core::expired(st->ctx()));
  st->self->request(target, st->core->request_timeout(left), st->msg)
    .then([st, target](Reply& x) { st->succeed(x, target); },
          [st, target](caf::error& err) {
            if (stub_core::target_gone(err))
              st->core->forget(target.address());
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
                            [st] { attempt(st, st->self->clock().now()); });
          });
}

template <class Call>
void attempt(std::shared_ptr<Call> st, caf::actor_clock::time_point now) {
  if (st->finished)
    return;
  auto left = st->ctx().remaining(now);
  if (left <= caf::timespan{0})
    return st->failed(stub_core::expired(st->ctx()));
  if (auto target = st->core->cached(st->stale))
    return send(st, std::move(target), now);
  st->core->resolve(st->self, st->stale, left, st->wait,
                    [st](caf::expected<caf::actor> found) {
                      if (!found)
                        return st->failed(std::move(found.error()));
                      st->core->remember(*found);
                      send(st, std::move(*found), st->self->clock().now());
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
    then_from([ok = std::move(ok)](Reply& x, const caf::actor&) mutable { ok(x); },
              std::move(fail));
  }

  /// Same, and `ok(Reply&, const caf::actor& from)` also gets the actor
  /// that answered (a server-streaming call's stream lives where it runs).
  template <class OnReply, class OnError>
  void then_from(OnReply ok, OnError fail) {
    using call = detail::pending_call<Reply, OnReply, OnError>;
    auto st = std::make_shared<call>(std::move(ok), std::move(fail));
    st->core = core_;
    st->self = self_;
    auto now = self_->clock().now();
    auto ctx = core_->make_context(method_, opts_, now);
    auto expired = ctx.expired(now);
    st->msg = caf::make_message(std::move(ctx), std::move(request_));
    st->wait = opts_.wait_for_ready;
    if (const auto* current = actors::current_call_context())
      st->outer = *current;
    st->path = actors::current_actor_path();
    if (expired)
      return st->failed(stub_core::expired(st->ctx()));
    if (core_->watches_deadlines())
      core_->watch(self_, st->ctx().deadline(), st);
    detail::attempt(std::move(st), now);
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

} // namespace troupe::services
