#pragma once

// Internal: what `service_mailbox::post` sends to a service's actor.

#include <functional>
#include <memory>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

namespace troupe::services {

/// Internal: work posted through a `service_mailbox`.
using service_post_atom = caf::atom_constant<caf::atom("trp_svcpst")>;

/// Runs its function once: when the service's actor handles the message
/// holding it, else when that message is discarded (the actor stopped
/// before reaching it) or, if the actor was gone already, in `post`.
/// Shared, never copied: copies of the message share the one task.
class posted_task {
public:
  explicit posted_task(std::function<void()> f) : f_(std::move(f)) {
    // nop
  }

  posted_task(const posted_task&) = delete;
  posted_task& operator=(const posted_task&) = delete;

  /// Runs the function if nothing did (logs what it throws: a destructor
  /// must not throw).
  ~posted_task();

  /// Runs the function unless it ran; what it throws propagates.
  void run() {
    if (!f_)
      return;
    auto f = std::move(f_);
    f_ = nullptr;
    f();
  }

private:
  std::function<void()> f_;
};

using posted_task_ptr = std::shared_ptr<posted_task>;

} // namespace troupe::services

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(troupe::services::posted_task_ptr)
