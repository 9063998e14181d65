#include "uses.hpp"

#include <chrono>
#include <iostream>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp> // spawn_with spawns shop_actor as one
#include <caf/scoped_actor.hpp>

#include <troupe/supervisors/spawn_with.hpp>
#include <troupe/supervisors/supervisor.hpp>

#include "shop_actor.hpp"

bool use_supervisors(caf::actor_system& sys, caf::actor& root, caf::actor& shop) {
  using namespace troupe::supervisors;
  supervisor_config cfg;
  cfg.name = "consumer";
  cfg.children = {{"shop", spawn_with(shop_actor)}};
  auto sup = spawn_supervisor(sys, cfg);
  if (!sup) {
    std::cerr << "consumer: spawn_supervisor failed: " << sys.render(sup.error()) << "\n";
    return false;
  }
  root = caf::actor_cast<caf::actor>(*sup);
  caf::scoped_actor self{sys};
  // Through the typed handle: the request is checked against supervisor_actor.
  self->request(*sup, std::chrono::seconds{5}, which_children_atom::value)
    .receive(
      [&](const std::vector<child_info>& children) {
        if (children.size() == 1 && children[0].id == "shop")
          shop = children[0].handle;
      },
      [&](const caf::error& err) {
        std::cerr << "consumer: which_children failed: " << sys.render(err) << "\n";
      });
  if (!shop) {
    std::cerr << "consumer: the supervisor does not run its shop child\n";
    return false;
  }
  return true;
}
