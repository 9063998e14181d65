#pragma once

/// A stage: a consumer of `In` that is also a producer of `Out`
/// (producer → stage → consumers).
///
/// The bound holds end to end. A stage transforms an input only when its
/// own consumers have demand, and an input counts as unprocessed until its
/// outputs have left for downstream. So a stage holds at most `capacity`
/// inputs (plus the leftover outputs of the one input being emitted), a slow
/// last stage slows the first producer, and no stage buffers more than its
/// own capacity. (CAF 0.17's own stream stages do not do this: they keep
/// granting credit upstream while their output buffer grows.)
///
/// The transform is `Out(const In&)` (one output per input) or
/// `void(const In&, std::vector<Out>&)` (zero or more outputs per input).
/// It throws → the stage exits with `handler_failed`. Completion and errors
/// flow downstream; cancellation by all its consumers flows upstream.

#include <cstdint>
#include <deque>
#include <functional>
#include <type_traits>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>

#include "troupe/actors/consumer.hpp"
#include "troupe/actors/flow/flow_stage.hpp"
#include "troupe/actors/producer.hpp"

namespace troupe::actors {

struct stage_config {
  /// Most unprocessed inputs held by or in flight to this stage. Default 64.
  uint32_t capacity = 64;
  /// Most outputs per batch message sent downstream. Default 64.
  uint32_t batch_size = 64;
  /// See `producer_config::no_consumer_grace`. Default 0.
  caf::timespan no_consumer_grace{0};

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

namespace detail {

template <class In, class Out>
using transform_fn = std::function<void(const In&, std::vector<Out>&)>;

template <class In, class Out>
class stage_actor final : public flow_stage<In, Out> {
public:
  stage_actor(caf::actor_config& cfg, caf::actor upstream, stage_config scfg,
              transform_fn<In, Out> fn)
    : flow_stage<In, Out>(cfg, std::move(upstream), scfg.capacity,
                          {scfg.batch_size, scfg.no_consumer_grace}),
      fn_(std::move(fn)) {
    // nop
  }

private:
  using flow_stage<In, Out>::input;

  struct input_batch {
    caf::message msg;
    caf::span<const In> items; // inside `msg`
    size_t next;               // index of the next untransformed item
    uint64_t ordinal;
  };

  void on_input(caf::span<const In> items, seq_t, uint64_t ordinal) override {
    inputs_.push_back(input_batch{this->current_batch(), items, 0, ordinal});
    this->output().resume();
  }

  caf::expected<pull_status> pull(size_t n, std::vector<Out>& outs) override {
    // Leftovers of an input whose outputs did not all fit last time.
    while (outs.size() < n && !leftover_.empty()) {
      outs.push_back(std::move(leftover_.front()));
      leftover_.pop_front();
    }
    if (leftover_.empty() && leftover_ordinal_ != 0) {
      input().finished(leftover_ordinal_);
      leftover_ordinal_ = 0;
    }
    while (outs.size() < n && leftover_.empty() && !inputs_.empty()) {
      auto& batch = inputs_.front();
      auto items = batch.items;
      std::vector<Out> produced;
      try {
        fn_(items[batch.next], produced);
      } catch (...) {
        return error_from_exception(std::current_exception(), flow_errc::handler_failed,
                                    "stage transform");
      }
      auto ordinal = batch.ordinal;
      if (++batch.next == items.size())
        inputs_.pop_front();
      size_t fit = std::min(produced.size(), n - outs.size());
      for (size_t i = 0; i < fit; ++i)
        outs.push_back(std::move(produced[i]));
      if (fit < produced.size()) {
        for (size_t i = fit; i < produced.size(); ++i)
          leftover_.push_back(std::move(produced[i]));
        leftover_ordinal_ = ordinal; // finished once its leftovers are out
      } else {
        input().finished(ordinal);
      }
    }
    bool drained = inputs_.empty() && leftover_.empty();
    if (drained && input().upstream_ended())
      return pull_status::done;
    return outs.empty() ? pull_status::wait : pull_status::more;
  }

  transform_fn<In, Out> fn_;
  std::deque<input_batch> inputs_;
  std::deque<Out> leftover_;
  uint64_t leftover_ordinal_ = 0;
};

} // namespace detail

/// Spawns a stage subscribed to `upstream`, through `where`.
template <class In, class Out, class Spawner, class Fn>
caf::expected<caf::actor> spawn_stage(Spawner& where, caf::actor upstream, stage_config cfg,
                                      Fn fn) {
  if (auto err = cfg.validate())
    return err;
  if (!upstream)
    return caf::make_error(flow_errc::invalid_config, "stage: upstream is invalid");
  detail::transform_fn<In, Out> transform;
  if constexpr (std::is_invocable_v<Fn&, const In&, std::vector<Out>&>) {
    transform = std::move(fn);
  } else {
    static_assert(std::is_invocable_r_v<Out, Fn&, const In&>,
                  "a stage transform is Out(const In&) or "
                  "void(const In&, std::vector<Out>&)");
    transform = [f = std::move(fn)](const In& x, std::vector<Out>& out) mutable {
      out.push_back(f(x));
    };
  }
  return where.template spawn<detail::stage_actor<In, Out>>(std::move(upstream), cfg,
                                                            std::move(transform));
}

} // namespace troupe::actors
