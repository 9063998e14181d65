#pragma once

// Internal: the actor a service runs as. It owns the user's service object
// (one per incarnation) and runs its generated behavior.

#include <memory>

#include <caf/event_based_actor.hpp>

#include "troupe/services/service.hpp"

namespace troupe::services {

class service_actor final : public caf::event_based_actor {
public:
  service_actor(caf::actor_config& cfg, std::unique_ptr<service_base> impl)
    : caf::event_based_actor(cfg), impl_(std::move(impl)) {
    // nop
  }

  const char* name() const override {
    return impl_->service_full_name();
  }

  caf::behavior make_behavior() override {
    impl_->bind(this);
    impl_->on_start();
    return impl_->make_behavior();
  }

  void on_exit() override {
    impl_->on_stop();
  }

private:
  std::unique_ptr<service_base> impl_;
};

} // namespace troupe::services
