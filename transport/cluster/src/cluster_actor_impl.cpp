#include "cluster_actor_impl.hpp"

#include <algorithm>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>

#include <spdlog/spdlog.h>

#include <troupe/actors/log.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/services/rpc_errc.hpp>
#include <troupe/transport/atoms.hpp>

#include "troupe/cluster/cluster_errc.hpp"

namespace troupe::cluster::internal {

namespace {

bool takes_calls(member_state x) {
  return x == member_state::up;
}

} // namespace

cluster_actor_impl::cluster_actor_impl(caf::actor_config& cfg, transport::node_actor node,
                                       member self, cluster_config settings,
                                       std::shared_ptr<membership_provider> provider,
                                       std::shared_ptr<cluster_locator> locator)
  : cluster_actor_internal::base(cfg),
    node_(std::move(node)),
    self_(std::move(self)),
    cfg_(std::move(settings)),
    provider_(std::move(provider)),
    locator_(std::move(locator)),
    log_(actors::logger("troupe.cluster")) {
  self_.state = member_state::joining;
  std::sort(self_.services.begin(), self_.services.end());
}

const char* cluster_actor_impl::name() const {
  return "troupe.cluster";
}

cluster_actor_impl::behavior_type cluster_actor_impl::make_behavior() {
  set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
  locator_->set_finder(address());
  locator_->set_node(node_);
  for (auto& s : self_.services)
    add_local_instance(s);
  // Peer events first, so that no transition is missed between a dial's
  // answer and the subscription.
  request(node_, caf::infinite, transport::subscribe_atom::value,
          caf::actor_cast<caf::actor>(this))
    .then([](caf::ok_atom) {},
          [this](caf::error& err) {
            log_->error("cluster {}: cannot follow the node's peers: {}", self_.id,
                        messages::describe(err));
          });
  log_->info("cluster {}: joining through {} as {}:{}", self_.id, provider_->describe(),
             self_.host, self_.port);
  provider_->start(self_, caf::actor_cast<membership_listener>(this));
  return {
    // -- from the provider --
    [this](member_seen_atom, member& m) { seen(std::move(m)); },
    [this](member_gone_atom, const std::string& id, const caf::error& reason) {
      gone(id, reason);
    },
    [this](provider_status_atom, const caf::error& err) { provider_status(err); },
    // -- from the node --
    [this](const transport::peer_event& ev) { peer(ev); },
    // -- public protocol --
    [this](members_atom) {
      std::vector<member> result;
      result.reserve(members_.size() + 1);
      result.push_back(self_);
      for (auto& [id, e] : members_)
        result.push_back(e.m);
      std::sort(result.begin() + 1, result.end(),
                [](const member& x, const member& y) { return x.id < y.id; });
      return result;
    },
    [this](joined_atom) -> caf::result<caf::ok_atom> {
      if (registered_)
        return caf::ok_atom::value;
      if (join_error_)
        return join_error_;
      auto rp = make_response_promise<caf::ok_atom>();
      join_waiters_.push_back(rp);
      return rp;
    },
    [this](advertise_atom, std::string& service) {
      if (!std::binary_search(self_.services.begin(), self_.services.end(), service)) {
        self_.services.insert(
          std::upper_bound(self_.services.begin(), self_.services.end(), service), service);
        add_local_instance(service);
        provider_->update(self_);
        serve_waiters(service);
      }
      return caf::ok_atom::value;
    },
    [this](leave_atom) {
      if (self_.state != member_state::leaving) {
        set_self_state(member_state::leaving);
        provider_->update(self_);
      }
      return caf::ok_atom::value;
    },
    [this](subscribe_atom, caf::actor& observer) {
      if (subscribers_.add(observer))
        monitor(observer);
      return caf::ok_atom::value;
    },
    [this](unsubscribe_atom, const caf::actor& observer) {
      if (subscribers_.remove(observer.address()))
        demonitor(observer);
      return caf::ok_atom::value;
    },
    [this](instances_atom, const std::string& service, uint32_t count,
           caf::timespan wait) -> caf::result<std::vector<std::string>> {
      auto now = locator_->members_running(service);
      if (now.size() >= count || wait <= caf::timespan{0})
        return now;
      auto rp = make_response_promise<std::vector<std::string>>();
      auto id = ++next_waiter_;
      count_waiters_.emplace(id, count_waiter{service, count, rp});
      delayed_send(this, wait, waiter_due_atom::value, id);
      return rp;
    },
    [this](find_service_atom, const std::string& service, const caf::actor_addr& stale,
           caf::timespan wait) { return find(service, stale, wait); },
    // -- its own timers --
    [this](reproxy_atom, const std::string& id, const std::string& service,
           uint64_t generation) {
      auto i = members_.find(id);
      if (i != members_.end() && i->second.generation == generation
          && takes_calls(i->second.m.state))
        add_instance(i->second, service);
    },
    [this](relocal_atom, const std::string& service) {
      if (advertises(service))
        add_local_instance(service);
    },
    [this](redial_atom, const std::string& id, uint64_t generation) {
      auto i = members_.find(id);
      if (i != members_.end() && i->second.generation == generation)
        dial(i->second);
    },
    [this](waiter_due_atom, uint64_t id) {
      if (auto j = count_waiters_.find(id); j != count_waiters_.end()) {
        j->second.promise.deliver(locator_->members_running(j->second.service));
        count_waiters_.erase(j);
        return;
      }
      auto i = waiters_.find(id);
      if (i == waiters_.end())
        return;
      i->second.promise.deliver(
        caf::make_error(services::rpc_errc::deadline_exceeded,
                        "no up member ran " + i->second.service + " within the wait"));
      waiters_.erase(i);
    },
  };
}

void cluster_actor_impl::on_exit() {
  locator_->clear();
  auto stopped = caf::make_error(cluster_errc::cluster_stopped, "the cluster stopped");
  for (auto& rp : join_waiters_)
    rp.deliver(stopped);
  join_waiters_.clear();
  for (auto& [id, w] : waiters_)
    w.promise.deliver(
      caf::make_error(services::rpc_errc::unavailable, w.service + ": the cluster stopped"));
  waiters_.clear();
  for (auto& [id, w] : count_waiters_)
    w.promise.deliver(caf::make_error(cluster_errc::cluster_stopped, "the cluster stopped"));
  count_waiters_.clear();
  provider_.reset();
}

// -- provider ------------------------------------------------------------------

void cluster_actor_impl::seen(member m) {
  if (m.id == self_.id)
    return; // this member's own record: its state follows the provider's status
  std::sort(m.services.begin(), m.services.end());
  auto i = members_.find(m.id);
  if (i == members_.end()) {
    entry e;
    e.redial = actors::backoff_state{cfg_.connect_backoff};
    auto leaving = m.state == member_state::leaving;
    e.m = std::move(m);
    e.m.state = member_state::removed; // "was not there" for the first event
    auto& added = members_.emplace(e.m.id, std::move(e)).first->second;
    set_state(added, leaving ? member_state::leaving : member_state::joining);
    if (!leaving)
      dial(added);
    return;
  }
  auto& e = i->second;
  auto services_changed = e.m.services != m.services;
  e.m.host = m.host;
  e.m.port = m.port;
  e.m.services = std::move(m.services);
  if (m.state == member_state::leaving) {
    set_state(e, member_state::leaving);
    return;
  }
  if (e.m.state == member_state::up && services_changed) {
    locator_->remove_member(e.m.id);
    add_instances(e);
  } else if (e.m.state == member_state::down) {
    // Registered again (a lost lease renewed): reachable again?
    dial(e);
  }
}

void cluster_actor_impl::gone(const std::string& id, const caf::error& reason) {
  auto i = members_.find(id);
  if (i == members_.end())
    return; // this member (its own record lapsed: the provider re-registers) or unknown
  auto& e = i->second;
  if (!messages::is(reason, cluster_errc::member_left) && e.m.state != member_state::leaving)
    set_state(e, member_state::down, reason);
  set_state(e, member_state::removed, reason);
  members_.erase(i);
}

void cluster_actor_impl::provider_status(const caf::error& err) {
  if (!err) {
    registered_ = true;
    join_error_ = caf::error{};
    if (self_.state != member_state::leaving)
      set_self_state(member_state::up);
    for (auto& rp : join_waiters_)
      rp.deliver(caf::ok_atom::value);
    join_waiters_.clear();
    return;
  }
  log_->warn("cluster {}: membership: {}", self_.id, messages::describe(err));
  if (messages::is(err, cluster_errc::lease_lost) && self_.state == member_state::up)
    set_self_state(member_state::down, err);
  if (registered_ && !messages::is(err, cluster_errc::duplicate_member))
    return; // known members stay usable; the provider keeps trying
  registered_ = false;
  join_error_ = err;
  for (auto& rp : join_waiters_)
    rp.deliver(err);
  join_waiters_.clear();
}

// -- transport -----------------------------------------------------------------

cluster_actor_impl::entry* cluster_actor_impl::by_node(const std::string& node_id) {
  for (auto& [id, e] : members_)
    if (e.node_id == node_id)
      return &e;
  // A member's id is its node's id (etcd, in-process); a static seed's is
  // its address until a dial tells.
  auto i = members_.find(node_id);
  return i != members_.end() ? &i->second : nullptr;
}

void cluster_actor_impl::peer(const transport::peer_event& ev) {
  auto* e = by_node(ev.node_id);
  if (e == nullptr)
    return;
  e->node_id = ev.node_id;
  if (ev.status == transport::peer_status::up) {
    if (e->m.state == member_state::joining || e->m.state == member_state::down) {
      e->redial.reset();
      set_state(*e, member_state::up);
    }
    return;
  }
  if (e->m.state == member_state::up || e->m.state == member_state::joining) {
    set_state(*e, member_state::down, ev.reason);
    // The node re-dials what it dialed, but not a member that dialed this
    // node; the cluster dials every down member (a dial to a peer the node
    // is reconnecting to joins that attempt).
    redial_later(*e);
  }
}

void cluster_actor_impl::dial(entry& e) {
  if (e.dialing)
    return;
  e.dialing = true;
  auto id = e.m.id;
  request(node_, caf::infinite, transport::connect_atom::value, e.m.host, e.m.port)
    .then(
      [this, id](std::string& node_id) {
        auto i = members_.find(id);
        if (i == members_.end())
          return;
        auto& e = i->second;
        e.dialing = false;
        // A static seed is named by its address; any other member by its
        // node id, so another node at its address means it is gone.
        if (node_id != e.m.id && e.m.id != e.m.address()) {
          log_->info("cluster {}: {} answers as {}: member {} is gone", self_.id,
                     e.m.address(), node_id, id);
          set_state(e, member_state::down,
                    caf::make_error(cluster_errc::member_replaced,
                                    e.m.address() + " answers as " + node_id));
          return; // no redial: its record expires
        }
        e.node_id = std::move(node_id);
        if (e.m.state == member_state::joining || e.m.state == member_state::down) {
          e.redial.reset();
          set_state(e, member_state::up);
        }
      },
      [this, id](caf::error& err) {
        auto i = members_.find(id);
        if (i == members_.end())
          return;
        auto& e = i->second;
        e.dialing = false;
        log_->debug("cluster {}: cannot reach member {} at {}: {}", self_.id, id,
                    e.m.address(), messages::describe(err));
        if (e.m.state == member_state::up) // came up meanwhile (it dialed us)
          return;
        if (e.m.state == member_state::joining)
          set_state(e, member_state::down, err);
        redial_later(e);
      });
}

void cluster_actor_impl::redial_later(entry& e) {
  if (e.m.state == member_state::leaving || e.m.state == member_state::removed)
    return;
  delayed_send(this, e.redial.next(), redial_atom::value, e.m.id, e.generation);
}

// -- states --------------------------------------------------------------------

void cluster_actor_impl::set_state(entry& e, member_state to, const caf::error& reason) {
  if (e.m.state == to)
    return;
  member_event ev;
  ev.previous = e.m.state;
  e.m.state = to;
  ++e.generation;
  ev.who = e.m;
  ev.reason = reason;
  if (to == member_state::down)
    log_->warn("cluster {}: {}", self_.id, to_string(ev));
  else
    log_->info("cluster {}: {}", self_.id, to_string(ev));
  if (takes_calls(to))
    add_instances(e);
  else
    locator_->remove_member(e.m.id);
  subscribers_.notify(this, ev);
}

void cluster_actor_impl::set_self_state(member_state to, const caf::error& reason) {
  if (self_.state == to)
    return;
  member_event ev;
  ev.previous = self_.state;
  self_.state = to;
  ev.who = self_;
  ev.reason = reason;
  log_->info("cluster {}: {}", self_.id, to_string(ev));
  subscribers_.notify(this, ev);
}

void cluster_actor_impl::add_instances(entry& e) {
  for (const auto& service : e.m.services)
    add_instance(e, service);
}

void cluster_actor_impl::add_instance(entry& e, const std::string& service) {
  auto id = e.m.id;
  auto generation = e.generation;
  request(node_, caf::infinite, transport::remote_atom::value, service, e.m.host, e.m.port)
    .then(
      [this, id, generation, service, host = e.m.host, port = e.m.port](caf::actor& proxy) {
        auto i = members_.find(id);
        if (i == members_.end() || i->second.generation != generation
            || !takes_calls(i->second.m.state))
          return;
        monitor(proxy);
        proxies_[proxy.address()] = {id, service};
        locator_->add(service, id, std::move(proxy), host, port);
        serve_waiters(service);
      },
      [this, id, generation, service](caf::error& err) {
        log_->warn("cluster {}: no proxy for {} on member {}: {} (trying again)", self_.id,
                   service, id, messages::describe(err));
        auto i = members_.find(id);
        if (i != members_.end() && i->second.generation == generation)
          delayed_send(this, i->second.redial.next(), reproxy_atom::value, id, service,
                       generation);
      });
}

bool cluster_actor_impl::advertises(const std::string& service) const {
  return std::binary_search(self_.services.begin(), self_.services.end(), service);
}

void cluster_actor_impl::add_local_instance(const std::string& service,
                                            const caf::actor_addr& stale) {
  // Until found, `find` sends calls for it through the directory.
  locator_->add(service, self_.id, nullptr);
  // The service may still be starting (or restarting): wait a while, then
  // ask again.
  constexpr auto local_wait = std::chrono::seconds{2};
  services::with_service_directory(
    home_system(), [&](const services::service_directory_actor& dir) {
      request(dir, caf::infinite, find_service_atom::value, service, stale,
              caf::timespan{local_wait})
        .then(
          [this, service](caf::actor& found) {
            if (!advertises(service))
              return;
            monitor(found);
            proxies_[found.address()] = {self_.id, service};
            locator_->add(service, self_.id, std::move(found));
            serve_waiters(service);
          },
          [this, service](caf::error&) {
            delayed_send(this, std::chrono::seconds{1}, relocal_atom::value, service);
          });
    });
}

void cluster_actor_impl::on_down(const caf::down_msg& msg) {
  auto p = proxies_.find(msg.source);
  if (p == proxies_.end()) {
    subscribers_.remove(msg.source);
    return;
  }
  auto [id, service] = std::move(p->second);
  proxies_.erase(p);
  if (id == self_.id) {
    // This member's own instance ended (its supervisor restarts it).
    if (advertises(service))
      add_local_instance(service, msg.source);
    return;
  }
  // A proxy ends with its connection. If its member is still up (another
  // connection to it took over), a fresh proxy replaces it; otherwise the
  // member's own down took it out of the locator already.
  auto i = members_.find(id);
  if (i == members_.end() || !takes_calls(i->second.m.state))
    return;
  locator_->remove_instance(service, id, msg.source);
  add_instance(i->second, service);
}

// -- lookups -------------------------------------------------------------------

caf::result<caf::actor> cluster_actor_impl::find(const std::string& service,
                                                 const caf::actor_addr& stale,
                                                 caf::timespan wait) {
  if (auto target = locator_->pick(service, stale))
    return target;
  // A promise takes the request over: make one only to answer later.
  if (locator_->runs_locally(service)) {
    auto rp = make_response_promise<caf::actor>();
    find_locally(service, stale, wait, rp);
    return rp;
  }
  if (wait <= caf::timespan{0})
    return caf::make_error(services::rpc_errc::unavailable, "no up member runs " + service);
  auto rp = make_response_promise<caf::actor>();
  auto id = ++next_waiter_;
  waiters_.emplace(id, waiter{service, stale, rp});
  delayed_send(this, wait, waiter_due_atom::value, id);
  return rp;
}

void cluster_actor_impl::find_locally(const std::string& service, const caf::actor_addr& stale,
                                      caf::timespan wait,
                                      caf::typed_response_promise<caf::actor> promise) {
  services::with_service_directory(
    home_system(), [&](const services::service_directory_actor& dir) {
      request(dir, caf::infinite, find_service_atom::value, service, stale, wait)
        .then([promise](caf::actor& found) mutable { promise.deliver(std::move(found)); },
              [promise](caf::error& err) mutable { promise.deliver(std::move(err)); });
    });
}

void cluster_actor_impl::serve_waiters(const std::string& service) {
  for (auto i = count_waiters_.begin(); i != count_waiters_.end();) {
    auto now = i->second.service == service ? locator_->members_running(service)
                                            : std::vector<std::string>{};
    if (i->second.service == service && now.size() >= i->second.count) {
      i->second.promise.deliver(std::move(now));
      i = count_waiters_.erase(i);
    } else {
      ++i;
    }
  }
  for (auto i = waiters_.begin(); i != waiters_.end();) {
    auto& w = i->second;
    if (w.service != service) {
      ++i;
      continue;
    }
    if (auto target = locator_->pick(service, w.stale)) {
      w.promise.deliver(std::move(target));
    } else if (locator_->runs_locally(service)) {
      find_locally(service, w.stale, caf::timespan{0}, w.promise);
    } else {
      ++i;
      continue;
    }
    i = waiters_.erase(i);
  }
}

} // namespace troupe::cluster::internal
