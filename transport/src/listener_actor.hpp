#pragma once

// Internal: the listener actor, a permanent child of the node's supervisor.
// It hands every connection its listening socket accepts to the node
// (`(accepted_atom, connection_io_ptr)`).
//
// Asked to stop, it closes the socket: no new peers. When it crashes, the
// socket stays open and holds what it accepts meanwhile for the restarted
// listener (no rebind, no port to lose); the node closes the socket when it
// ends.

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>

#include "io.hpp"

namespace troupe::transport::internal {

class listener_actor final : public caf::event_based_actor {
public:
  listener_actor(caf::actor_config& cfg, listener_io_ptr io, caf::actor node);

  const char* name() const override;

  caf::behavior make_behavior() override;

private:
  listener_io_ptr io_;
  caf::actor node_;
};

} // namespace troupe::transport::internal
