#pragma once

/// Errors of flow control: bounded mailboxes, producers, consumers, stages.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include <troupe/messages/error_category.hpp>

namespace troupe::actors {

/// What failed in a flow. Category `trp_flow`.
enum class flow_errc : uint8_t {
  /// Not an error (CAF reserves 0).
  none = 0,
  /// A config or policy value is out of range. Context: the field and why,
  /// e.g. "capacity must be >= batch_size (got 4 < 16)".
  invalid_config,
  /// A bounded mailbox is full and its policy rejects the message.
  /// Context: the mailbox capacity.
  mailbox_full,
  /// A message waited for room in a bounded mailbox longer than its policy
  /// allows. Context: the wait limit.
  mailbox_wait_expired,
  /// A producer's source threw. Context: the exception's what().
  source_failed,
  /// A consumer's handler threw. Context: what() and the item's sequence number.
  handler_failed,
  /// Every consumer of a producer is gone while items are still
  /// unacknowledged or unsent; nothing is dropped silently.
  /// Context: the number of unacknowledged items.
  no_consumers,
  /// The operation was cancelled (cancellation flows upstream).
  cancelled,
  /// The message's deadline passed before work on it started.
  deadline_exceeded,
  /// Every request of a fan-out failed. Context: the errors, in target order.
  all_failed,
  /// A looked-up upstream cannot be found: its directory is gone.
  /// Context: the upstream's name.
  upstream_unavailable,
  /// A graceful drain did not finish within its deadline. Context: the
  /// number of items sent and not acknowledged end to end.
  drain_timeout,
};

/// The CAF error category of `flow_errc`.
constexpr caf::atom_value flow_errc_category = caf::atom("trp_flow");

/// Returns the enumerator's name, e.g. "mailbox_full".
std::string to_string(flow_errc x);

} // namespace troupe::actors

TROUPE_ERROR_CODE_ENUM(troupe::actors, flow_errc, "trp_flow")
