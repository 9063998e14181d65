// Uses an installed Troupe the way a user's program does: a user schema
// compiled with troupe_add_messages, and every installed library
// (use_*.cpp). Exits 0 only if each use worked.
#include <chrono>
#include <iostream>

#include <caf/actor_system.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/system_config.hpp>

#include "uses.hpp"

int main() {
  // The config of the highest layer registers the lower layers' errors and
  // every linked message class.
  troupe::transport::system_config cfg;
  caf::actor_system sys{cfg};
  caf::actor root;
  caf::actor shop;
  bool ok = use_supervisors(sys, root, shop) && use_messages(sys, shop)
    && use_transport(sys, shop) && use_actors(sys) && use_http(sys) && use_services(sys)
    && use_observability(sys, root);
  if (root) {
    // The actor system waits for every actor on destruction: stop the tree
    // and wait, bounded, for it to be gone.
    caf::scoped_actor self{sys};
    self->monitor(root);
    troupe::supervisors::request_shutdown(root);
    self->receive([](const caf::down_msg&) {},
                  caf::after(std::chrono::seconds{10}) >>
                    [&] {
                      std::cerr << "consumer: the supervisor did not stop within 10 s\n";
                      caf::anon_send_exit(root, caf::exit_reason::kill);
                      ok = false;
                    });
  }
  std::cout << "consumer: " << (ok ? "ok" : "FAILED") << "\n";
  return ok ? 0 : 1;
}
