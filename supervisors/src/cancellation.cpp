#include "troupe/supervisors/cancellation.hpp"

#include <algorithm>
#include <exception>
#include <string>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/system_messages.hpp>

#include <spdlog/logger.h>

#include <troupe/actors/log.hpp>

#include "troupe/supervisors/exception_reason.hpp"
#include "troupe/supervisors/supervisor_errc.hpp"
#include <troupe/messages/error_category.hpp>

namespace troupe::supervisors {

namespace {

// A shield's bound is a delayed exit message to the actor itself with a
// reason of this private category: the exit handler is the one handler a
// cancellable actor cannot lose to `become` or a default handler, and exit
// messages are what cancellation reacts to anyway. The reason never leaves
// the actor.
constexpr caf::atom_value shield_timer_category = caf::atom("trp_shield");

} // namespace

std::shared_ptr<cancellation> cancellation::install(caf::event_based_actor* self) {
  std::shared_ptr<cancellation> c{new cancellation(self)};
  self->set_exit_handler(
    [c](caf::exit_msg& msg) { c->on_exit_message(msg.source, msg.reason); });
  self->set_exception_handler([c](std::exception_ptr& ep) -> caf::error {
    auto err = exception_error(ep);
    c->stopping_ = true;
    c->run_hooks(err);
    return err;
  });
  // Last resort for a kill or a direct quit(): the hooks still run, once.
  self->attach_functor([c](const caf::error& reason) { c->run_hooks(reason); });
  return c;
}

void cancellation::on_cleanup(hook f) {
  if (f)
    hooks_.push_back(std::move(f));
}

cancellation::shield_id cancellation::shield(caf::timespan bound) {
  auto id = next_shield_++;
  open_.push_back(id);
  self_->delayed_send(
    self_, bound,
    caf::exit_msg{self_->address(),
                  caf::error{1, shield_timer_category, caf::make_message(id)}});
  return id;
}

void cancellation::unshield(shield_id id) {
  auto i = std::find(open_.begin(), open_.end(), id);
  if (i == open_.end())
    return;
  open_.erase(i);
  if (cancelled_ && open_.empty() && !stopping_)
    complete(reason_);
}

size_t cancellation::open_shields() const noexcept {
  return open_.size();
}

void cancellation::finish() {
  if (stopping_)
    return;
  // A pending cancellation is never turned into a normal exit.
  if (cancelled_) {
    complete(reason_);
    return;
  }
  stopping_ = true;
  run_hooks(caf::error{});
  self_->quit();
}

void cancellation::fail(caf::error reason) {
  if (stopping_)
    return;
  complete(std::move(reason));
}

void cancellation::cancel(caf::error reason) {
  if (stopping_)
    return;
  if (!cancelled_) {
    cancelled_ = true;
    reason_ = std::move(reason);
  }
  if (open_.empty())
    complete(reason_);
}

bool cancellation::cancelled() const noexcept {
  return cancelled_;
}

const caf::error& cancellation::reason() const noexcept {
  return reason_;
}

void cancellation::on_exit_message(const caf::actor_addr& source, const caf::error& reason) {
  if (reason && reason.category() == shield_timer_category && source == self_->address()) {
    auto& ctx = reason.context();
    if (ctx.match_elements<shield_id>()) {
      auto id = ctx.get_as<shield_id>(0);
      if (std::find(open_.begin(), open_.end(), id) != open_.end()) {
        if (cancelled_)
          actors::logger("troupe.cancellation")
            ->warn("actor {}: critical section {} reached its bound; cancelling", self_->id(),
                   id);
        unshield(id);
      }
    }
    return;
  }
  if (!reason || reason == caf::exit_reason::normal)
    return; // a linked actor finished
  cancel(reason);
}

void cancellation::complete(caf::error reason) {
  stopping_ = true;
  run_hooks(reason);
  self_->quit(std::move(reason));
}

void cancellation::run_hooks(const caf::error& reason) noexcept {
  auto hooks = std::move(hooks_);
  hooks_.clear();
  for (auto i = hooks.rbegin(); i != hooks.rend(); ++i) {
    std::string failure;
    try {
      (*i)(reason);
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "unknown exception";
    }
    if (!failure.empty()) {
      try {
        actors::logger("troupe.cancellation")
          ->error("a cleanup hook threw: {} (stop reason: {})", failure,
                  messages::describe(reason));
      } catch (...) {
        // logging must not stop the other hooks
      }
    }
  }
}

} // namespace troupe::supervisors
