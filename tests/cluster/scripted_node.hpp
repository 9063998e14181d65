#pragma once

// A node actor for tests on the deterministic scheduler: it answers the
// node protocol from a table the test fills (which address answers with
// which node id, which is unreachable), hands out a named dummy actor as
// the proxy for a remote name, and lets the test send its subscribers
// peer events. No sockets, no threads.

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <troupe/transport/node_actor.hpp>
#include <troupe/transport/peer_event.hpp>
#include <troupe/transport/transport_errc.hpp>

namespace troupe::testing {

/// The network as the test scripts it, shared by the scripted nodes.
struct scripted_network {
  /// "host:port" -> the node id that answers there; absent: refused.
  std::map<std::string, std::string> answers;
  /// The proxy handed out for "name@host:port" (created on first ask).
  std::map<std::string, caf::actor> proxies;
};

inline transport::node_actor
spawn_scripted_node(caf::actor_system& sys, std::shared_ptr<scripted_network> net,
                    std::shared_ptr<std::vector<caf::actor>> observers) {
  using namespace troupe::transport;
  return sys.spawn([net, observers](node_actor::pointer self) -> node_actor::behavior_type {
    return {
      [](publish_atom, caf::actor&, const std::string&, delivery) {
        return caf::ok_atom::value;
      },
      [](unpublish_atom, const std::string&) { return caf::ok_atom::value; },
      [self, net](remote_atom, const std::string& name, const std::string& host,
                  uint16_t port) -> caf::result<caf::actor> {
        auto key = name + "@" + host + ":" + std::to_string(port);
        auto& proxy = net->proxies[key];
        if (!proxy)
          proxy = self->home_system().spawn(
            [key]() -> caf::behavior { return {[key](const std::string&) { return key; }}; });
        return proxy;
      },
      [net](connect_atom, const std::string& host, uint16_t port) -> caf::result<std::string> {
        auto i = net->answers.find(host + ":" + std::to_string(port));
        if (i == net->answers.end())
          return caf::make_error(transport_errc::connect_failed, host + ": refused");
        return i->second;
      },
      [](watch_atom, const std::string& name, const std::string&,
         uint16_t) -> caf::result<caf::actor> {
        return caf::make_error(transport_errc::unknown_actor, name);
      },
      [observers](subscribe_atom, caf::actor& observer) {
        observers->push_back(std::move(observer));
        return caf::ok_atom::value;
      },
      [](unsubscribe_atom, const caf::actor&) { return caf::ok_atom::value; },
      [](stats_atom) { return transport_stats{}; },
    };
  });
}

} // namespace troupe::testing
