#pragma once

/// A supervised pipeline: a source, stages and consumers declared as the
/// children of one supervisor, each naming its upstream by sibling id.
///
///   pipeline p{pipeline_config{"orders"}};
///   p.source<int64_t>("source", [](seq_t committed) {
///     auto next = std::make_shared<int64_t>(committed); // resume after it
///     return [next](size_t n, std::vector<int64_t>& out) {
///       while (out.size() < n && *next < 1000) out.push_back(++*next);
///       return *next < 1000 ? pull_status::more : pull_status::done;
///     };
///   });
///   p.stage<int64_t, std::string>("format", "source", to_text, {256});
///   for (int i = 0; i < 4; ++i)
///     p.consumer<std::string>("worker-" + std::to_string(i), "format", print);
///   auto sup = spawn_supervisor(sys, p.config()); // or supervisor_child(...)
///
/// What it gives (docs/flow-control.md, "Supervised pipelines"):
/// - **Re-binding.** A member restarted by the supervisor is found again by
///   its neighbours: a consumer or stage whose upstream dies asks the
///   supervisor for the next incarnation (`upstream_ref::lookup`) and
///   subscribes to it; an upstream waits for its consumers to come back
///   (`no_consumer_grace` = forever: the supervisor bounds it).
/// - **At-least-once end to end, across restarts.** A consumer's unfinished
///   items go to the other consumers; a stage acknowledges an input only once
///   its outputs were acknowledged (`stage_config::end_to_end`), so a dead
///   stage's items come again from the source; a restarted source is handed
///   the committed position (every item up to it was processed end to end)
///   and resumes after it, numbering items on from there, so sequence
///   numbers of the source's items are stable across its restarts.
///   Duplicates are bounded by the capacities in flight at a failure.
/// - **Done is not a crash.** Members are transient and significant: a
///   finished stream ends each member normally, none is restarted, and the
///   supervisor ends once all have (`auto_shutdown::all_significant`).
/// - **Graceful drain.** A shutdown stops the source first
///   (`stop_order::start`): it stops pulling, in-flight items finish and
///   everything ends normally within `drain_timeout`; what could not finish
///   is counted in `stats().unfinished_at_shutdown`, and the committed
///   position says where a next run resumes.
/// - **Poison items.** An item whose handler failed `max_deliveries` times
///   goes to `on_dead_letter` instead of killing every consumer in turn.
///
/// Strategy: one_for_one (re-binding makes group restarts unnecessary).
/// Give a stage a capacity of at least its consumers' total capacity, or it
/// caps them.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/timespan.hpp>

#include <troupe/actors/backoff.hpp>
#include <troupe/actors/consumer.hpp>
#include <troupe/actors/flow/dead_letter.hpp>
#include <troupe/actors/flow/upstream_ref.hpp>
#include <troupe/actors/producer.hpp>
#include <troupe/actors/stage.hpp>

#include "troupe/supervisors/child_spec.hpp"
#include "troupe/supervisors/restart_intensity.hpp"
#include "troupe/supervisors/supervisor_config.hpp"

namespace troupe::supervisors {

struct pipeline_config {
  /// The supervisor's name (its path and logger). Default "pipeline".
  std::string name = "pipeline";
  /// Restarts allowed before the pipeline gives up (and escalates).
  /// Default 10 in 1 s.
  restart_intensity intensity{10, std::chrono::seconds{1}};
  /// Delay before each restart of a member. Default none.
  actors::backoff restart_backoff = actors::backoff::none();
  /// An item whose handler failed this many times becomes a dead letter.
  /// 0: no limit. Default 3.
  uint32_t max_deliveries = 3;
  /// How long a shutdown lets in-flight items finish. Default 5 s.
  caf::timespan drain_timeout = std::chrono::seconds{5};
  /// How long each member after the source may take to stop once the
  /// source drained (they have nothing left by then). Default 1 s.
  caf::timespan stop_timeout = std::chrono::seconds{1};
  /// Gets every dead letter with the id of the member that gave it up (the
  /// upstream of the failing handlers). Runs in that member: make it
  /// thread-safe if it shares state. Default: a warning in the log.
  std::function<void(const std::string& member, const actors::dead_letter&)> on_dead_letter{};
};

/// Counters of a pipeline over every incarnation of its members.
struct pipeline_stats {
  /// The first source's committed position: every item up to it was
  /// processed end to end (or dead-lettered).
  actors::seq_t committed = 0;
  /// Items given to `on_dead_letter`.
  uint64_t dead_letters = 0;
  /// Drains that ended (each source's, at each shutdown).
  uint64_t drains = 0;
  /// Items the last drain left unacknowledged (0: everything finished).
  uint64_t unfinished_at_shutdown = 0;
};

namespace detail {

/// What every incarnation of every member shares; atomics, because the
/// members run on any scheduler thread and `stats()` reads from anywhere.
struct pipeline_state {
  std::map<std::string, std::shared_ptr<std::atomic<actors::seq_t>>> committed;
  std::string first_source;
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> drains{0};
  std::atomic<uint64_t> unfinished_at_shutdown{0};
};

} // namespace detail

class pipeline {
public:
  explicit pipeline(pipeline_config cfg = {});

  /// Adds a source of `T`. `make_source(committed)` is called at every
  /// (re)start with the committed position (0 at first) and returns the
  /// pull function for the items after it: the first item it appends gets
  /// sequence number `committed + 1`.
  template <class T, class Factory>
  pipeline& source(std::string id, Factory make_source, actors::producer_config cfg = {}) {
    auto position = std::make_shared<std::atomic<actors::seq_t>>(0);
    state_->committed.emplace(id, position);
    if (state_->first_source.empty())
      state_->first_source = id;
    auto state = state_;
    cfg.no_consumer_grace = caf::timespan::max();
    cfg.max_deliveries = cfg_.max_deliveries;
    cfg.drain_timeout = cfg_.drain_timeout;
    cfg.on_commit = [position](actors::seq_t at) { position->store(at); };
    cfg.on_dead_letter = dead_letter_handler(id);
    cfg.on_drained = [state](uint64_t unfinished) {
      state->unfinished_at_shutdown.store(unfinished);
      ++state->drains;
    };
    auto start = [cfg, position,
                  make_source](const start_context& ctx) mutable -> caf::expected<caf::actor> {
      auto committed = position->load();
      auto pcfg = cfg;
      pcfg.first_seq = committed + 1;
      return actors::spawn_producer<T>(ctx.system, std::move(pcfg),
                                       actors::source_fn<T>{make_source(committed)});
    };
    add(std::move(id), std::move(start), cfg_.drain_timeout + cfg_.stop_timeout);
    return *this;
  }

  /// Adds a stage from `In` to `Out` that consumes sibling `upstream`
  /// (`fn` as for `spawn_stage`). It acknowledges end to end.
  template <class In, class Out, class Fn>
  pipeline& stage(std::string id, std::string upstream, Fn fn, actors::stage_config cfg = {}) {
    cfg.no_consumer_grace = caf::timespan::max();
    cfg.end_to_end = true;
    cfg.max_deliveries = cfg_.max_deliveries;
    cfg.on_dead_letter = dead_letter_handler(id);
    auto start = [cfg, upstream, fn](const start_context& ctx) -> caf::expected<caf::actor> {
      return actors::spawn_stage<In, Out>(
        ctx.system, actors::upstream_ref::lookup(ctx.parent, upstream), cfg, fn);
    };
    add(std::move(id), std::move(start), cfg_.stop_timeout);
    return *this;
  }

  /// Adds a consumer of `T` on sibling `upstream` (`handler` as for
  /// `spawn_consumer`).
  template <class T, class Handler>
  pipeline& consumer(std::string id, std::string upstream, Handler handler,
                     actors::consumer_config cfg = {}) {
    auto start = [cfg, upstream,
                  handler](const start_context& ctx) -> caf::expected<caf::actor> {
      return actors::spawn_consumer<T>(
        ctx.system, actors::upstream_ref::lookup(ctx.parent, upstream), cfg, handler);
    };
    add(std::move(id), std::move(start), cfg_.stop_timeout);
    return *this;
  }

  /// The supervisor that runs the pipeline: its members in declaration
  /// order (declare each upstream before its consumers), one_for_one,
  /// stopped from the source, ending once every member ended.
  supervisor_config config() const;

  /// The counters, readable from any thread while it runs and after.
  pipeline_stats stats() const;

  /// The committed position of source `id` (0 for an unknown id).
  actors::seq_t committed(const std::string& id) const;

private:
  void add(std::string id, start_function start, caf::timespan stop_timeout);

  std::function<void(const actors::dead_letter&)> dead_letter_handler(const std::string& id);

  pipeline_config cfg_;
  std::shared_ptr<detail::pipeline_state> state_;
  std::vector<child_spec> members_;
};

} // namespace troupe::supervisors
