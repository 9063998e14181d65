#pragma once

// What supervisors and scopes do to children: start them without letting an
// exception escape, and send exit messages on the high-priority lane so that
// a full mailbox does not delay a shutdown, cancellation or kill.

#include <exception>
#include <string>

#include <caf/actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/local_actor.hpp>
#include <caf/make_message.hpp>
#include <caf/message_id.hpp>
#include <caf/message_priority.hpp>
#include <caf/system_messages.hpp>

#include "troupe/supervisors/start_function.hpp"
#include "troupe/supervisors/supervisor_errc.hpp"

namespace troupe::supervisors::internal {

/// Calls `f(ctx)`; a thrown exception, an error or a missing actor becomes
/// `start_failed` with the child id and the cause.
inline caf::expected<caf::actor> invoke_start(const start_function& f,
                                              const start_context& ctx) {
  caf::expected<caf::actor> result{caf::actor{}};
  try {
    result = f(ctx);
  } catch (const std::exception& e) {
    return caf::make_error(
      supervisor_errc::start_failed, ctx.id,
      caf::make_error(supervisor_errc::exception_thrown, std::string{e.what()}));
  } catch (...) {
    return caf::make_error(
      supervisor_errc::start_failed, ctx.id,
      caf::make_error(supervisor_errc::exception_thrown, std::string{"unknown exception"}));
  }
  if (!result)
    return caf::make_error(supervisor_errc::start_failed, ctx.id, result.error());
  if (!*result)
    return caf::make_error(supervisor_errc::start_failed, ctx.id,
                           std::string{"the start function returned no actor"});
  return result;
}

/// Sends `dest` an exit message from `source` on the high-priority lane.
inline void send_exit_urgent(const caf::actor& dest, const caf::actor_addr& source,
                             caf::error reason) {
  if (dest)
    dest->enqueue(nullptr, caf::make_message_id(caf::message_priority::high),
                  caf::make_message(caf::exit_msg{source, std::move(reason)}), nullptr);
}

/// Sends `dest` an exit message from `self` on the high-priority lane,
/// scheduling `dest` on `self`'s execution unit.
inline void send_exit_urgent(caf::local_actor* self, const caf::actor& dest,
                             caf::error reason) {
  if (dest)
    dest->enqueue(
      caf::strong_actor_ptr{self->ctrl()}, caf::make_message_id(caf::message_priority::high),
      caf::make_message(caf::exit_msg{self->address(), std::move(reason)}), self->context());
}

} // namespace troupe::supervisors::internal
