#pragma once

/// `exception_reason`: the exit reason of an actor whose handler threw,
/// with the exception's `what()` — for CAF's `set_exception_handler`.
///
/// CAF 0.17's default handler turns every exception into a bare
/// `sys:runtime_error`: the supervisor logs, and the restart is decided on,
/// a reason without its text. Troupe's own actors (services, flow actors,
/// function children) keep the text; a hand-written actor does the same
/// with one line in its constructor or behavior:
///
///   self->set_exception_handler(troupe::supervisors::exception_reason);
///   // its supervisor logs: "... exited (trp_sup:exception_thrown (pricing
///   // table corrupted))"

#include <exception>

#include <caf/error.hpp>
#include <caf/fwd.hpp>

namespace troupe::supervisors {

/// `supervisor_errc::exception_thrown` with `what()` of the exception in
/// `ep` ("unknown exception" for one not derived from std::exception).
caf::error exception_error(const std::exception_ptr& ep);

/// `exception_error(ep)` in the signature `set_exception_handler` takes (one
/// name, no overload: it converts to CAF's handler type as it is).
caf::error exception_reason(caf::scheduled_actor* self, std::exception_ptr& ep);

} // namespace troupe::supervisors
