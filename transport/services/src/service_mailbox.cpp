#include "troupe/services/service_mailbox.hpp"

#include <memory>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/send.hpp>

#include "posted_task.hpp"

namespace troupe::services {

void service_mailbox::post(std::function<void()> f) const {
  auto task = std::make_shared<posted_task>(std::move(f));
  if (auto service = caf::actor_cast<caf::actor>(service_))
    caf::anon_send(service, service_post_atom::value, std::move(task));
  // Otherwise (no actor, or gone) `task` ends here and runs `f` on this
  // thread; so does a message the actor's closed mailbox discards.
}

} // namespace troupe::services
