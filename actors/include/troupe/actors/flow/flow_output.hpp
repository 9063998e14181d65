#pragma once

/// The output side of a flow actor: the producer half of the credit protocol
/// (`credit.hpp`). A `flow_actor` with consumers owns one and drives it: it
/// handles subscribe, demand, cancel and the consumers' down messages, pulls
/// the actor's items (`flow_actor::pull_batch`) only while a consumer has
/// credit, keeps every batch until it is acknowledged and redelivers the
/// batches of a consumer that leaves.
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

/// What one pull produced, as a message (`flow_actor::pull_batch`).
struct pulled_batch {
  /// `more` with no items counts as `wait`: the output pulls again only
  /// after `flow_output::resume()`.
  pull_status status = pull_status::wait;
  /// `make_batch(first_seq, items)`; empty when `count` is 0.
  caf::message items;
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
    /// `no_consumers`. 0: fail at once.
    caf::timespan no_consumer_grace{0};
  };

  flow_output(flow_actor* self, config cfg);

  flow_output(const flow_output&) = delete;
  flow_output& operator=(const flow_output&) = delete;

  /// Pulls again after the source returned `wait` (or `more` with nothing):
  /// call it when the actor has new items.
  void resume();

  /// Stops at once with `err`: tells every consumer `done(err)`.
  void fail(const caf::error& err);

  /// True once finished or failed.
  bool finished() const noexcept {
    return finished_;
  }

  /// Number of subscribed consumers.
  size_t consumers() const noexcept {
    return links_.size();
  }

  const flow_stats& stats() const noexcept {
    return stats_;
  }

private:
  friend class flow_actor;

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

  /// Handlers for the protocol messages (subscribe, demand, cancel, resume).
  caf::message_handler handlers();

  /// Handles a down message if it came from one of our consumers.
  bool on_down(const caf::down_msg& dm);

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
  flow_stats stats_;
};

} // namespace troupe::actors
