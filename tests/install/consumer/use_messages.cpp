#include "uses.hpp"

#include <chrono>
#include <iostream>
#include <vector>

#include "shop.pb.h"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <troupe/messages/serialization.hpp>

bool use_messages(caf::actor_system& sys, const caf::actor& shop) {
  shop::Order order;
  order.set_item("tea");
  order.set_quantity(4);
  std::vector<char> buf;
  if (auto err = troupe::messages::serialize(sys, caf::make_message(order), buf)) {
    std::cerr << "consumer: serialize failed: " << sys.render(err) << "\n";
    return false;
  }
  caf::message copy;
  if (auto err = troupe::messages::deserialize(sys, buf, copy)) {
    std::cerr << "consumer: deserialize failed: " << sys.render(err) << "\n";
    return false;
  }
  bool ok = false;
  caf::scoped_actor self{sys};
  self->request(shop, std::chrono::seconds{5}, copy.get_as<shop::Order>(0))
    .receive(
      [&](const shop::Receipt& r) {
        ok = r.total_cents() == 1000;
        if (!ok)
          std::cerr << "consumer: wrong receipt " << r.ShortDebugString() << "\n";
      },
      [&](const caf::error& err) {
        std::cerr << "consumer: local order failed: " << sys.render(err) << "\n";
      });
  return ok;
}
