#pragma once

/// What a service method returns (`reply<T>`): a value, a status, or a
/// `deferred<T>` it answers later. See `service.hpp`.

#include <memory>
#include <type_traits>
#include <utility>

#include <caf/actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/response_promise.hpp>

namespace troupe::services {

struct method_stats;

namespace detail {

/// A reply given later: its promise, and where its answer is counted.
/// Used in the service's actor only.
struct pending_reply {
  caf::response_promise promise;
  /// The method's counters in the service object; null once the service
  /// stopped (it answers every pending reply then, so a reply user code
  /// still holds is answered and never touches the counters again).
  method_stats* stats = nullptr;
  caf::actor_clock* clock = nullptr;
  caf::actor_clock::time_point started;

  bool pending() const {
    return promise.pending();
  }

  /// Answers with `x`, unless answered; counts the answer as `ok`.
  template <class T>
  void deliver(T&& x) {
    if (!promise.pending())
      return;
    promise.deliver(std::forward<T>(x));
    counted(caf::error{});
  }

  /// Answers with `err`, unless answered; counts it by its status.
  void fail(caf::error err);

private:
  /// Counts the answer `err` (none: ok) in `stats`.
  void counted(const caf::error& err);
};

} // namespace detail

/// A reply a method gives later (see `server_call::defer`). Copies share
/// one promise: the first `deliver` or `fail` answers, later ones do
/// nothing. If the call's deadline passes first, the service answers
/// `deadline_exceeded` itself; if the service stops first, `unavailable`.
template <class T>
class deferred {
public:
  explicit deferred(std::shared_ptr<detail::pending_reply> reply) : reply_(std::move(reply)) {
    // nop
  }

  /// Answers the call with `x`, unless it was answered.
  void deliver(T x) {
    reply_->deliver(std::move(x));
  }

  /// Fails the call with `err`, unless it was answered.
  void fail(caf::error err) {
    reply_->fail(std::move(err));
  }

  /// False once answered.
  bool pending() const {
    return reply_->pending();
  }

private:
  std::shared_ptr<detail::pending_reply> reply_;
};

/// What a method returns: a value, an error, or a `deferred` it answers
/// later.
template <class T>
class reply {
public:
  reply(T x) : msg_(caf::make_message(std::move(x))) { // NOLINT: implicit on purpose
    // nop
  }

  reply(caf::error err) : msg_(caf::make_message(std::move(err))) { // NOLINT
    // nop
  }

  template <class E,
            class = std::enable_if_t<caf::has_make_error<E>::value
                                     || caf::detail::error_factory<E>::specialized>>
  reply(E code) : reply(caf::error{caf::make_error(code)}) { // NOLINT
    // nop
  }

  reply(const deferred<T>&) { // NOLINT: the promise answers
    // nop
  }

  /// The reply as CAF delivers it (empty for a deferred one). For
  /// generated code.
  caf::message take() {
    return std::move(msg_);
  }

private:
  caf::message msg_;
};

} // namespace troupe::services
