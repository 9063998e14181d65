#pragma once

/// The producer side of the credit protocol, shared by producers, stages and
/// fetchers. Not a public API: use `spawn_producer`, `spawn_stage`, ….
///
/// Thread safety: owned by one actor; every member runs in that actor.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/timespan.hpp>

#include "troupe/actors/credit.hpp"
#include "troupe/actors/flow_stats.hpp"

namespace troupe::actors::detail {

/// What the owner's source returned for one pull.
struct pulled_batch {
  enum status_t : uint8_t {
    /// `items` holds 1..n items; pull again while there is demand.
    more,
    /// `items` holds 0..n items, and there will be no more.
    done,
    /// No items now; pull again after `outbound::resume()`.
    wait,
    /// The source failed with `error`; `items` is ignored.
    failed,
  };
  status_t status = wait;
  /// `(flow_batch_atom, first_seq, std::vector<T>)`, built by the owner.
  caf::message items;
  /// Number of items in `items`.
  size_t count = 0;
  caf::error error;
};

/// The owner supplies the typed parts.
class outbound_owner {
public:
  virtual ~outbound_owner() = default;

  /// Pulls at most `n` (>= 1) items, numbering them from `first_seq`.
  virtual pulled_batch pull(size_t n, seq_t first_seq) = 0;

  /// Copies items [offset, offset + n) of a batch built by `pull` into a new
  /// batch (to redeliver part of it to a consumer with less credit).
  virtual caf::message slice(const caf::message& batch, size_t offset, size_t n) = 0;

  /// Called when a consumer acknowledged items [first_seq, first_seq + n).
  virtual void on_acknowledged(seq_t first_seq, uint32_t n) {
    (void) first_seq;
    (void) n;
  }

  /// Called once when the outbound side is finished: every item was
  /// acknowledged and `done` went out (`err` empty), or it failed (`err`).
  virtual void on_outbound_finished(const caf::error& err) = 0;
};

class outbound {
public:
  struct config {
    /// Most items per batch message.
    uint32_t batch_size = 64;
    /// How long the producer waits for a consumer after the last one left
    /// while items are unacknowledged or unsent, before failing with
    /// `no_consumers`. 0: fail at once.
    caf::timespan no_consumer_grace{0};
  };

  outbound(caf::event_based_actor* self, outbound_owner* owner, config cfg);

  /// Handlers for the protocol messages (subscribe, demand, cancel).
  /// The owner adds them to its behavior.
  caf::message_handler handlers();

  /// Handles a down message if it came from one of our consumers.
  bool on_down(const caf::down_msg& dm);

  /// Pulls the source again after it returned `wait`.
  void resume();

  /// Stops at once with `err`: tells every consumer `done(err)`.
  void fail(const caf::error& err);

  /// True once finished or failed.
  bool finished() const noexcept { return finished_; }

  /// Number of subscribed consumers.
  size_t consumers() const noexcept { return links_.size(); }

  const flow_stats& stats() const noexcept { return stats_; }
  flow_stats& stats() noexcept { return stats_; }

private:
  struct sent_batch {
    caf::message msg;
    seq_t first_seq;
    uint32_t count;
  };

  struct link {
    caf::actor consumer;
    uint64_t credit = 0;
    uint64_t capacity = 0;
    /// Batches sent and not yet acknowledged, oldest first.
    std::deque<sent_batch> unacked;
    uint64_t unacked_items = 0;
    /// Items sent and not yet paid back with credit.
    uint64_t outstanding = 0;
    /// Batches acknowledged so far (the consumer's `acked_through`).
    uint64_t acked_batches = 0;
    /// We asked for pending credit and got no demand since.
    bool flush_requested = false;
  };

  link* find(const caf::actor_addr& addr);
  void subscribe(const caf::actor& consumer, uint32_t capacity);
  void demand(const caf::actor_addr& from, uint32_t credit, uint64_t acked_through);
  void cancel(const caf::actor_addr& from, uint64_t acked_through);
  void acknowledge(link& l, uint64_t acked_through);
  void drop_link(const caf::actor_addr& addr, bool redeliver);
  /// Sends whatever credit allows, redeliveries first.
  void pump();
  /// Sends one batch to `l` (a redelivery or a fresh pull); false if there
  /// was nothing to send.
  bool send_next(link& l);
  void send(link& l, caf::message msg, seq_t first_seq, uint32_t count);
  bool may_send(const link& l) const;
  /// Asks consumers whose pending credit we wait for to return it.
  void request_flushes();
  void check_done();
  void check_consumers_left();
  void finish(const caf::error& err);

  caf::event_based_actor* self_;
  outbound_owner* owner_;
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
  flow_stats stats_;
};

} // namespace troupe::actors::detail
