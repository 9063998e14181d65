#pragma once

// Internal: the cluster's `service_locator` — per service, the instances on
// up members, written by the cluster actor and read by stubs on every call.

#include <atomic>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>

#include <troupe/services/service_locator.hpp>

namespace troupe::cluster::internal {

class cluster_locator final : public services::service_locator {
public:
  caf::actor pick(const std::string& service, const caf::actor_addr& stale) override;

  services::service_finder_actor finder() const override;

  bool node_of(const caf::actor_addr& target, transport::node_actor& node, std::string& host,
               uint16_t& port) const override;

  /// The node proxies reach members through.
  void set_node(transport::node_actor node);

  /// The cluster actor that answers when `pick` has nothing. Held weakly:
  /// the cluster actor owns this locator.
  void set_finder(const caf::actor_addr& finder);

  /// `member` runs `service`, reached through `target` (a proxy on its
  /// node at `host:port`); a null target: this member (found in the local
  /// directory).
  void add(const std::string& service, const std::string& member, caf::actor target,
           const std::string& host = {}, uint16_t port = 0);

  /// `member` takes no new calls (down, leaving, removed).
  void remove_member(const std::string& member);

  /// `member`'s instance of `service` through `target` is gone (a fresh
  /// one may follow).
  void remove_instance(const std::string& service, const std::string& member,
                       const caf::actor_addr& target);

  /// True if this member runs `service`.
  bool runs_locally(const std::string& service) const;

  /// The members whose instance of `service` takes calls now.
  std::vector<std::string> members_running(const std::string& service) const;

  void clear();

private:
  struct instance {
    std::string member;
    caf::actor target;
    std::string host;
    uint16_t port = 0;
  };

  mutable std::mutex mtx_;
  std::unordered_map<std::string, std::vector<instance>> by_service_;
  caf::actor_addr finder_;
  transport::node_actor node_;
  std::atomic<uint64_t> next_{0};
};

} // namespace troupe::cluster::internal
