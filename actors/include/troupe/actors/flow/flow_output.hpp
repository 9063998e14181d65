#pragma once

/// The output side of a flow actor: the producer half of the credit protocol
/// (`credit.hpp`). A `flow_actor` with consumers owns one and drives it: it
/// handles subscribe, demand, cancel and the consumers' down messages, pulls
/// the actor's items (`flow_actor::pull_batch`) only while a consumer has
/// credit, keeps every batch until it is acknowledged (one finished out of
/// order as a record without its items) and redelivers the unfinished
/// batches of a consumer that leaves.
///
/// Thread safety: owned by one actor; every member runs in that actor.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

#include <caf/actor_clock.hpp>

#include "troupe/actors/credit.hpp"
#include "troupe/actors/flow/dead_letter.hpp"
#include "troupe/actors/flow_stats.hpp"

namespace troupe::actors {

class flow_actor;

/// What a source reports each time it is pulled.
enum class pull_status : uint8_t {
  /// Items were appended (or none yet); call again while there is demand.
  more,
  /// No more items after the ones appended now.
  done,
  /// Nothing now; the producer waits for `flow_resume_atom`. No polling.
  wait,
};

/// One small, trivially copyable item kept typed in 8 inline bytes
/// (`flow_source` decides which items qualify): copied for the price of a
/// word, with no type-erased call (`std::any` cost a manager call per copy,
/// move and destruction: 1.4 % of the per-item pipeline's samples).
class single_item {
public:
  bool has_value() const noexcept {
    return has_;
  }

  void reset() noexcept {
    has_ = false;
  }

  template <class T>
  void store(const T& x) noexcept {
    static_assert(fits<T>, "a single_item holds small trivially copyable items only");
    ::new (static_cast<void*>(bytes_)) T(x);
    has_ = true;
  }

  /// The item `store<T>` put here.
  template <class T>
  const T& get() const noexcept {
    static_assert(fits<T>, "a single_item holds small trivially copyable items only");
    return *std::launder(reinterpret_cast<const T*>(bytes_));
  }

  template <class T>
  static constexpr bool fits = std::is_trivially_copyable_v<T> && sizeof(T) <= 8
    && alignof(T) <= 8;

private:
  alignas(8) unsigned char bytes_[8];
  bool has_ = false;
};

/// What one pull produced, as a message (`flow_actor::pull_batch`).
struct pulled_batch {
  /// `more` with no items counts as `wait`: the output pulls again only
  /// after `flow_output::resume()`.
  pull_status status = pull_status::wait;
  /// `make_batch(first_seq, items)`; empty when `count` is 0 or when the
  /// one item is in `single`.
  caf::message items;
  /// Or the one item itself, when it is small and trivially copyable
  /// (`flow_source` decides): kept typed, it is sent as a copy
  /// (`flow_actor::send_single`), one allocation, where a shared message
  /// costs two (its data and the mailbox element). A message is built only
  /// if it must be sliced (a dead letter).
  single_item single;
  /// Number of items in `items`.
  size_t count = 0;
  /// Set: the source failed, and the output fails with this error.
  caf::error error;
};

class flow_output {
public:
  struct config {
    /// Most items per batch message.
    uint32_t batch_size = 64;
    /// How long the producer waits for a consumer after the last one left
    /// while items are unacknowledged or unsent, before failing with
    /// `no_consumers`. 0: fail at once; `caf::timespan::max()`: wait for
    /// as long as the actor lives (a supervised pipeline, whose supervisor
    /// restarts the consumers and bounds the wait).
    caf::timespan no_consumer_grace{0};
    /// Sequence number of the first item. A source that resumes a stream
    /// (from a committed position) continues its numbers, so handlers can
    /// de-duplicate across restarts.
    seq_t first_seq = 1;
    /// An item whose handler failed this many times (reported with
    /// `flow_input::report_failure`) is not redelivered again but handed to
    /// `on_dead_letter`. 0: no limit (redelivered forever).
    uint32_t max_deliveries = 0;
    /// Gets every dead letter, in the actor. Empty: a warning in the log.
    std::function<void(const dead_letter&)> on_dead_letter{};
    /// Called, in the actor, whenever the committed position advances: the
    /// highest sequence number up to which every item was acknowledged (or
    /// dead-lettered). A source restarted at `committed + 1` loses nothing.
    /// Empty: not tracked (tracking costs a map insert per batch acknowledged
    /// out of order).
    std::function<void(seq_t committed)> on_commit{};
  };

  flow_output(flow_actor* self, config cfg);

  flow_output(const flow_output&) = delete;
  flow_output& operator=(const flow_output&) = delete;

  /// Pulls again after the source returned `wait` (or `more` with nothing):
  /// call it when the actor has new items.
  void resume();

  /// Stops at once with `err`: tells every consumer `done(err)`.
  void fail(const caf::error& err);

  /// Stops pulling the source (a graceful drain): what was pulled is still
  /// delivered, redeliveries included, and `done` follows once all of it
  /// is acknowledged.
  void close();

  /// Items pulled and not yet acknowledged: sent and unacknowledged, or
  /// waiting for redelivery.
  uint64_t unfinished() const noexcept;

  /// True once finished or failed.
  bool finished() const noexcept {
    return finished_;
  }

  /// Number of subscribed consumers.
  size_t consumers() const noexcept {
    return links_.size();
  }

  /// The counters, with the demand wait going on now added.
  flow_stats stats() const;

private:
  friend class flow_actor;

  /// A batch kept until acknowledged: a message shared with what was sent,
  /// or one typed item (`pulled_batch::single`).
  struct sent_batch {
    caf::message msg;
    single_item single;
    seq_t first_seq;
    uint32_t count;
    /// Finished out of order: no longer counted as unacknowledged, items
    /// dropped, never redelivered; kept only until the in-order
    /// acknowledgement reaches it (commits go in order).
    bool finished = false;
  };

  /// Items [offset, offset + n) of `b` as a batch message of their own.
  caf::message slice(const sent_batch& b, size_t offset, size_t n);

  /// Handler failures of one item (`max_deliveries`).
  struct failure_record {
    uint32_t count = 0;
    caf::error last;
  };

  /// Items retired and not yet committed: (first seq, count), in the order
  /// they were retired.
  std::vector<std::pair<seq_t, uint32_t>> retired_;

  /// Most batches retained per link, per item of its capacity, counting
  /// those finished out of order behind an unfinished one (see `may_send`).
  static constexpr uint64_t max_retained_batches = 16;

  struct link {
    caf::actor consumer;
    uint64_t credit = 0;
    uint64_t capacity = 0;
    /// Batches sent and not yet acknowledged, oldest first.
    std::deque<sent_batch> unacked;
    uint64_t unacked_items = 0;
    /// Items of every batch in `unacked`, those finished out of order too.
    uint64_t retained_items = 0;
    /// Items sent and not yet paid back with credit.
    uint64_t outstanding = 0;
    /// Batches acknowledged so far (the consumer's `acked_through`).
    uint64_t acked_batches = 0;
    /// We asked for pending credit and got no demand since.
    bool flush_requested = false;
  };

  /// Handlers for the protocol messages (subscribe, demand, cancel, resume).
  caf::message_handler handlers();

  /// Handles a down message if it came from one of our consumers.
  bool on_down(const caf::down_msg& dm);

  /// A consumer's handler failed on item `seq`.
  void failed(const caf::actor_addr& from, seq_t seq, caf::error err);

  /// Takes every item of `b` that failed `max_deliveries` handlers out of
  /// it, as dead letters; keeps what follows the first such item at the
  /// front of `redeliver_`. Returns false if nothing of `b` is left.
  bool strip_dead_letters(sent_batch& b);

  link* find(const caf::actor_addr& addr);
  void subscribe(const caf::actor& consumer, uint32_t capacity);
  void demand(const caf::actor_addr& from, uint32_t credit, uint64_t acked_through);

  /// The consumer at `from` finished `batches` out of order (see credit.hpp).
  void finished_out_of_order(const caf::actor_addr& from,
                             const std::vector<uint64_t>& batches);

  /// `b` of `l` is finished: it stops counting as unacknowledged, and its
  /// items wait in `retired_` to be committed.
  void retire(link& l, const sent_batch& b);

  /// Forgets the failures of the retired items and commits them. Runs user
  /// code that may end the output: call it after the last use of a link.
  void commit_retired();
  void cancel(const caf::actor_addr& from, uint64_t acked_through);
  void acknowledge(link& l, uint64_t acked_through);
  /// Items [first, first + n) are done with: tells the actor, advances the
  /// committed position.
  void commit_range(seq_t first, uint32_t n);
  void dead_letter_item(dead_letter letter);
  void drop_link(const caf::actor_addr& addr, bool redeliver);
  /// Sends whatever credit allows, redeliveries first.
  void pump();
  /// Sends one batch to `l` (a redelivery or a fresh pull); false if there
  /// was nothing to send.
  bool send_next(link& l);
  void send(link& l, sent_batch b);
  bool may_send(const link& l) const;
  /// Asks consumers whose pending credit we wait for to return it.
  void request_flushes();
  /// True if the source could give items but no consumer may take one.
  bool waiting_for_demand() const;
  /// Nanoseconds of the demand wait going on now; 0 if none.
  uint64_t current_wait_ns() const;
  void check_done();
  void check_consumers_left();
  void finish(const caf::error& err);

  flow_actor* self_;
  config cfg_;
  std::vector<link> links_;
  size_t next_link_ = 0;
  /// Batches to send again, oldest first.
  std::deque<sent_batch> redeliver_;
  seq_t next_seq_ = 1;
  bool source_waiting_ = false;
  bool source_done_ = false;
  bool pumping_ = false;
  bool finished_ = false;
  bool had_consumer_ = false;
  /// Bumped whenever a consumer subscribes, so a grace timer can tell if
  /// one came in the meantime.
  uint64_t epoch_ = 0;
  /// Handler failures per item, for `max_deliveries`; erased once the item
  /// is acknowledged or dead-lettered.
  std::map<seq_t, failure_record> failures_;
  /// See `config::on_commit`; with ranges acknowledged beyond it
  /// (first → last), merged as the gaps fill.
  seq_t committed_;
  std::map<seq_t, seq_t> acked_ahead_;
  /// Since when the output waits for demand (`waiting_for_demand` at the
  /// end of a pump); max: not waiting. Read on the actor clock once per
  /// pump while backpressure holds, never per item.
  caf::actor_clock::time_point waiting_since_ = caf::actor_clock::time_point::max();
  flow_stats stats_;
};

} // namespace troupe::actors
