#pragma once

/// Checked CAF serialization of whole messages.
///
/// CAF 0.17 reports a value of an unregistered type only on stderr and, over
/// its own network layer, delivers an empty message in its place. These
/// functions check every element first and return
/// `message_errc::unregistered_type` naming the type instead, so the caller
/// (and through the transport, the original sender) sees a typed error.

#include <vector>

#include <caf/fwd.hpp>

namespace troupe::messages {

/// Returns `unregistered_type` (context: the C++ type name) if some element
/// of `msg` cannot be serialized by `sys`, and no error otherwise.
caf::error check_serializable(caf::actor_system& sys, const caf::message& msg);

/// Appends the CAF binary encoding of `msg` to `buf`, after
/// `check_serializable`. On error, `buf` is left as it was.
caf::error serialize(caf::actor_system& sys, const caf::message& msg, std::vector<char>& buf);

/// Decodes a message written by `serialize`. On error, `out` is untouched:
/// a message that did not fully decode is never handed on.
caf::error deserialize(caf::actor_system& sys, const std::vector<char>& buf,
                       caf::message& out);

} // namespace troupe::messages
