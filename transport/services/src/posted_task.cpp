#include "posted_task.hpp"

#include <exception>

#include <troupe/actors/log.hpp>

namespace troupe::services {

posted_task::~posted_task() {
  // The actor stopped before it got here: the work still runs, once.
  try {
    run();
  } catch (const std::exception& e) {
    actors::logger("troupe.services")
      ->error("work posted to a stopped service threw: {}", e.what());
  } catch (...) {
    actors::logger("troupe.services")->error("work posted to a stopped service threw");
  }
}

} // namespace troupe::services
