#pragma once

/// The input side of a flow actor: the consumer half of the credit protocol
/// (`credit.hpp`). A `flow_actor` with an upstream owns one and drives it:
/// it subscribes, handles `done`, `flush` and the upstream's down message.
/// The actor's own code records what it received (`flow_actor::accept`) and
/// marks items finished; credit and acknowledgements follow from that.
///
/// A looked-up upstream (`upstream_ref::lookup`) is re-bound: when it dies
/// or fails, the input gives up what it held from it (the upstream's own
/// upstream or producer redelivers it), asks the directory for the next
/// incarnation and subscribes to it. Only a clean `done`, a directory that
/// says the name finished, or our own cancel end such an input.
///
/// Thread safety: owned by one actor; every member runs in that actor.

#include <cstdint>
#include <deque>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include "troupe/actors/credit.hpp"
#include "troupe/actors/flow/upstream_ref.hpp"
#include "troupe/actors/flow_stats.hpp"

namespace troupe::actors {

class flow_actor;

class flow_input {
public:
  flow_input(flow_actor* self, uint32_t capacity);

  flow_input(const flow_input&) = delete;
  flow_input& operator=(const flow_input&) = delete;

  /// Records a received batch of `count` items; returns its ordinal, which
  /// `finished` takes for each of the batch's items.
  uint64_t received(uint32_t count);

  /// Marks `items` items of batch `ordinal` finished: their credit goes back
  /// to upstream, coalesced (see `credit.hpp`), and the batch counts as
  /// acknowledged once all of its items and those before it are finished.
  void finished(uint64_t ordinal, uint64_t items = 1);

  /// Tells upstream we want nothing more; unfinished items go back to it
  /// for redelivery to other consumers.
  void cancel();

  /// Tells upstream that the handler of item `seq` (of batch `ordinal`)
  /// failed with `err`, just before this actor fails: upstream counts it
  /// against the item's `max_deliveries` (a poison item goes to a dead
  /// letter, not round and round). Ignored for an item of an upstream
  /// incarnation that is gone.
  void report_failure(uint64_t ordinal, seq_t seq, const caf::error& err);

  /// Items received and not finished.
  uint64_t buffered() const noexcept {
    return stats_.received - stats_.processed - stats_.abandoned;
  }

  /// True once upstream sent `done` or went down (for a looked-up
  /// upstream: and will not be replaced), or we cancelled.
  bool upstream_ended() const noexcept {
    return upstream_ended_;
  }

  /// The current upstream; invalid while a looked-up one is being found.
  const caf::actor& upstream() const noexcept {
    return upstream_;
  }

  /// Why upstream ended (empty on success); valid once `upstream_ended()`.
  const caf::error& upstream_error() const noexcept {
    return upstream_error_;
  }

  const flow_stats& stats() const noexcept {
    return stats_;
  }

private:
  friend class flow_actor;

  /// Subscribes to a fixed upstream, or looks one up.
  void start(upstream_ref ref);

  /// Monitors `upstream` and grants it `capacity` credits.
  void subscribe(caf::actor upstream);

  /// Asks the directory for the current incarnation (not `stale`).
  void resolve(const caf::actor_addr& stale);

  /// The upstream incarnation `stale` ended without a clean `done`: gives
  /// up what it sent and looks up the next one.
  void rebind(const caf::actor_addr& stale);

  /// Ends the input with `err` (none: cleanly).
  void end(caf::error err);

  /// Handles `(flow_done_atom, error)` and `(flow_flush_atom)`.
  caf::message_handler handlers();

  /// Handles a down message if it came from upstream.
  bool on_down(const caf::down_msg& dm);

  void flush();
  void maybe_flush();
  void check_finished();
  void abandon();

  flow_actor* self_;
  uint32_t capacity_;
  /// Return credit at once when half the capacity is pending.
  uint32_t flush_threshold_;
  upstream_ref ref_;
  caf::actor upstream_;
  /// A lookup is in flight.
  bool resolving_ = false;
  /// Unfinished item count per received batch, oldest first.
  std::deque<uint64_t> open_batches_;
  /// Ordinal of `open_batches_.front()`; ordinals start at 1.
  uint64_t first_open_ = 1;
  uint64_t next_ordinal_ = 1;
  /// Batches finished in order, i.e. the next `acked_through`.
  uint64_t acked_through_ = 0;
  /// Batches (numbered as `acked_through_` counts) finished while an older
  /// one was still open; told upstream with the next credit.
  std::vector<uint64_t> finished_early_;
  uint64_t pending_credit_ = 0;
  /// Upstream asked for credit while none was pending.
  bool flush_requested_ = false;
  bool upstream_ended_ = false;
  bool cancelled_ = false;
  bool reported_ = false;
  caf::error upstream_error_;
  flow_stats stats_;
};

} // namespace troupe::actors
