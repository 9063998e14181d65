#pragma once

/// What failed in a supervisor, scope or task ("why it stopped" without a
/// failure lives in `stop_reason.hpp`).

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <troupe/messages/error_category.hpp>

namespace troupe::supervisors {

/// What failed in supervision. Category `trp_sup`.
enum class supervisor_errc : uint8_t {
  /// Not an error (CAF reserves 0).
  none = 0,
  /// A config or child spec value is out of range. Context: the field and
  /// why, e.g. "children[2].shutdown: timeout must be >= 0 (got -1s)".
  invalid_config,
  /// Two children of one supervisor (or two tasks of one scope) share an
  /// id. Context: the id.
  duplicate_child_id,
  /// A start function returned an error or no actor, or threw.
  /// Context: the child id and the cause.
  start_failed,
  /// More restarts than the intensity allows within its window: the
  /// supervisor stopped its children and gave up. Its parent sees this
  /// reason. Context: the supervisor path and the limit.
  intensity_exceeded,
  /// No child with that id or handle exists. Context: the id.
  unknown_child,
  /// The request does not exist for this supervisor's strategy.
  /// Context: the request and the strategy.
  unsupported_operation,
  /// The supervisor or scope is stopping and refuses new work.
  shutting_down,
  /// A handler or hook threw; the exception became this error.
  /// Context: what() of the exception.
  exception_thrown,
  /// At least one task of a scope failed. Context: the scope path, the
  /// number of failed tasks and the first one's id.
  scope_failed,
};

/// The CAF error category of `supervisor_errc`.
constexpr caf::atom_value supervisor_errc_category = caf::atom("trp_sup");

/// Returns the enumerator's name, e.g. "intensity_exceeded".
std::string to_string(supervisor_errc x);

} // namespace troupe::supervisors

TROUPE_ERROR_CODE_ENUM(troupe::supervisors, supervisor_errc, "trp_sup")
