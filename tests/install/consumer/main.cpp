// Uses an installed Troupe: a user schema compiled with troupe_add_messages,
// sent between actors and through CAF serialization.
#include <iostream>

#include "shop.pb.h"

#include <caf/all.hpp>

#include <troupe/messages/serialization.hpp>
#include <troupe/messages/type_registry.hpp>

struct config : caf::actor_system_config {
  config() { troupe::messages::register_message_types(*this); }
};

int main() {
  config cfg;
  caf::actor_system sys{cfg};
  auto shop = sys.spawn([]() -> caf::behavior {
    return {[](const shop::Order& o) {
      shop::Receipt r;
      r.set_total_cents(o.quantity() * 250);
      return r;
    }};
  });
  shop::Order order;
  order.set_item("tea");
  order.set_quantity(4);
  std::vector<char> buf;
  if (auto err = troupe::messages::serialize(sys, caf::make_message(order), buf)) {
    std::cerr << "consumer: serialize failed: " << sys.render(err) << "\n";
    return 1;
  }
  caf::message copy;
  if (auto err = troupe::messages::deserialize(sys, buf, copy)) {
    std::cerr << "consumer: deserialize failed: " << sys.render(err) << "\n";
    return 1;
  }
  int rc = 1;
  caf::scoped_actor self{sys};
  self->request(shop, std::chrono::seconds{5}, copy.get_as<shop::Order>(0)).receive(
    [&](const shop::Receipt& r) {
      std::cout << "consumer: " << (r.total_cents() == 1000 ? "ok" : "WRONG")
                << " (receipt " << r.ShortDebugString() << ")\n";
      rc = r.total_cents() == 1000 ? 0 : 1;
    },
    [&](const caf::error& err) { std::cerr << "consumer: " << sys.render(err) << "\n"; });
  self->send_exit(shop, caf::exit_reason::user_shutdown);
  return rc;
}
