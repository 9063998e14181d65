#include "uses.hpp"

#include <chrono>
#include <iostream>

#include "shop.pb.h"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <troupe/services/service.hpp>
#include <troupe/services/service_directory.hpp>

namespace {

class till final : public shop::Till::Service {
  troupe::services::reply<shop::Receipt> pay(troupe::services::server_call&,
                                             const shop::Order& order) override {
    shop::Receipt r;
    r.set_total_cents(250 * order.quantity());
    return r;
  }
};

} // namespace

bool use_services(caf::actor_system& sys) {
  using namespace troupe::services;
  auto service = spawn_service(sys, std::make_unique<till>());
  register_service(sys, std::string{shop::Till::full_name}, service);
  shop::Till::Stub stub{channel::local(sys)};
  shop::Order order;
  order.set_item("tea");
  order.set_quantity(4);
  auto receipt = stub.pay(order, std::chrono::seconds{5});
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
  if (!receipt || receipt->total_cents() != 1000) {
    std::cerr << "consumer: Till.Pay failed: "
              << (receipt ? std::to_string(receipt->total_cents())
                          : sys.render(receipt.error()))
              << "\n";
    return false;
  }
  return true;
}
