#pragma once

/// Why an actor stopped when nothing failed: an orderly shutdown or a
/// cancellation.
///
/// # Why a second enum next to `supervisor_errc`?
///
/// A supervisor must tell "the child failed" (restart a transient child,
/// count towards intensity) from "the child was told to stop" (do neither),
/// and a scope must report cancelled tasks apart from failed ones. Mixing both
/// into one enum makes every caller re-derive that split; keeping them apart
/// makes `is_normal_stop(reason)` one line and leaves codes 128..255 to users
/// (`stop_reason::user_defined`), like rotor's `shutdown_code_t` next to its
/// `error_code_t`.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <troupe/messages/error_category.hpp>

namespace troupe::supervisors {

/// Why an actor stopped without failing. Category `trp_stop`.
enum class stop_reason : uint8_t {
  /// Not a reason (CAF reserves 0).
  none = 0,
  /// Its supervisor or owner asked it to stop in order: tree shutdown,
  /// restart of a sibling group, `stop_child`, a signal.
  /// Context: the path of whoever asked.
  shutdown,
  /// Its scope cancelled it because a sibling task failed or the scope itself
  /// was cancelled. Context: the id of the task that failed (or the scope
  /// path) and the failure, if any.
  cancelled,
  /// First code reserved for applications' own stop reasons (128..255).
  user_defined = 128,
};

/// The CAF error category of `stop_reason`.
constexpr caf::atom_value stop_reason_category = caf::atom("trp_stop");

/// Returns the enumerator's name, e.g. "cancelled", or "user(130)".
std::string to_string(stop_reason x);

/// True if `reason` means "stopped without failing": no error,
/// `exit_reason::normal`, `exit_reason::user_shutdown`, or any `stop_reason`.
/// A transient child is restarted only when this is false.
bool is_normal_stop(const caf::error& reason) noexcept;

/// Returns a `stop_reason::cancelled` error naming who caused it and why.
caf::error make_cancelled(std::string cause_id, caf::error cause = caf::error{});

/// Returns a `stop_reason::shutdown` error naming who asked.
caf::error make_shutdown(std::string requested_by);

} // namespace troupe::supervisors

TROUPE_ERROR_CODE_ENUM(troupe::supervisors, stop_reason, "trp_stop")
