#pragma once

/// Counters every flow actor keeps, for tests, benchmarks and monitoring.
/// Ask any producer, consumer or stage with `(flow_stats_atom)`.

#include <cstdint>
#include <string>

#include <caf/meta/type_name.hpp>

namespace troupe::actors {

struct flow_stats {
  // -- input side (consumers, stages; flow_input) ---------------------------

  /// Items received from upstream (redeliveries included).
  uint64_t received = 0;
  /// Items finished: handled by a consumer, or emitted downstream by a stage.
  uint64_t processed = 0;
  /// Items given up unfinished because upstream went down or this actor
  /// cancelled; upstream redelivers them to other consumers.
  uint64_t abandoned = 0;
  /// Highest number of received but unfinished items ever held at once.
  /// Never exceeds the capacity.
  uint64_t max_buffered = 0;
  /// Times the input found a new incarnation of a looked-up upstream
  /// (`upstream_ref::lookup`) and subscribed to it.
  uint64_t resubscribed = 0;

  // -- output side (producers, stages; flow_output) -------------------------

  /// Items the source produced.
  uint64_t pulled = 0;
  /// Items sent downstream, redeliveries included.
  uint64_t sent = 0;
  /// Items sent again after their consumer died or cancelled.
  uint64_t redelivered = 0;
  /// Highest number of items sent to one consumer and not yet paid back with
  /// credit, over every consumer. Never exceeds that consumer's capacity.
  uint64_t max_outstanding = 0;
  /// Largest demand the source was ever pulled with (0: never pulled).
  uint64_t max_pull = 0;
  /// Times the source was called although no consumer had credit. Always 0;
  /// tests assert it.
  uint64_t pulls_without_demand = 0;
  /// Items handed to the dead-letter hook after failing `max_deliveries`
  /// handlers (`flow_output::config::max_deliveries`).
  uint64_t dead_lettered = 0;
  /// Nanoseconds the output waited for demand: its source had items to
  /// give, but no consumer had credit (or none was subscribed). The time
  /// backpressure held this producer back; the wait going on when asked is
  /// included.
  uint64_t demand_wait_ns = 0;

  // -- now (taken when the stats are asked for; not counters) ----------------

  /// Input side: the capacity (most items received and unfinished) and how
  /// many are received and unfinished now. Both 0 for a source.
  uint64_t capacity = 0;
  uint64_t buffered = 0;
  /// Output side, over every consumer: the sum of their capacities, and of
  /// the items sent to them and not yet paid back with credit. Outstanding
  /// equal to capacity means the consumers hold all they may: backpressure.
  uint64_t consumers_capacity = 0;
  uint64_t outstanding = 0;
  /// Output side: consumers subscribed now.
  uint64_t consumers = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, flow_stats& x) {
  return f(caf::meta::type_name("troupe.flow_stats"), x.received, x.processed, x.abandoned,
           x.max_buffered, x.resubscribed, x.pulled, x.sent, x.redelivered, x.max_outstanding,
           x.max_pull, x.pulls_without_demand, x.dead_lettered, x.demand_wait_ns, x.capacity,
           x.buffered, x.consumers_capacity, x.outstanding, x.consumers);
}

} // namespace troupe::actors
