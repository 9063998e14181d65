#pragma once

/// `service_mailbox`: work for a service's actor, posted from anywhere and
/// run in order with the calls the service receives (OTP's `gen_server:cast`
/// to a server, handled like a call).
///
/// A service's state is touched by its actor only, one message at a time.
/// Work that starts elsewhere — a producer's thread releasing a lease, a
/// callback of a library — but must be ordered with the calls needs to go
/// through the same mailbox:
///
///   auto mailbox = this->mailbox();          // in on_start or a method
///   ...
///   mailbox.post([frontier, id] { frontier->close_lease(id); });   // any thread
///
/// `f` then runs after every message already in the service's mailbox when
/// `post` was called: a call that reached the service before the event that
/// made you post is handled first. (Messages of high priority sent later may
/// still overtake it; calls are of normal priority.)
///
/// Exactly once: if the actor stopped before it got to `f` (or had stopped
/// already), `f` runs on the thread that finds it gone — the caller's, or
/// the one that discards the actor's mailbox. So `f` must not touch the
/// service object (it may be gone): capture what it needs by value or by
/// shared pointer, and make it quick and non-throwing (it may run inside
/// CAF's cleanup). As it may run inside `post`, do not post while holding
/// a lock that `f` takes.
///
/// Take the mailbox once the service runs (`on_start`, a method): taken in
/// the service's constructor it has no actor, and `post` runs `f` at once.
///
/// Thread safety: a value; copy it anywhere; `post` from any thread.

#include <functional>

#include <caf/actor_addr.hpp>

namespace troupe::services {

class service_mailbox {
public:
  /// A mailbox of no actor: `post` runs `f` at once, on the caller's thread.
  service_mailbox() = default;

  explicit service_mailbox(caf::actor_addr service) : service_(std::move(service)) {
    // nop
  }

  /// Runs `f` once: in the service's actor after what its mailbox holds now,
  /// or where the actor is found gone (see above).
  void post(std::function<void()> f) const;

  /// The service's actor (null for a default-constructed mailbox).
  const caf::actor_addr& address() const noexcept {
    return service_;
  }

private:
  caf::actor_addr service_;
};

} // namespace troupe::services
