#pragma once

/// Errors of fetchers: bounded async operations with timeouts, retries and a
/// circuit breaker.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <troupe/messages/error_category.hpp>

namespace troupe::actors {

/// What failed in a fetch. Category `trp_fetch`.
enum class fetch_errc : uint8_t {
  /// Not an error (CAF reserves 0).
  none = 0,
  /// One attempt took longer than its per-attempt timeout.
  attempt_timeout,
  /// Every attempt the retry policy allows failed. Context: the last error.
  retries_exhausted,
  /// The circuit breaker is open: failing fast without trying.
  /// Context: time until the next probe is allowed.
  circuit_open,
  /// An HTTP response had an error status (>= 400). Context: status, URL.
  http_status,
  /// The connection could not be established (refused, unreachable, DNS).
  /// Context: the detail from the transfer library.
  connect_failed,
  /// The transfer failed after connecting (reset, malformed response, …).
  /// Context: the detail from the transfer library.
  transfer_failed,
};

/// The CAF error category of `fetch_errc`.
constexpr caf::atom_value fetch_errc_category = caf::atom("trp_fetch");

/// Returns the enumerator's name, e.g. "circuit_open".
std::string to_string(fetch_errc x);

} // namespace troupe::actors

TROUPE_ERROR_CODE_ENUM(troupe::actors, fetch_errc, "trp_fetch")
