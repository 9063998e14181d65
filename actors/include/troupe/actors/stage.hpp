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
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/make_message.hpp>

#include "troupe/actors/consumer.hpp"
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
class stage_actor final : public caf::event_based_actor,
                          private inbound_owner,
                          private outbound_owner {
public:
  stage_actor(caf::actor_config& cfg, caf::actor upstream, stage_config scfg,
              transform_fn<In, Out> fn)
    : caf::event_based_actor(cfg),
      upstream_(std::move(upstream)),
      fn_(std::move(fn)),
      in_(this, this, scfg.capacity),
      out_(this, this, {scfg.batch_size, scfg.no_consumer_grace}) {
    // nop
  }

  caf::behavior make_behavior() override {
    set_down_handler([this](caf::down_msg& dm) {
      if (!out_.on_down(dm))
        in_.on_down(dm);
    });
    in_.subscribe(upstream_);
    upstream_ = nullptr;
    return caf::message_handler{
      [this](flow_item_atom, seq_t, const In&) { on_input(1); },
      [this](flow_batch_atom, seq_t, const std::vector<In>& items) {
        on_input(items.size());
      }}
      .or_else(out_.handlers())
      .or_else(in_.handlers())
      .or_else(
      [this](flow_stats_atom) { return with_inbound(out_.stats(), in_); });
  }

private:
  struct input_batch {
    caf::message msg;
    caf::span<const In> items; // inside `msg`
    size_t next;               // index of the next untransformed item
    uint64_t ordinal;
  };

  void on_input(size_t count) {
    if (in_.upstream_ended() || count == 0)
      return; // cancelled or upstream gone: it redelivers elsewhere
    auto ordinal = in_.received(static_cast<uint32_t>(count));
    auto msg = current_mailbox_element()->move_content_to_message();
    auto items = items_of<In>(msg);
    inputs_.push_back(input_batch{std::move(msg), items, 0, ordinal});
    out_.resume();
  }

  pulled_batch pull(size_t n, seq_t first_seq) override {
    pulled_batch result;
    std::vector<Out> outs;
    outs.reserve(n);
    // Leftovers of an input whose outputs did not all fit last time.
    while (outs.size() < n && !leftover_.empty()) {
      outs.push_back(std::move(leftover_.front()));
      leftover_.pop_front();
    }
    if (leftover_.empty() && leftover_ordinal_ != 0) {
      in_.finished(leftover_ordinal_);
      leftover_ordinal_ = 0;
    }
    while (outs.size() < n && leftover_.empty() && !inputs_.empty()) {
      auto& batch = inputs_.front();
      auto items = batch.items;
      std::vector<Out> produced;
      try {
        fn_(items[batch.next], produced);
      } catch (...) {
        result.status = pulled_batch::failed;
        result.error = error_from_exception(std::current_exception(),
                                            flow_errc::handler_failed, "stage transform");
        return result;
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
        in_.finished(ordinal);
      }
    }
    result.count = outs.size();
    if (!outs.empty())
      result.items = make_batch(first_seq, std::move(outs));
    bool drained = inputs_.empty() && leftover_.empty();
    if (drained && in_.upstream_ended())
      result.status = pulled_batch::done;
    else if (result.count > 0)
      result.status = pulled_batch::more;
    else
      result.status = pulled_batch::wait;
    return result;
  }

  caf::message slice(const caf::message& batch, size_t offset, size_t n) override {
    return slice_batch<Out>(batch, offset, n);
  }

  void on_inbound_finished(const caf::error& err) override {
    if (err && err != flow_errc::cancelled) {
      out_.fail(err); // errors flow downstream at once
      return;
    }
    upstream_done_ = true;
    out_.resume(); // lets the source report `done`
  }

  void on_outbound_finished(const caf::error& err) override {
    if (err == flow_errc::cancelled) {
      in_.cancel(); // all our consumers left: cancellation flows upstream
      quit();
      return;
    }
    if (!err)
      quit();
    else
      quit(err);
  }

  caf::actor upstream_;
  transform_fn<In, Out> fn_;
  inbound in_;
  outbound out_;
  std::deque<input_batch> inputs_;
  std::deque<Out> leftover_;
  uint64_t leftover_ordinal_ = 0;
  bool upstream_done_ = false;
};

} // namespace detail

/// Spawns a stage subscribed to `upstream`, through `where`.
template <class In, class Out, class Spawner, class Fn>
caf::expected<caf::actor> spawn_stage(Spawner& where, caf::actor upstream,
                                      stage_config cfg, Fn fn) {
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
