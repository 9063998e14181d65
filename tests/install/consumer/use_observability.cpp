#include "uses.hpp"

#include <chrono>
#include <iostream>

#include <caf/actor_system.hpp>

#include <troupe/observability/endpoint.hpp>
#include <troupe/observability/tree_snapshot.hpp>

bool use_observability(caf::actor_system& sys, const caf::actor& root) {
  using namespace troupe::observability;
  auto snap = take_snapshot(sys, {root}, std::chrono::seconds{5});
  if (snap.roots.size() != 1 || !snap.roots[0].answered
      || snap.roots[0].report.path != "consumer") {
    std::cerr << "consumer: take_snapshot did not see the supervisor\n";
    return false;
  }
  // The endpoint listens on an ephemeral port of 127.0.0.1 and stops.
  auto ep = endpoint::start(sys, endpoint_config{}, {{root}, nullptr, {}});
  if (!ep) {
    std::cerr << "consumer: endpoint::start failed: " << sys.render(ep.error()) << "\n";
    return false;
  }
  auto ok = (*ep)->port() != 0;
  (*ep)->stop();
  return ok;
}
