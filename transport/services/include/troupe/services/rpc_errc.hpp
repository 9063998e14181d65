#pragma once

/// The status of a failed service call (category `trp_rpc`).
///
/// The codes and their numbers are gRPC's (`google.rpc.Code`), so a client
/// in any language reads `troupe.Error{category: "trp_rpc", code}` as the
/// status it knows. A handler fails a call with one:
///
///   return caf::make_error(rpc_errc::not_found, "no price for " + req.sku());
///
/// and a stub reports every failure as one (`to_status`): the handler's
/// own status unchanged, anything else (a lost peer, a deadline, a type
/// the peer does not know) mapped to the closest code with the original
/// error's text as context.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <troupe/messages/error_category.hpp>

namespace troupe::services {

/// Status codes of service calls. Category `trp_rpc`.
enum class rpc_errc : uint8_t {
  /// Not an error (gRPC's OK; CAF reserves 0).
  none = 0,
  /// The caller cancelled the call.
  cancelled = 1,
  /// An error that fits no other code.
  unknown = 2,
  /// The request is invalid whatever the state of the service.
  invalid_argument = 3,
  /// The deadline passed before the call completed (or before it started).
  deadline_exceeded = 4,
  /// A requested entity does not exist.
  not_found = 5,
  /// An entity the call would create exists already.
  already_exists = 6,
  /// The caller may not do this.
  permission_denied = 7,
  /// A bound was reached (a quota, a queue, memory).
  resource_exhausted = 8,
  /// The system is not in the state the call needs.
  failed_precondition = 9,
  /// The call was aborted, e.g. by a concurrency conflict.
  aborted = 10,
  /// A value past the valid range.
  out_of_range = 11,
  /// The service does not implement the method.
  unimplemented = 12,
  /// A broken invariant inside the service (e.g. its handler threw).
  internal = 13,
  /// The service cannot be reached now (not running, restarting, its node
  /// is gone): a later try may succeed.
  unavailable = 14,
  /// Unrecoverable loss or corruption of data.
  data_loss = 15,
  /// The caller is not authenticated.
  unauthenticated = 16,
};

/// The CAF error category of `rpc_errc`.
constexpr caf::atom_value rpc_errc_category = caf::atom("trp_rpc");

/// Returns the enumerator's name, e.g. "not_found".
std::string to_string(rpc_errc x);

/// The status code closest to `err`: its own code for a `trp_rpc` error;
/// `deadline_exceeded` for deadlines and timeouts; `unavailable` for an
/// unknown or dead actor, a lost, timed out or stopped peer, a connection
/// replaced by another to the same peer, a failed connect; `unimplemented` for a message the
/// receiver does not handle; `internal` for payloads that do not encode or decode,
/// `resource_exhausted` for full mailboxes and connection limits; `unknown` otherwise. `none`
/// for no error.
rpc_errc status_of(const caf::error& err);

/// `err` as a status: unchanged if it is one, otherwise
/// `(status_of(err), describe(err))`.
caf::error to_status(caf::error err);

} // namespace troupe::services

TROUPE_ERROR_CODE_ENUM(troupe::services, rpc_errc, "trp_rpc")
