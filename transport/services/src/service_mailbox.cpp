#include "troupe/services/service_mailbox.hpp"

#include <exception>
#include <memory>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include <troupe/actors/log.hpp>

#include "service_actor.hpp"

namespace troupe::services {

posted_task::~posted_task() {
  // The actor stopped before it got here: the work still runs, once (a
  // destructor must not throw, so a failure is only logged).
  try {
    run();
  } catch (const std::exception& e) {
    actors::logger("troupe.services")
      ->error("work posted to a stopped service threw: {}", e.what());
  } catch (...) {
    actors::logger("troupe.services")->error("work posted to a stopped service threw");
  }
}

void service_mailbox::post(std::function<void()> f) const {
  auto task = std::make_shared<posted_task>(std::move(f));
  if (auto service = caf::actor_cast<caf::actor>(service_))
    caf::anon_send(service, service_post_atom::value, std::move(task));
  // Otherwise (no actor, or gone) `task` ends here and runs `f` on this
  // thread; so does a message the actor's closed mailbox discards.
}

} // namespace troupe::services
