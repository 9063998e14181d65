#include "uses.hpp"

#include <chrono>
#include <iostream>

#include "shop.pb.h"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <troupe/transport/node.hpp>

bool use_transport(caf::actor_system& sys, const caf::actor& shop) {
  using troupe::transport::node;
  auto server = node::start(sys);
  auto client = node::start(sys);
  if (!server || !client) {
    std::cerr << "consumer: node::start failed: "
              << sys.render(server ? client.error() : server.error()) << "\n";
    return false;
  }
  if (auto err = server->publish(shop, "shop")) {
    std::cerr << "consumer: publish failed: " << sys.render(err) << "\n";
    return false;
  }
  auto proxy = client->remote_actor("shop", "127.0.0.1", server->port());
  if (!proxy) {
    std::cerr << "consumer: remote_actor failed: " << sys.render(proxy.error()) << "\n";
    return false;
  }
  shop::Order order;
  order.set_item("coffee");
  order.set_quantity(2);
  bool ok = false;
  caf::scoped_actor self{sys};
  self->request(*proxy, std::chrono::seconds{5}, order)
    .receive(
      [&](const shop::Receipt& r) {
        ok = r.total_cents() == 500;
        if (!ok)
          std::cerr << "consumer: wrong remote receipt " << r.ShortDebugString() << "\n";
      },
      [&](const caf::error& err) {
        std::cerr << "consumer: remote order failed: " << sys.render(err) << "\n";
      });
  return ok;
}
