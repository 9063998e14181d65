#include "troupe/cluster/in_process_membership.hpp"

#include <deque>
#include <unordered_map>
#include <utility>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "troupe/cluster/cluster_errc.hpp"

namespace troupe::cluster {

namespace {

using store_join_atom = caf::atom_constant<caf::atom("trp_msjoin")>;
using store_update_atom = caf::atom_constant<caf::atom("trp_msupd")>;
using store_leave_atom = caf::atom_constant<caf::atom("trp_mslv")>;
using store_cut_atom = caf::atom_constant<caf::atom("trp_mscut")>;
using store_heal_atom = caf::atom_constant<caf::atom("trp_msheal")>;
using lease_due_atom = caf::atom_constant<caf::atom("trp_msdue")>;

using store_actor = caf::typed_actor<
  caf::reacts_to<store_join_atom, member, membership_listener>,
  caf::reacts_to<store_update_atom, member>, caf::reacts_to<store_leave_atom, std::string>,
  caf::reacts_to<store_cut_atom, std::string>, caf::reacts_to<store_heal_atom, std::string>,
  caf::reacts_to<lease_due_atom, std::string, uint64_t>>;

/// The store: records bound to leases, and the members that follow them.
/// A lease lives while its owner is alive and not cut off; then it expires
/// `ttl` later, like an etcd lease whose keep-alives stopped.
class store_impl final : public store_actor::base {
public:
  store_impl(caf::actor_config& cfg, caf::timespan ttl) : store_actor::base(cfg), ttl_(ttl) {
    // nop
  }

  const char* name() const override {
    return "troupe.cluster.in_process_membership";
  }

  behavior_type make_behavior() override {
    set_down_handler([this](caf::down_msg& msg) { owner_down(msg.source); });
    return {
      [this](store_join_atom, member& m, membership_listener& listener) {
        join(std::move(m), std::move(listener));
      },
      [this](store_update_atom, member& m) {
        auto i = records_.find(m.id);
        if (i == records_.end())
          return;
        i->second.m = m;
        watchers_[m.id].last = m;
        broadcast(m.id, seen{m});
      },
      [this](store_leave_atom, const std::string& id) {
        watchers_.erase(id);
        if (records_.erase(id) > 0)
          broadcast(id, lost{id, caf::make_error(cluster_errc::member_left)});
      },
      [this](store_cut_atom, const std::string& id) {
        auto w = watchers_.find(id);
        auto r = records_.find(id);
        if (w == watchers_.end() || r == records_.end() || w->second.cut)
          return;
        w->second.cut = true;
        delayed_send(this, ttl_, lease_due_atom::value, id, r->second.lease);
      },
      [this](store_heal_atom, const std::string& id) { heal(id); },
      [this](lease_due_atom, const std::string& id, uint64_t lease) { expire(id, lease); },
    };
  }

private:
  struct seen {
    member m;
  };
  struct lost {
    std::string id;
    caf::error reason;
  };
  using event = std::variant<seen, lost>;

  struct record {
    member m;
    uint64_t lease = 0;
  };

  struct watcher {
    membership_listener listener;
    member last;
    bool cut = false;
    bool lease_lost = false;
    std::deque<event> pending;
  };

  void join(member m, membership_listener listener) {
    auto r = records_.find(m.id);
    auto w = watchers_.find(m.id);
    if (r != records_.end() && w != watchers_.end() && w->second.listener != listener) {
      send(listener, provider_status_atom::value,
           caf::make_error(cluster_errc::duplicate_member,
                           m.id + " is held by another live member"));
      return;
    }
    monitor(listener);
    auto& me = watchers_[m.id];
    me.listener = listener;
    me.last = m;
    for (auto& [id, rec] : records_)
      if (id != m.id)
        deliver(me, seen{rec.m});
    put(std::move(m));
  }

  /// Writes `m`'s record under a new lease and tells everyone.
  void put(member m) {
    auto id = m.id;
    records_[id] = record{m, ++last_lease_};
    broadcast(id, seen{m});
    auto& me = watchers_[id];
    send(me.listener, provider_status_atom::value, caf::error{});
  }

  void heal(const std::string& id) {
    auto w = watchers_.find(id);
    if (w == watchers_.end() || !w->second.cut)
      return;
    auto& me = w->second;
    me.cut = false;
    while (!me.pending.empty()) {
      auto ev = std::move(me.pending.front());
      me.pending.pop_front();
      deliver(me, std::move(ev));
    }
    if (me.lease_lost) {
      me.lease_lost = false;
      send(me.listener, provider_status_atom::value,
           caf::make_error(cluster_errc::lease_lost, id + ": its lease expired"));
      put(me.last);
    } else if (auto r = records_.find(id); r != records_.end()) {
      ++r->second.lease; // keep-alives arrive again: the pending expiry is void
    }
  }

  void expire(const std::string& id, uint64_t lease) {
    auto r = records_.find(id);
    if (r == records_.end() || r->second.lease != lease)
      return;
    records_.erase(r);
    if (auto w = watchers_.find(id); w != watchers_.end())
      w->second.lease_lost = true;
    broadcast(
      id, lost{id, caf::make_error(cluster_errc::member_expired, id + ": its lease expired")});
  }

  void owner_down(const caf::actor_addr& source) {
    for (auto i = watchers_.begin(); i != watchers_.end(); ++i) {
      if (i->second.listener.address() != source)
        continue;
      // A crashed member: its record stays until its lease expires.
      auto id = i->first;
      watchers_.erase(i);
      if (auto r = records_.find(id); r != records_.end())
        delayed_send(this, ttl_, lease_due_atom::value, id, r->second.lease);
      return;
    }
  }

  /// Sends `ev` about `subject` to every other member.
  void broadcast(const std::string& subject, const event& ev) {
    for (auto& [id, w] : watchers_)
      if (id != subject)
        deliver(w, ev);
  }

  void deliver(watcher& w, event ev) {
    if (w.cut) {
      w.pending.push_back(std::move(ev));
      return;
    }
    if (auto* x = std::get_if<seen>(&ev))
      send(w.listener, member_seen_atom::value, x->m);
    else if (auto* y = std::get_if<lost>(&ev))
      send(w.listener, member_gone_atom::value, y->id, y->reason);
  }

  caf::timespan ttl_;
  std::unordered_map<std::string, record> records_;
  std::unordered_map<std::string, watcher> watchers_;
  uint64_t last_lease_ = 0;
};

class in_process_provider final : public membership_provider {
public:
  explicit in_process_provider(store_actor store) : store_(std::move(store)) {
    // nop
  }

  std::string describe() const override {
    return "an in-process store";
  }

  void start(const member& self, membership_listener listener) override {
    id_ = self.id;
    caf::anon_send(store_, store_join_atom::value, self, std::move(listener));
  }

  void update(const member& self) override {
    caf::anon_send(store_, store_update_atom::value, self);
  }

  void stop() override {
    if (!id_.empty())
      caf::anon_send(store_, store_leave_atom::value, std::exchange(id_, std::string{}));
  }

private:
  store_actor store_;
  std::string id_;
};

} // namespace

in_process_membership::in_process_membership(caf::actor_system& sys, caf::timespan lease_ttl)
  : store_(caf::actor_cast<caf::actor>(sys.spawn<store_impl>(lease_ttl))) {
  // nop
}

in_process_membership::~in_process_membership() {
  caf::anon_send_exit(store_, caf::exit_reason::user_shutdown);
}

std::unique_ptr<membership_provider> in_process_membership::provider() const {
  return std::make_unique<in_process_provider>(caf::actor_cast<store_actor>(store_));
}

void in_process_membership::cut(const std::string& id) {
  caf::anon_send(caf::actor_cast<store_actor>(store_), store_cut_atom::value, id);
}

void in_process_membership::heal(const std::string& id) {
  caf::anon_send(caf::actor_cast<store_actor>(store_), store_heal_atom::value, id);
}

} // namespace troupe::cluster
