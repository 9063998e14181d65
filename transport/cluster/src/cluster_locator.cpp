#include "cluster_locator.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>

namespace troupe::cluster::internal {

caf::actor cluster_locator::pick(const std::string& service, const caf::actor_addr& stale) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = by_service_.find(service);
  if (i == by_service_.end() || i->second.empty())
    return nullptr;
  const auto& xs = i->second;
  auto start = next_.fetch_add(1, std::memory_order_relaxed);
  for (size_t k = 0; k < xs.size(); ++k) {
    const auto& x = xs[(start + k) % xs.size()];
    // This member's own instance is found through the directory (finder).
    if (x.target && x.target.address() != stale)
      return x.target;
  }
  return nullptr;
}

services::service_finder_actor cluster_locator::finder() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return caf::actor_cast<services::service_finder_actor>(finder_);
}

void cluster_locator::set_finder(const caf::actor_addr& finder) {
  std::lock_guard<std::mutex> guard{mtx_};
  finder_ = finder;
}

void cluster_locator::add(const std::string& service, const std::string& member,
                          caf::actor target, const std::string& host, uint16_t port) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& xs = by_service_[service];
  auto same = [&](const instance& x) { return x.member == member; };
  if (auto i = std::find_if(xs.begin(), xs.end(), same); i != xs.end())
    *i = instance{member, std::move(target), host, port};
  else
    xs.push_back(instance{member, std::move(target), host, port});
}

bool cluster_locator::node_of(const caf::actor_addr& target, transport::node_actor& node,
                              std::string& host, uint16_t& port) const {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!target || !node_)
    return false;
  for (const auto& [service, xs] : by_service_)
    for (const auto& x : xs)
      if (x.target && x.target.address() == target) {
        node = node_;
        host = x.host;
        port = x.port;
        return true;
      }
  // Not a proxy this locator handed out: this process's own instance.
  return false;
}

void cluster_locator::set_node(transport::node_actor node) {
  std::lock_guard<std::mutex> guard{mtx_};
  node_ = std::move(node);
}

void cluster_locator::remove_member(const std::string& member) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [service, xs] : by_service_)
    xs.erase(std::remove_if(xs.begin(), xs.end(),
                            [&](const instance& x) { return x.member == member; }),
             xs.end());
}

void cluster_locator::remove_instance(const std::string& service, const std::string& member,
                                      const caf::actor_addr& target) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = by_service_.find(service);
  if (i == by_service_.end())
    return;
  auto& xs = i->second;
  xs.erase(std::remove_if(xs.begin(), xs.end(),
                          [&](const instance& x) {
                            return x.member == member && x.target
                              && x.target.address() == target;
                          }),
           xs.end());
}

bool cluster_locator::runs_locally(const std::string& service) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = by_service_.find(service);
  return i != by_service_.end()
    && std::any_of(i->second.begin(), i->second.end(),
                   [](const instance& x) { return !x.target; });
}

std::vector<std::string> cluster_locator::members_running(const std::string& service) const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::string> result;
  if (auto i = by_service_.find(service); i != by_service_.end())
    for (const auto& x : i->second)
      result.push_back(x.member);
  return result;
}

void cluster_locator::clear() {
  std::lock_guard<std::mutex> guard{mtx_};
  by_service_.clear();
}

} // namespace troupe::cluster::internal
