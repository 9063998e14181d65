#pragma once

// Internal: the actor a service runs as. It owns the user's service object
// (one per incarnation) and runs its generated behavior.

#include <memory>
#include <optional>

#include <caf/event_based_actor.hpp>

#include <troupe/actors/log.hpp>
#include <troupe/supervisors/exception_reason.hpp>

#include "posted_task.hpp"
#include "troupe/services/service.hpp"

namespace troupe::services {

/// Internal: time to check that a stream was claimed.
using stream_check_atom = caf::atom_constant<caf::atom("trp_svcchk")>;

/// Internal: the earliest deadline of a deferred reply passed.
using deferred_check_atom = caf::atom_constant<caf::atom("trp_svcdef")>;

/// Internal: a timer set with `service_base::after` is due.
using service_timer_atom = caf::atom_constant<caf::atom("trp_svctim")>;

class service_actor final : public caf::event_based_actor {
public:
  service_actor(caf::actor_config& cfg, std::unique_ptr<service_base> impl,
                std::optional<transport::node_actor> node)
    : caf::event_based_actor(cfg), impl_(std::move(impl)), node_(std::move(node)) {
    // A method that threw already answered its caller `internal` (with the
    // text); the actor then fails with the text too, for its supervisor's
    // log line and policy — not CAF's bare `runtime_error`.
    set_exception_handler(supervisors::exception_reason);
  }

  /// One name for every service actor (its `service_report` names the
  /// service): how the observability endpoint knows whom to ask.
  const char* name() const override {
    return "troupe.service";
  }

  caf::behavior make_behavior() override {
    impl_->bind(this, node_);
    impl_->on_start();
    caf::message_handler methods{impl_->make_behavior().as_behavior_impl()};
    return methods.or_else(
      [this](stream_check_atom, const caf::actor_addr& producer) {
        impl_->check_stream(producer);
      },
      [this](service_timer_atom, uint64_t id) { impl_->fire(id); },
      [this](service_post_atom, const posted_task_ptr& task) {
        // Like a method: its log lines name the service, and what it
        // throws fails the actor (the supervisor decides).
        troupe::actors::actor_path_scope at{impl_->path()};
        task->run();
      },
      [this](service_report_atom) { return impl_->report(); },
      [this](deferred_check_atom, int64_t armed_for) { impl_->expire_deferred(armed_for); });
  }

  void on_exit() override {
    // User code must not throw out of CAF's cleanup.
    try {
      impl_->on_stop();
    } catch (const std::exception& e) {
      troupe::actors::logger("troupe.services")
        ->error("{}: on_stop threw: {}", impl_->service_full_name(), e.what());
    } catch (...) {
      troupe::actors::logger("troupe.services")
        ->error("{}: on_stop threw", impl_->service_full_name());
    }
    impl_->stop();
  }

private:
  std::unique_ptr<service_base> impl_;
  std::optional<transport::node_actor> node_;
};

} // namespace troupe::services
