#pragma once

/// The server side of a protobuf `service`: what generated code builds on.
///
/// For `service Pricing { rpc Quote(QuoteRequest) returns (Quote); }` in
/// package `shop.v1`, `troupe_add_messages` generates
/// `shop::v1::Pricing::Service`, a `service_base` with one virtual method
/// per rpc (snake_case) that a user overrides:
///
///   class pricing final : public shop::v1::Pricing::Service {
///     troupe::services::reply<shop::v1::Quote>
///     quote(troupe::services::server_call& call, const shop::v1::QuoteRequest& req) override
///     {
///       if (req.sku().empty())
///         return caf::make_error(rpc_errc::invalid_argument, "sku is empty");
///       shop::v1::Quote q;  ...
///       return q;                       // a plain reply
///     }
///   };
///
/// A method replies with a value, fails with a typed error (`rpc_errc`, or
/// any Troupe error: the caller's stub maps it with `to_status`), or
/// answers later: `auto later = call.defer<Quote>(); ...; return later;`
/// and `later.deliver(q)` / `later.fail(err)` once, from any handler or
/// callback of the same actor. A method not overridden answers
/// `unimplemented`.
///
/// Each service runs as one actor (`service_actor`), one call at a time;
/// its object lives as long as that actor (a restart builds a new one, like
/// a restarted OTP server). Before a method runs, the generated dispatch:
///  - refuses a call whose deadline passed (`deadline_exceeded`, the method
///    is not started: nothing is done for a caller that gave up);
///  - makes the call's context current (`actors::call_context`), so calls
///    the method makes inherit its deadline and trace, and log lines carry
///    them;
///  - turns an exception thrown by the method into `internal` for the caller
///    and then lets the actor fail (its supervisor decides what next).
///
/// Methods are told apart by their full name (`/shop.v1.Pricing/Quote`),
/// which travels in the call's `call_context`: two methods may take the
/// same request type.
///
/// Thread safety: a service object is used by its actor only.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/behavior.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/response_promise.hpp>
#include <caf/timespan.hpp>

#include <troupe/actors/actor_path.hpp>
#include <troupe/actors/call_context.hpp>
#include <troupe/transport/node_actor.hpp>

#include "troupe/services/reply.hpp"
#include "troupe/services/rpc_errc.hpp"
#include "troupe/services/server_call.hpp"
#include "troupe/services/service_mailbox.hpp"
#include "troupe/services/service_report.hpp"

namespace troupe::services {

namespace internal {
template <class T>
class deadline_heap;
} // namespace internal

/// How long a stream opened by a call without a deadline waits for its
/// caller to subscribe.
constexpr caf::timespan stream_open_timeout = std::chrono::seconds{30};

/// Base of every generated `<Service>::Service`.
class service_base {
public:
  service_base();

  virtual ~service_base();

  /// The service's full protobuf name, e.g. "shop.v1.Pricing".
  virtual const char* service_full_name() const noexcept = 0;

  /// Runs in the actor once it started, before the first call. Does
  /// nothing by default.
  virtual void on_start() {
    // nop
  }

  /// Runs in the actor when it stops, for whatever reason (OTP's
  /// `terminate`): release what the service holds. Does nothing by default.
  virtual void on_stop() {
    // nop
  }

  /// The service's actor; null until it runs.
  caf::event_based_actor* self() const noexcept {
    return self_;
  }

  const service_stats& stats() const noexcept {
    return stats_;
  }

  /// Its counters and per-method stats (`service_report_atom`).
  service_report report() const;

  /// Its place in the supervision tree (e.g. "shop/shop.v1.Pricing"), set
  /// by `service_child`; the service's full name when unsupervised. Logged
  /// as the actor path of every line its methods write.
  const std::string& path() const noexcept {
    return path_;
  }

  /// For `start_service`: sets `path()`.
  void set_path(std::string path) {
    path_ = std::move(path);
  }

  /// Runs `f` in the service's actor after `delay` (on the actor clock),
  /// unless the actor stopped first: a timer for methods that answer later
  /// (`server_call::defer`) without a message handler of their own. The
  /// call context current when it was set is current when `f` runs.
  void after(caf::timespan delay, std::function<void()> f);

  /// Work for this service's actor from any thread, in order with its calls
  /// (`service_mailbox.hpp`); a mailbox of no actor until the service runs.
  service_mailbox mailbox() const {
    return service_mailbox{self_ != nullptr ? self_->address() : caf::actor_addr{}};
  }

  /// For `service_actor`: runs the timer `id` (see `after`).
  void fire(uint64_t id);

  /// The behavior that dispatches the methods (generated).
  virtual caf::behavior make_behavior() = 0;

  /// For `service_actor`: the actor, and the node the service is
  /// published on (if any).
  void bind(caf::event_based_actor* self, std::optional<transport::node_actor> node) noexcept {
    self_ = self;
    node_ = std::move(node);
  }

  /// Makes a hub exporting a producer (`transport::spawn_export_hub<T>`).
  using hub_factory =
    std::function<caf::expected<caf::actor>(caf::actor_system&, caf::actor producer)>;

  /// For `stream_reply`: answers `call` with a `troupe.StreamOpened` once
  /// `producer` can be subscribed to — registered in the service directory
  /// under a new stream name and, for a service published on a node,
  /// exported there under the same name. With `owned`, the producer was
  /// spawned for this call: it is stopped when nobody subscribes in time or
  /// when the service stops. A producer the method handed over (a shared
  /// feed) is never stopped by the service.
  caf::message open_stream(server_call& call, caf::actor producer, bool owned,
                           const std::string& item_type, const hub_factory& make_hub);

  /// For `service_actor`: stops a stream nobody subscribed to in time.
  void check_stream(const caf::actor_addr& producer);

  /// For `service_actor`: stops the streams this service spawned and
  /// answers the deferred replies still pending (`unavailable`).
  void stop();

  /// For `server_call::defer`: watches `reply` until `deadline`.
  void watch_deferred(const std::shared_ptr<detail::pending_reply>& reply,
                      caf::actor_clock::time_point deadline);

  /// For `service_actor`: answers the deferred replies whose deadline
  /// passed, if `armed_for` (nanoseconds on the actor clock) is the live
  /// timer.
  void expire_deferred(int64_t armed_for);

  /// Arms the deferred timer for `at`.
  void arm_deferred(caf::actor_clock::time_point at);

protected:
  /// For generated code: runs one method call `f(server_call&)` with the
  /// checks and the context described above.
  template <class F>
  caf::message dispatch(const actors::call_context& ctx, F&& f) {
    unknown_ = false; // set by `unknown_method` during this call only
    auto started = self_->clock().now();
    if (!admit(ctx, started))
      return refuse(ctx);
    actors::call_context_scope current{ctx, &self_->clock()};
    actors::actor_path_scope at{path_};
    server_call call{*this, self_, ctx, &method_stats_of(ctx.method), started};
    caf::message answer;
    try {
      answer = f(call);
    } catch (...) {
      failed(call);
      throw;
    }
    answered(call, answer);
    return answer;
  }

  /// For generated code: the answer to a method this service lacks.
  caf::message unknown_method(const actors::call_context& ctx);

  /// For generated code: the answer of a method not overridden.
  static caf::error unimplemented(const char* method);

private:
  /// Counts the call; false if its deadline passed by `now`.
  bool admit(const actors::call_context& ctx, caf::actor_clock::time_point now);

  /// The `deadline_exceeded` answer for a call not started.
  caf::message refuse(const actors::call_context& ctx);

  /// Tells the caller `internal` after the method threw (also when it had
  /// deferred its reply before throwing).
  void failed(server_call& call);

  /// The stats of `method` (made on first use; dropped again by
  /// `answered` if the service has no such method, so a caller cannot grow
  /// the map with made-up names).
  method_stats& method_stats_of(const std::string& method);

  /// Counts a method's immediate answer (an empty one is deferred: counted
  /// when given).
  void answered(const server_call& call, const caf::message& answer);

  caf::event_based_actor* self_ = nullptr;
  std::optional<transport::node_actor> node_;
  /// Producers of the streams this service opened (they stop with it).
  std::set<caf::actor_addr> streams_;
  /// Deferred replies by deadline. Held strongly: a method that drops its
  /// `deferred` without answering still gets its caller an answer, at the
  /// deadline.
  std::unique_ptr<internal::deadline_heap<std::shared_ptr<detail::pending_reply>>> deferred_;
  /// The deadline the live deferred timer fires at; max: none armed.
  caf::actor_clock::time_point deferred_armed_ = caf::actor_clock::time_point::max();
  /// Timers set with `after`, by id.
  std::map<uint64_t, std::function<void()>> timers_;
  uint64_t last_timer_ = 0;
  service_stats stats_;
  std::string path_;
  /// Per method, by full name (node-stable: pending replies point here).
  std::map<std::string, method_stats, std::less<>> methods_;
  /// Set by `unknown_method` while a call is dispatched.
  bool unknown_ = false;
  /// The call being dispatched made its method's entry.
  bool made_for_call_ = false;
};

/// Spawns `impl` as a service actor (unsupervised, unregistered: for tests
/// and hand-made trees; `service_child` is the usual way). With `node`, its
/// streams are exported there (the service should be published there too).
caf::actor spawn_service(caf::actor_system& sys, std::unique_ptr<service_base> impl,
                         std::optional<transport::node_actor> node = std::nullopt);

} // namespace troupe::services
