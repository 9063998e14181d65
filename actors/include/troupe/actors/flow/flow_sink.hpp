#pragma once

/// `flow_sink<In>`: the base of a flow actor that consumes the items of one
/// upstream (a consumer). The subclass implements `on_input` and marks items
/// finished; the base subscribes, returns credit, and quits when the input
/// is finished (override `on_input_finished` to do more first).
///
///   class printer final : public flow_sink<int> {
///   public:
///     printer(caf::actor_config& cfg, caf::actor upstream)
///       : flow_sink<int>(cfg, std::move(upstream), 64) {}
///   private:
///     void on_input(caf::span<const int> items, seq_t, uint64_t ordinal) override {
///       for (auto x : items) std::cout << x << '\n';
///       input().finished(ordinal, items.size());
///     }
///   };

#include <cstdint>
#include <utility>

#include <caf/span.hpp>

#include "troupe/actors/flow/batch.hpp"
#include "troupe/actors/flow/flow_actor.hpp"

namespace troupe::actors {

template <class In>
class flow_sink : public flow_actor {
protected:
  /// Subscribes to `upstream` (a handle or a name to look up) with
  /// `capacity` credits when it starts.
  flow_sink(caf::actor_config& cfg, upstream_ref upstream, uint32_t capacity)
    : flow_actor(cfg, std::move(upstream), capacity) {
    // nop
  }

  /// A batch arrived: `items[i]` has sequence number `first_seq + i`. Mark
  /// each item finished with `input().finished(ordinal, n)` when it is
  /// processed (now or later: keep `current_batch()` to keep the items).
  /// Not called after the input ended.
  virtual void on_input(caf::span<const In> items, seq_t first_seq, uint64_t ordinal) = 0;

private:
  caf::message_handler input_handlers() final {
    return batch_handlers<In>([this](caf::span<const In> items, seq_t first) {
      if (auto ordinal = accept(items.size()))
        on_input(items, first, ordinal);
    });
  }
};

} // namespace troupe::actors
