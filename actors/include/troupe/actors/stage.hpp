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

#include <algorithm>
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
  /// An input counts as finished only once every output made from it is
  /// acknowledged downstream, not when the outputs leave. Then nothing is
  /// lost when the stage dies after its outputs left (upstream redelivers
  /// the inputs to the next incarnation): at-least-once end to end, across
  /// a stage's restart. The stage then holds an input while its outputs are
  /// downstream: give it a capacity of at least its consumers' total, or it
  /// caps them. Default false (supervised pipelines set it).
  bool end_to_end = false;
  /// See `producer_config::max_deliveries`. Default 0: no limit.
  uint32_t max_deliveries = 0;
  /// See `producer_config::on_dead_letter`.
  std::function<void(const dead_letter&)> on_dead_letter{};

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

namespace detail {

template <class In, class Out>
using transform_fn = std::function<void(const In&, std::vector<Out>&)>;

template <class In, class Out>
class stage_actor final : public flow_stage<In, Out> {
public:
  stage_actor(caf::actor_config& cfg, upstream_ref upstream, stage_config scfg,
              transform_fn<In, Out> fn)
    : flow_stage<In, Out>(cfg, std::move(upstream), scfg.capacity, output_config(scfg)),
      end_to_end_(scfg.end_to_end),
      fn_(std::move(fn)) {
    // nop
  }

private:
  using flow_stage<In, Out>::input;

  static flow_output::config output_config(stage_config& scfg) {
    flow_output::config out;
    out.batch_size = scfg.batch_size;
    out.no_consumer_grace = scfg.no_consumer_grace;
    out.max_deliveries = scfg.max_deliveries;
    out.on_dead_letter = std::move(scfg.on_dead_letter);
    return out;
  }

  struct input_batch {
    caf::message msg;
    caf::span<const In> items; // inside `msg`
    seq_t first_seq;
    size_t next; // index of the next untransformed item
    uint64_t ordinal;
  };

  /// End to end: an input whose outputs [first_out, first_out + count) are
  /// not all acknowledged yet.
  struct open_input {
    seq_t first_out;
    uint32_t count;
    uint32_t left;
    uint64_t ordinal;
  };

  void on_input(caf::span<const In> items, seq_t first_seq, uint64_t ordinal) override {
    // The items we keep must live in the message we keep: a one-item batch
    // sent as values sits in the mailbox element itself, and
    // `current_batch` moves it into a new message (the handler's `items`
    // would dangle once the element is gone).
    (void)items;
    auto batch = this->current_batch();
    auto kept = items_of<In>(batch);
    inputs_.push_back(input_batch{std::move(batch), kept, first_seq, 0, ordinal});
    this->output().resume();
  }

  caf::expected<pull_status> pull(size_t n, std::vector<Out>& outs) override {
    if (failure_)
      return failure_; // after the outputs made before it went out
    // Leftovers of an input whose outputs did not all fit last time.
    while (outs.size() < n && !leftover_.empty()) {
      outs.push_back(std::move(leftover_.front()));
      leftover_.pop_front();
    }
    if (leftover_.empty() && leftover_ordinal_ != 0) {
      emitted(leftover_ordinal_);
      leftover_ordinal_ = 0;
    }
    while (outs.size() < n && leftover_.empty() && !inputs_.empty()) {
      auto& batch = inputs_.front();
      auto items = batch.items;
      std::vector<Out> produced;
      try {
        fn_(items[batch.next], produced);
      } catch (...) {
        auto failure = error_from_exception(std::current_exception(),
                                            flow_errc::handler_failed, "stage transform");
        input().report_failure(batch.ordinal, batch.first_seq + batch.next, failure);
        if (outs.empty())
          return failure;
        // Inputs before this one may already count as finished upstream:
        // their outputs must leave first, or they would be lost.
        failure_ = std::move(failure);
        return pull_status::more;
      }
      auto ordinal = batch.ordinal;
      if (++batch.next == items.size())
        inputs_.pop_front();
      if (end_to_end_) {
        auto first_out = this->pulling_from() + outs.size();
        if (produced.empty())
          input().finished(ordinal); // nothing to wait for
        else
          open_.push_back(open_input{first_out, static_cast<uint32_t>(produced.size()),
                                     static_cast<uint32_t>(produced.size()), ordinal});
      }
      size_t fit = std::min(produced.size(), n - outs.size());
      for (size_t i = 0; i < fit; ++i)
        outs.push_back(std::move(produced[i]));
      if (fit < produced.size()) {
        for (size_t i = fit; i < produced.size(); ++i)
          leftover_.push_back(std::move(produced[i]));
        leftover_ordinal_ = ordinal; // finished once its leftovers are out
      } else {
        emitted(ordinal);
      }
    }
    bool drained = inputs_.empty() && leftover_.empty();
    if (drained && input().upstream_ended())
      return pull_status::done;
    return outs.empty() ? pull_status::wait : pull_status::more;
  }

  void on_upstream_replaced() override {
    // The next incarnation of upstream sends these inputs again.
    inputs_.clear();
    leftover_.clear();
    leftover_ordinal_ = 0;
    open_.clear();
  }

  /// Every output of an input left.
  void emitted(uint64_t ordinal) {
    if (!end_to_end_)
      input().finished(ordinal);
  }

  void on_acknowledged(seq_t first, uint32_t n) override {
    if (!end_to_end_ || open_.empty())
      return;
    auto last = first + n; // exclusive
    // The first open input whose outputs end after `first`.
    auto i =
      std::upper_bound(open_.begin(), open_.end(), first,
                       [](seq_t s, const open_input& x) { return s < x.first_out + x.count; });
    for (; i != open_.end() && i->first_out < last; ++i) {
      auto lo = std::max(first, i->first_out);
      auto hi = std::min(last, i->first_out + i->count);
      auto done = static_cast<uint32_t>(hi - lo);
      i->left -= std::min(done, i->left);
      if (i->left == 0)
        input().finished(i->ordinal);
    }
    while (!open_.empty() && open_.front().left == 0)
      open_.pop_front();
  }

  bool end_to_end_;
  transform_fn<In, Out> fn_;
  std::deque<input_batch> inputs_;
  std::deque<Out> leftover_;
  uint64_t leftover_ordinal_ = 0;
  std::deque<open_input> open_;
  /// A transform failed after some outputs of this pull were made.
  caf::error failure_;
};

} // namespace detail

/// Spawns a stage subscribed to `upstream` (a handle or a name to look
/// up), through `where`.
template <class In, class Out, class Spawner, class Fn>
caf::expected<caf::actor> spawn_stage(Spawner& where, upstream_ref upstream, stage_config cfg,
                                      Fn fn) {
  if (auto err = cfg.validate())
    return err;
  if (!upstream.valid())
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
  return where.template spawn<detail::stage_actor<In, Out>>(
    std::move(upstream), std::move(cfg), std::move(transform));
}

} // namespace troupe::actors
