#pragma once

// Internal: the cluster actor (its protocol: troupe/cluster/cluster_actor.hpp).
//
// State per member: the record the provider reported, the node id the
// transport answered with once connected, and the member's state. Inputs
// and what they do:
//
//   provider: member seen    new -> joining, connect; leaving -> leaving
//             member gone    -> down (unless it left), then removed
//             status         none -> this member up; error -> reported
//   transport: peer up       joining/down -> up (proxies for its services)
//              peer down     up/joining -> down; re-dialed with backoff
//
// A member leaves the locator (no new calls) the moment it is not up.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/response_promise.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <troupe/actors/backoff.hpp>
#include <troupe/actors/observers.hpp>

#include "cluster_locator.hpp"
#include "troupe/cluster/cluster.hpp"

namespace spdlog {
class logger;
} // namespace spdlog

namespace troupe::cluster::internal {

using redial_atom = caf::atom_constant<caf::atom("trp_credl")>;
using waiter_due_atom = caf::atom_constant<caf::atom("trp_cwdue")>;
using reproxy_atom = caf::atom_constant<caf::atom("trp_cprox")>;
using relocal_atom = caf::atom_constant<caf::atom("trp_cloc")>;

/// The cluster actor's full protocol: the public one plus its own timers:
/// dial a member again, give up a waiting lookup, ask again for a proxy
/// (member id, service, generation) or for this member's own instance.
using cluster_actor_internal =
  cluster_actor::extend<caf::reacts_to<redial_atom, std::string, uint64_t>,
                        caf::reacts_to<waiter_due_atom, uint64_t>,
                        caf::reacts_to<reproxy_atom, std::string, std::string, uint64_t>,
                        caf::reacts_to<relocal_atom, std::string>>;

class cluster_actor_impl final : public cluster_actor_internal::base {
public:
  cluster_actor_impl(caf::actor_config& cfg, transport::node_actor node, member self,
                     cluster_config settings, std::shared_ptr<membership_provider> provider,
                     std::shared_ptr<cluster_locator> locator);

  const char* name() const override;

  behavior_type make_behavior() override;

  void on_exit() override;

private:
  struct entry {
    member m;
    /// The node id the transport answered with; empty until connected.
    std::string node_id;
    /// Bumped on every change, so that late answers about an older state
    /// (a connect, a proxy) are dropped.
    uint64_t generation = 0;
    bool dialing = false;
    /// Delays between dials that failed; reset when it comes up.
    actors::backoff_state redial{actors::backoff::none()};
  };

  /// A lookup waiting for an instance of `service`.
  struct waiter {
    std::string service;
    caf::actor_addr stale;
    caf::typed_response_promise<caf::actor> promise;
  };

  /// A caller waiting for `count` instances of `service`.
  struct count_waiter {
    std::string service;
    uint32_t count = 0;
    caf::typed_response_promise<std::vector<std::string>> promise;
  };

  void seen(member m);
  void gone(const std::string& id, const caf::error& reason);
  void provider_status(const caf::error& err);
  void peer(const transport::peer_event& ev);

  /// Moves `e` to `to` and tells the subscribers; updates the locator.
  void set_state(entry& e, member_state to, const caf::error& reason = caf::error{});

  /// Same for this member.
  void set_self_state(member_state to, const caf::error& reason = caf::error{});

  /// Connects to `e`'s node unless a dial is under way.
  void dial(entry& e);

  /// Dials `e` again after the backoff.
  void redial_later(entry& e);

  /// Gets a proxy on `e`'s node for each of its services into the locator.
  void add_instances(entry& e);

  /// Same for one service.
  void add_instance(entry& e, const std::string& service);

  /// Finds this member's own instance of `service` (not `stale`) in the
  /// service directory and puts it into the locator, so that round robin
  /// includes it; until then, calls for it go through the directory.
  void add_local_instance(const std::string& service, const caf::actor_addr& stale = {});

  /// True if this member advertised `service`.
  bool advertises(const std::string& service) const;

  /// A monitored actor went down: a subscriber, or a proxy in the locator.
  void on_down(const caf::down_msg& msg);

  entry* by_node(const std::string& node_id);

  caf::result<caf::actor> find(const std::string& service, const caf::actor_addr& stale,
                               caf::timespan wait);

  /// Answers the waiters for `service` that an instance can serve now.
  void serve_waiters(const std::string& service);

  /// Looks `service` up in this process's directory for `promise`.
  void find_locally(const std::string& service, const caf::actor_addr& stale,
                    caf::timespan wait, caf::typed_response_promise<caf::actor> promise);

  transport::node_actor node_;
  member self_;
  cluster_config cfg_;
  std::shared_ptr<membership_provider> provider_;
  std::shared_ptr<cluster_locator> locator_;
  std::shared_ptr<spdlog::logger> log_;
  std::unordered_map<std::string, entry> members_;
  actors::observer_set subscribers_;
  std::vector<caf::typed_response_promise<caf::ok_atom>> join_waiters_;
  caf::error join_error_;
  bool registered_ = false;
  /// The proxies in the locator: (member, service) by proxy, to replace
  /// one that dies while its member is up (e.g. its connection lost a
  /// duplicate-connection tie-break to a new one).
  std::unordered_map<caf::actor_addr, std::pair<std::string, std::string>> proxies_;
  std::unordered_map<uint64_t, waiter> waiters_;
  std::unordered_map<uint64_t, count_waiter> count_waiters_;
  uint64_t next_waiter_ = 0;
};

} // namespace troupe::cluster::internal
