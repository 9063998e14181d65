#pragma once

/// One subscription vocabulary for every actor that reports events
/// (supervisors report `supervision_event`s, nodes report `peer_event`s):
///
///   (subscribe_atom, caf::actor observer)   -> caf::ok_atom
///   (unsubscribe_atom, caf::actor observer) -> caf::ok_atom
///
/// After `subscribe`, the observer receives every later event as a message
/// holding one event struct, until it unsubscribes or terminates (the
/// reporting actor monitors it and forgets it then: a dead observer never
/// piles up). Subscribing twice is one subscription.
///
/// `observer_set` is the reporting side's bookkeeping; the owner monitors
/// what `add` accepted and passes its down messages to `remove`.

#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

namespace troupe::actors {

using subscribe_atom = caf::atom_constant<caf::atom("trp_subscr")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("trp_unsubs")>;

/// The observers of one actor. Not thread-safe: the owning actor's state.
class observer_set {
public:
  /// Adds `observer`; false if it is invalid or already present (then the
  /// owner must not monitor it again).
  bool add(caf::actor observer) {
    if (!observer || contains(observer.address()))
      return false;
    members_.push_back(std::move(observer));
    return true;
  }

  /// Forgets `observer`; false if it was not present.
  bool remove(const caf::actor_addr& observer) {
    auto i = std::find_if(members_.begin(), members_.end(),
                          [&](const caf::actor& x) { return x.address() == observer; });
    if (i == members_.end())
      return false;
    members_.erase(i);
    return true;
  }

  bool contains(const caf::actor_addr& observer) const {
    return std::any_of(members_.begin(), members_.end(),
                       [&](const caf::actor& x) { return x.address() == observer; });
  }

  /// Sends `event` to every observer, from `self`. A statically typed
  /// actor may not `send` to a dynamically typed one in CAF 0.17: its events
  /// go out anonymously (observers need no reply address).
  template <class Self, class Event>
  void notify(Self* self, const Event& event) const {
    for (auto& x : members_) {
      if constexpr (std::is_base_of_v<caf::event_based_actor, Self>)
        self->send(x, event);
      else
        caf::anon_send(x, event);
    }
  }

  const std::vector<caf::actor>& members() const noexcept {
    return members_;
  }

  bool empty() const noexcept {
    return members_.empty();
  }

  void clear() noexcept {
    members_.clear();
  }

private:
  std::vector<caf::actor> members_;
};

} // namespace troupe::actors
