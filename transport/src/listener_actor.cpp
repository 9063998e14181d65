#include "listener_actor.hpp"

#include <caf/all.hpp>

#include <troupe/supervisors/stop_reason.hpp>

#include "io_messages.hpp"

namespace troupe::transport::internal {

listener_actor::listener_actor(caf::actor_config& cfg, listener_io_ptr io, caf::actor node)
  : caf::event_based_actor(cfg), io_(std::move(io)), node_(std::move(node)) {
  // nop
}

const char* listener_actor::name() const {
  return "troupe.listener";
}

caf::behavior listener_actor::make_behavior() {
  io_->start(caf::actor_cast<caf::actor>(this));
  attach_functor([this](const caf::error& reason) {
    if (supervisors::is_normal_stop(reason))
      io_->close();
    else
      io_->detach();
    // The node holds this listener's supervisor, which holds this actor:
    // let go of the node (see node_actor_impl.hpp).
    io_ = nullptr;
    node_ = nullptr;
  });
  return {
    [this](accepted_atom, connection_io_ptr& conn) {
      send(node_, accepted_atom::value, std::move(conn));
    },
  };
}

} // namespace troupe::transport::internal
