#pragma once

/// A bounded mailbox for actors whose senders do not speak credit.
///
/// `spawn_bounded` spawns two actors: a gate, whose handle it returns, and
/// the worker running your behavior. Senders talk to the gate exactly as
/// they would to the worker (`send`, `request`, replies go straight back to
/// them). The gate holds at most `capacity` messages, counting those handed
/// to the worker and not yet processed, and applies the overflow policy to
/// the rest: per actor, and optionally per message type.
///
/// # What a bounded mailbox does *not* bound
/// - Control messages (exit, down, system messages) go around it: they use
///   CAF's own lanes and never wait behind user messages.
/// - Messages the worker sends to itself (timers, `delayed_send`) and
///   messages sent to the worker's own handle bypass the gate.
/// - `wait` parks messages at the gate, up to `max_parked` more; beyond
///   that they are rejected. A plain `send` is fire-and-forget, so "parked"
///   means the message waits, not the sender; a requester waits for its
///   reply as usual, without blocking any thread.
/// - The gate learns that messages were processed through acknowledgement
///   requests it sends the worker behind them; Troupe handles them in the
///   worker's behavior and, after a `become`, in its default handler. A
///   worker that replaces its default handler (`set_default_handler`) must
///   keep its behavior.
///
/// # Refusals
/// A message the policy refuses (`reject`, a full parking lot, an expired
/// `wait`) is answered with the typed error (`mailbox_full`,
/// `mailbox_wait_expired`) if it was a request. A refused plain `send` comes
/// back to its sender as `(mailbox_refused_atom, caf::error, caf::message
/// original)`: handle it to retry or count; left unhandled, it is dropped
/// with CAF's "unexpected message" warning and the sender lives on (a bare
/// error message would make an event-based sender quit).
///
/// Usage:
///   mailbox_config cfg;
///   cfg.capacity = 100;
///   cfg.policy = overflow::reject();
///   cfg.per_type.push_back(mailbox_config::for_type<metrics_sample>(
///     overflow::drop_oldest()));
///   auto gate = spawn_bounded(sys, cfg, my_behavior, arg1);

#include <cstdint>
#include <functional>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/behavior.hpp>
#include <caf/detail/type_list.hpp>
#include <caf/detail/type_traits.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include "troupe/actors/flow_errc.hpp"
#include "troupe/actors/overflow.hpp"

namespace troupe::actors {

/// Which messages a per-type policy applies to: those whose first element
/// has this C++ type, or, for atoms, this atom value.
struct message_key {
  std::type_index type = typeid(void);
  caf::atom_value atom = caf::atom("");

  friend bool operator==(const message_key& x, const message_key& y) noexcept {
    return x.type == y.type && x.atom == y.atom;
  }
};

struct mailbox_config {
  /// A policy for one kind of message, overriding the actor's default.
  struct type_policy {
    message_key key;
    overflow policy;
    /// Most messages of this kind held at once; 0: only `capacity` applies.
    uint32_t capacity = 0;
  };

  /// Most messages held at once, counting those handed to the worker and
  /// not yet processed. Default 64.
  uint32_t capacity = 64;
  /// What happens to a message that finds the mailbox full. Default reject.
  overflow policy = overflow::reject();
  /// Overrides for particular message types.
  std::vector<type_policy> per_type;
  /// Most messages parked by `wait` policies at once; beyond that they are
  /// rejected. 0: the same as `capacity`.
  uint32_t max_parked = 0;
  /// Most messages handed to the worker and not yet processed; the others
  /// wait at the gate, where `drop_oldest` can still reach them. 0:
  /// `max(1, capacity / 4)`. Larger keeps a fast worker busier.
  uint32_t worker_window = 0;

  /// A policy for messages whose first element is a `T`.
  template <class T>
  static type_policy for_type(overflow policy, uint32_t capacity = 0) {
    return type_policy{message_key{typeid(T), caf::atom("")}, policy, capacity};
  }

  /// A policy for messages whose first element is the atom `a`.
  static type_policy for_atom(caf::atom_value a, overflow policy, uint32_t capacity = 0) {
    return type_policy{message_key{typeid(caf::atom_value), a}, policy, capacity};
  }

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

/// Counters of a bounded mailbox. Ask the gate with `(mailbox_stats_atom)`
/// (the observability endpoint does, for a supervisor's child whose handle
/// is a gate: CAF `name()` "troupe.mailbox").
struct mailbox_stats {
  uint64_t accepted = 0;  ///< queued for the worker (after waiting, if parked)
  uint64_t dropped = 0;   ///< dropped by drop_newest / drop_oldest
  uint64_t rejected = 0;  ///< refused by reject (or a full parking lot)
  uint64_t parked = 0;    ///< had to wait for room
  uint64_t expired = 0;   ///< waited longer than their policy allows
  uint64_t processed = 0; ///< processed by the worker
  uint64_t max_held = 0;  ///< most messages held at once; never > capacity
  // Now (taken when asked; not counters):
  uint64_t capacity = 0; ///< the bound
  uint64_t held = 0;     ///< queued or handed to the worker and not yet processed
  uint64_t waiting = 0;  ///< parked at the gate, waiting for room
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mailbox_stats& x) {
  return f(caf::meta::type_name("troupe.mailbox_stats"), x.accepted, x.dropped, x.rejected,
           x.parked, x.expired, x.processed, x.max_held, x.capacity, x.held, x.waiting);
}

using mailbox_stats_atom = caf::atom_constant<caf::atom("trp_mbstat")>;

/// gate → sender of a refused plain send: `(mailbox_refused_atom, caf::error
/// reason, caf::message original)`.
using mailbox_refused_atom = caf::atom_constant<caf::atom("trp_mbref")>;

namespace detail {

/// Spawns the gate for `worker_factory`'s worker. Implemented in
/// bounded_mailbox.cpp; `spawn_bounded` is the typed front end.
caf::actor spawn_gate(caf::actor_system& sys, mailbox_config cfg,
                      std::function<caf::actor(caf::actor gate)> worker_factory);

/// Makes the worker's default handler answer the gate's acknowledgement
/// requests (for a worker that calls `become`). Call before the worker's
/// own code runs.
void install_gate_acks(caf::event_based_actor* self, caf::actor gate);

/// Adds the acknowledgement handler the gate relies on.
caf::behavior with_gate_acks(caf::event_based_actor* self, caf::actor gate,
                             caf::behavior user);

} // namespace detail

/// Spawns a worker running `fun(self, args...)` behind a bounded mailbox and
/// returns the gate's handle. The two are linked: either one's exit takes
/// the other down; queued and parked requesters then get the exit reason.
template <class Fun, class... Ts>
caf::expected<caf::actor> spawn_bounded(caf::actor_system& sys, mailbox_config cfg, Fun fun,
                                        Ts... args) {
  if (auto err = cfg.validate())
    return err;
  // The worker's self type comes from `fun` (plain or stateful actor).
  using self_ptr =
    caf::detail::tl_head_t<typename caf::detail::get_callable_trait<Fun>::arg_types>;
  auto factory = [&sys, fun, args...](caf::actor gate) mutable {
    return sys.spawn([fun, args..., gate](self_ptr self) mutable -> caf::behavior {
      detail::install_gate_acks(self, gate);
      return detail::with_gate_acks(self, gate, fun(self, args...));
    });
  };
  return detail::spawn_gate(sys, std::move(cfg), std::move(factory));
}

} // namespace troupe::actors
