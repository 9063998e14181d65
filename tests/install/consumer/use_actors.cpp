#include "uses.hpp"

#include <chrono>
#include <cstdint>
#include <future>
#include <iostream>
#include <memory>
#include <vector>

#include "shop.pb.h"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include <troupe/actors/consumer.hpp>
#include <troupe/actors/producer.hpp>

bool use_actors(caf::actor_system& sys) {
  using namespace troupe::actors;
  constexpr uint32_t orders = 100;
  // State shared with the callbacks: they may outlive this frame if the wait
  // below gives up.
  struct run {
    uint32_t next = 1;
    uint64_t quantity = 0;
    std::promise<caf::error> done;
  };
  auto st = std::make_shared<run>();
  auto finished = st->done.get_future();
  auto producer = spawn_producer<shop::Order>(
    sys, producer_config{16}, [st](size_t demand, std::vector<shop::Order>& out) {
      while (out.size() < demand && st->next <= orders) {
        out.emplace_back();
        out.back().set_quantity(st->next++);
      }
      return st->next > orders ? pull_status::done : pull_status::more;
    });
  if (!producer) {
    std::cerr << "consumer: spawn_producer failed: " << sys.render(producer.error()) << "\n";
    return false;
  }
  auto consumer = spawn_consumer<shop::Order>(
    sys, *producer, consumer_config{/*capacity*/ 8},
    [st](const shop::Order& o) { st->quantity += o.quantity(); },
    [st](const caf::error& err) { st->done.set_value(err); });
  if (!consumer) {
    std::cerr << "consumer: spawn_consumer failed: " << sys.render(consumer.error()) << "\n";
    caf::anon_send_exit(*producer, caf::exit_reason::user_shutdown);
    return false;
  }
  if (finished.wait_for(std::chrono::seconds{10}) != std::future_status::ready) {
    std::cerr << "consumer: the order stream did not finish within 10 s\n";
    caf::anon_send_exit(*producer, caf::exit_reason::user_shutdown);
    return false;
  }
  if (auto err = finished.get()) {
    std::cerr << "consumer: the order stream failed: " << sys.render(err) << "\n";
    return false;
  }
  if (st->quantity != uint64_t{orders} * (orders + 1) / 2) {
    std::cerr << "consumer: the order stream summed to " << st->quantity << "\n";
    return false;
  }
  return true;
}
