#pragma once

/// `dead_letter`: an item no handler could process. A flow output with
/// `max_deliveries` set stops redelivering an item whose handler failed that
/// many times (each failing consumer reports the item with `report_failure`
/// before it dies) and hands it to its actor's `on_dead_letter` hook
/// instead, so one poison item cannot kill every consumer in turn, forever.
/// A dead-lettered item counts as acknowledged: the stream moves on.

#include <cstdint>

#include <caf/error.hpp>
#include <caf/message.hpp>

#include "troupe/actors/credit.hpp"
#include "troupe/actors/flow/batch.hpp"

namespace troupe::actors {

struct dead_letter {
  /// The item's sequence number in its producer's stream.
  seq_t seq = 0;
  /// Times a handler failed on it.
  uint32_t failures = 0;
  /// Why the last handler failed.
  caf::error error;
  /// A batch of one (`make_batch`) holding the item; read it with `item<T>()`.
  caf::message batch;

  template <class T>
  const T& item() const {
    return items_of<T>(batch)[0];
  }
};

} // namespace troupe::actors
