#pragma once

// Readable text for errors without an actor system at hand: Troupe's own
// categories by name (nested errors in contexts included), everything else
// through caf::to_string. Used by the renderers and by log lines.

#include <string>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

namespace troupe::supervisors::internal {

/// Returns e.g. "stop(cancelled: t3, supervisor_error(exception_thrown: boom))".
std::string describe(const caf::error& err);

/// Same, with `sys` rendering the categories this layer does not know (e.g.
/// the transport's, registered by a higher layer): for log lines of actors.
std::string describe(const caf::actor_system& sys, const caf::error& err);

/// Returns the context elements joined by ", " (strings unquoted, errors
/// described).
std::string describe_context(const caf::message& ctx);

} // namespace troupe::supervisors::internal
