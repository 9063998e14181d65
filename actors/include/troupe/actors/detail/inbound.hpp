#pragma once

/// The consumer side of the credit protocol, shared by consumers, stages and
/// fetchers. Not a public API: use `spawn_consumer`, `spawn_stage`, ….
///
/// Thread safety: owned by one actor; every member runs in that actor.

#include <cstdint>
#include <deque>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>

#include "troupe/actors/credit.hpp"
#include "troupe/actors/flow_stats.hpp"

namespace troupe::actors::detail {

class inbound_owner {
public:
  virtual ~inbound_owner() = default;

  /// Upstream is finished (`err` empty) or failed, and every received item
  /// was finished. Called once.
  virtual void on_inbound_finished(const caf::error& err) = 0;
};

class inbound {
public:
  inbound(caf::event_based_actor* self, inbound_owner* owner, uint32_t capacity);

  /// Monitors `upstream` and grants it `capacity` credits.
  void subscribe(caf::actor upstream);

  /// Records a received batch of `count` items; returns its ordinal, which
  /// `finished` takes for each of the batch's items.
  uint64_t received(uint32_t count);

  /// Marks one item of batch `ordinal` finished: its credit goes back to
  /// upstream, coalesced (see `credit.hpp`).
  void finished(uint64_t ordinal, uint64_t items = 1);

  /// Handles `(flow_done_atom, error)` and `(flow_flush_atom)`.
  caf::message_handler handlers();

  /// Handles a down message if it came from upstream.
  bool on_down(const caf::down_msg& dm);

  /// Tells upstream we want nothing more; unfinished items go back to it
  /// for redelivery to other consumers.
  void cancel();

  /// Items received and not finished.
  uint64_t buffered() const noexcept {
    return stats_.received - stats_.processed - stats_.abandoned;
  }

  /// True once upstream sent `done` or went down.
  bool upstream_ended() const noexcept { return upstream_ended_; }

  const caf::actor& upstream() const noexcept { return upstream_; }

  /// Why upstream ended (empty on success); valid once `upstream_ended()`.
  const caf::error& upstream_error() const noexcept { return upstream_error_; }

  const flow_stats& stats() const noexcept { return stats_; }

private:
  void flush();
  void maybe_flush();
  void check_finished();
  void abandon();

  caf::event_based_actor* self_;
  inbound_owner* owner_;
  uint32_t capacity_;
  /// Return credit at once when half the capacity is pending.
  uint32_t flush_threshold_;
  caf::actor upstream_;
  /// Unfinished item count per received batch, oldest first.
  std::deque<uint64_t> open_batches_;
  /// Ordinal of `open_batches_.front()`; ordinals start at 1.
  uint64_t first_open_ = 1;
  uint64_t next_ordinal_ = 1;
  /// Batches finished in order, i.e. the next `acked_through`.
  uint64_t acked_through_ = 0;
  uint64_t pending_credit_ = 0;
  /// Upstream asked for credit while none was pending.
  bool flush_requested_ = false;
  bool upstream_ended_ = false;
  bool cancelled_ = false;
  bool reported_ = false;
  caf::error upstream_error_;
  flow_stats stats_;
};

/// The stats of an actor with both sides (a stage, a fetcher): its outbound
/// counters plus the inbound ones of `in`.
inline flow_stats with_inbound(flow_stats outbound_stats, const inbound& in) {
  auto& x = in.stats();
  outbound_stats.received = x.received;
  outbound_stats.processed = x.processed;
  outbound_stats.abandoned = x.abandoned;
  outbound_stats.max_buffered = x.max_buffered;
  return outbound_stats;
}

} // namespace troupe::actors::detail
