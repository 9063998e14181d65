#pragma once

/// The credit protocol between a producer and its consumers (docs/flow-control.md).
///
/// A consumer owns a capacity C. It grants C credits when it subscribes, and
/// the producer sends at most as many items as it holds credits, in batches.
/// The consumer grants credits again as it *processes* items, so at any time
/// the items held by or in flight to a consumer never exceed C.
///
/// # Why a credit grant doubles as an acknowledgement
/// A grant is sent only for processed items, so it can also tell the producer
/// which batches are finished: `acked_through` counts the batches this
/// consumer has fully processed, in the order it received them (messages from
/// one sender arrive in order, so both sides count the same batches without
/// numbering them on the wire). The producer keeps every batch until it is
/// acknowledged; when a consumer dies, its unacknowledged batches go to the
/// remaining consumers (at-least-once, each item keeps its sequence number so
/// handlers can de-duplicate). One message does both jobs, so acknowledging
/// costs nothing extra.
///
/// # Out of order
/// A consumer that finishes items out of order (a fetcher, an asynchronous
/// handler) also names the batches after `acked_through` that it finished
/// (`flow_finished`, sent before its next grant). The producer stops counting those
/// against its retention bound and drops their items (they are never
/// redelivered), while it keeps `acked_through` for what is committed. So
/// one slow item holds only itself, not every batch behind it: without this,
/// a request that hangs until its timeout stalled a fetcher's whole stream
/// once `2 × capacity` items had gone out behind it.
///
/// Messages (all local CAF messages; `troupe.flow.*` carries the in-order
/// fields across the wire: a remote stream's acknowledgements are in order
/// only, so a consumer of an importer that holds one item stalls after its
/// capacity, see docs/flow-control.md):
/// - consumer → producer `(subscribe, uint32 capacity)`, high priority
/// - producer → consumer `(batch, seq_t first_seq, std::vector<T> items)`, or
///   `(item_seq, T item)` for a batch of one (see `flow/batch.hpp`)
/// - consumer → producer `(flow_demand{credit, acked_through})`, high
///   priority, after `(flow_finished{batches})` if it finished some out of
///   order
/// - consumer → producer `(cancel, uint64 acked_through)`, high priority,
///   after a last grant if it has one pending
/// - producer → consumer `(flush)`: "return your pending credit now". A
///   consumer returns credit in chunks of half its capacity; the producer
///   asks for the rest only when it would otherwise stall (its source is
///   done or waiting, or unacknowledged batches fill its retention bound),
///   so small acknowledgements never flood the producer.
/// - producer → consumer `(done, caf::error)`: normal priority, so it never
///   overtakes the batches before it. Sent after every batch was acknowledged
///   (success) or at once (error).

#include <cstdint>
#include <vector>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

namespace troupe::actors {

/// Sequence number of an item in a producer's stream; the first item is 1.
using seq_t = uint64_t;

using flow_subscribe_atom = caf::atom_constant<caf::atom("trp_fsub")>;
using flow_batch_atom = caf::atom_constant<caf::atom("trp_fbatch")>;
using flow_cancel_atom = caf::atom_constant<caf::atom("trp_fcncl")>;
using flow_done_atom = caf::atom_constant<caf::atom("trp_fdone")>;
using flow_flush_atom = caf::atom_constant<caf::atom("trp_fflsh")>;
/// consumer → producer `(failed, seq_t seq, caf::error)`, high priority: the
/// handler of item `seq` failed and the consumer is about to fail; counts
/// toward the item's `max_deliveries`.
using flow_failed_atom = caf::atom_constant<caf::atom("trp_ffail")>;
/// Asks a producer to pull its source again after it returned `wait`.
using flow_resume_atom = caf::atom_constant<caf::atom("trp_fres")>;
/// Asks any flow actor for its `flow_stats`.
using flow_stats_atom = caf::atom_constant<caf::atom("trp_fstat")>;

/// The sequence number of a lone item: its message is `(item_seq, T)`. A
/// type of its own tells the message apart without an atom, and the
/// element an atom would add matters: CAF allocates a mailbox element on
/// the sending thread and frees it on the receiving one, and glibc frees a
/// block above 128 bytes into another thread's arena under that arena's
/// lock. `(atom, seq, int64)` takes 144 bytes, `(item_seq, int64)` 120;
/// at one message per item the lock alone cost a third of the throughput
/// (bench/pipeline).
struct item_seq {
  seq_t value = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, item_seq& x) {
  return f(caf::meta::type_name("trp_item_seq"), x.value);
}

/// A credit grant that acknowledges: `credit` more items may come, and the
/// first `acked_through` batches this consumer received are finished. One
/// element of its own type, not `(atom, credit, acked_through)`, for the
/// same reason as `item_seq`: it stays a small mailbox element (16 bytes of
/// data: a 104-byte element, inside glibc's fast bins, where the free on
/// the producer's thread takes no arena lock).
struct flow_demand {
  uint32_t credit = 0;
  uint64_t acked_through = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, flow_demand& x) {
  return f(caf::meta::type_name("trp_flow_demand"), x.credit, x.acked_through);
}

/// Sent right before a `flow_demand`, only by a consumer that finished out
/// of order: the batches it finished after the first unfinished one
/// (0-based, numbered as `acked_through` counts). A message of its own, so
/// the common grant stays small.
struct flow_finished {
  std::vector<uint64_t> batches;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, flow_finished& x) {
  return f(caf::meta::type_name("trp_flow_finished"), x.batches);
}

} // namespace troupe::actors
