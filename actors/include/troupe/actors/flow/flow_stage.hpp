#pragma once

/// `flow_stage<In, Out>`: the base of a flow actor that consumes `In` from
/// an upstream and produces `Out` for its consumers (a stage, a fetcher).
/// The subclass implements `on_input` (as a `flow_sink`) and `pull` (as a
/// `flow_source`). To keep the bound end to end, mark an input finished
/// only once its outputs have left in `pull`, and work only when there is
/// demand. The base finishes as `flow_actor` says: an upstream error fails
/// the output at once, success resumes it so `pull` can report `done`, and
/// consumers that all cancel cancel the input.

#include <cstdint>
#include <utility>

#include <caf/span.hpp>

#include "troupe/actors/flow/batch.hpp"
#include "troupe/actors/flow/flow_source.hpp"

namespace troupe::actors {

template <class In, class Out>
class flow_stage : public flow_source<Out> {
protected:
  /// Subscribes to `upstream` (a handle or a name to look up) with
  /// `capacity` credits when it starts.
  flow_stage(caf::actor_config& cfg, upstream_ref upstream, uint32_t capacity,
             flow_output::config out)
    : flow_source<Out>(cfg, std::move(upstream), capacity, out) {
    // nop
  }

  /// See `flow_sink::on_input`. Typically it queues the items (keeping
  /// `current_batch()`) and calls `output().resume()`.
  virtual void on_input(caf::span<const In> items, seq_t first_seq, uint64_t ordinal) = 0;

private:
  caf::message_handler input_handlers() final {
    return batch_handlers<In>([this](caf::span<const In> items, seq_t first) {
      if (auto ordinal = this->accept(items.size()))
        on_input(items, first, ordinal);
    });
  }
};

} // namespace troupe::actors
