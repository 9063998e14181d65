#pragma once

/// Conversion between `caf::error` and `troupe.Error`, the typed error that
/// travels in error, refusal and goodbye frames.
///
/// On the wire an error is (category, code, message): the CAF category atom
/// as text (e.g. "trp_net", "trp_msg", "trp_flow", "system"), the
/// enumerator's number and a human-readable rendering. The receiver rebuilds
/// a `caf::error` with the same category and code, so `err ==
/// transport_errc::unknown_actor` holds across processes.

#include <string>

#include <caf/error.hpp>

namespace troupe {
class Error;
} // namespace troupe

namespace troupe::transport {

/// Fills `out` from `err`; `text` is the human-readable rendering (e.g.
/// `troupe::messages::describe(err)`).
void to_wire_error(const caf::error& err, const std::string& text, troupe::Error& out);

/// Rebuilds a `caf::error` (context: the peer's text). A category that is not
/// a valid CAF atom becomes `transport_errc::remote_error`.
caf::error from_wire_error(const troupe::Error& in);

} // namespace troupe::transport
