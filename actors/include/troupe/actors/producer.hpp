#pragma once

/// A producer: an actor that pulls items from a source only while its
/// consumers have demand, and shares them among the consumers by demand.
///
/// The source is called with 1 <= demand <= batch size and appends at most
/// `demand` items; it is never called without demand, so a fast source is
/// slowed to the pace of its consumers and nothing piles up (backpressure,
/// not buffering). A source that has nothing right now returns
/// `pull_status::wait`; send the producer `flow_resume_atom` when it has.
///
/// Usage:
///   int64_t next = 0;
///   auto p = spawn_producer<int64_t>(sys, producer_config{},
///     [&](size_t demand, std::vector<int64_t>& out) {
///       while (out.size() < demand && next < 1000) out.push_back(next++);
///       return next < 1000 ? pull_status::more : pull_status::done;
///     });
///
/// Completion: after the source returns `done` and every item was
/// acknowledged, consumers get `done` and the producer exits normally. If the
/// source throws, consumers get `done(source_failed)` and the producer exits
/// with that error. If every consumer dies while items are unacknowledged or
/// unsent, the producer exits with `no_consumers` (after
/// `no_consumer_grace`): nothing is lost silently.
///
/// Drain: with `drain_timeout` set, an exit message (a supervisor's
/// shutdown, `request_shutdown`) does not stop the producer at once: it
/// stops pulling, waits until every item it sent is acknowledged, sends
/// `done` and exits with the exit message's reason; after `drain_timeout` it
/// gives up and exits with `drain_timeout` (the count of unacknowledged
/// items in its context).
/// `on_drained` hears the count either way.

#include <cstdint>
#include <functional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/expected.hpp>
#include <caf/system_messages.hpp>
#include <caf/timespan.hpp>

#include "troupe/actors/credit.hpp"
#include "troupe/actors/flow/flow_source.hpp"
#include "troupe/actors/flow_errc.hpp"
#include "troupe/actors/flow_stats.hpp"

namespace troupe::actors {

// `pull_status` (more, done, wait) is declared in flow/flow_output.hpp.

/// A pull source (like an async generator): appends at most `demand` items.
template <class T>
using source_fn = std::function<pull_status(size_t demand, std::vector<T>& out)>;

struct producer_config {
  /// Most items per batch message; 1 sends one message per item. Larger
  /// batches amortise messaging; the producer never sends more than a
  /// consumer's credit. Default 64.
  uint32_t batch_size = 64;
  /// How long to wait for a new consumer after the last one died with items
  /// unacknowledged or unsent, before failing with `no_consumers`. Give a
  /// supervisor time to restart a consumer. Default 0: fail at once;
  /// `caf::timespan::max()`: wait as long as the producer lives.
  caf::timespan no_consumer_grace{0};
  /// Sequence number of the first item (see `flow_output::config`).
  /// Default 1.
  seq_t first_seq = 1;
  /// An item whose handler failed this many times goes to `on_dead_letter`
  /// instead of round again. Default 0: no limit.
  uint32_t max_deliveries = 0;
  /// Gets dead letters, in the producer. Default: a warning in the log.
  std::function<void(const dead_letter&)> on_dead_letter{};
  /// Hears the committed position as it advances, in the producer (see
  /// `flow_output::config::on_commit`). Default: not tracked.
  std::function<void(seq_t committed)> on_commit{};
  /// How long a drain may take after an exit message (see above). Default
  /// 0: no drain, an exit message stops the producer at once.
  caf::timespan drain_timeout{0};
  /// Hears, once, how many items a drain left unacknowledged (0: all done).
  std::function<void(uint64_t unfinished)> on_drained{};

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

namespace detail {

using drain_timer_atom = caf::atom_constant<caf::atom("trp_fdrain")>;

template <class T>
class producer_actor final : public flow_source<T> {
public:
  producer_actor(caf::actor_config& cfg, producer_config pcfg, source_fn<T> source)
    : flow_source<T>(cfg, output_config(pcfg)),
      source_(std::move(source)),
      drain_timeout_(pcfg.drain_timeout),
      on_drained_(std::move(pcfg.on_drained)) {
    // nop
  }

  static flow_output::config output_config(producer_config& pcfg) {
    flow_output::config out;
    out.batch_size = pcfg.batch_size;
    out.no_consumer_grace = pcfg.no_consumer_grace;
    out.first_seq = pcfg.first_seq;
    out.max_deliveries = pcfg.max_deliveries;
    out.on_dead_letter = std::move(pcfg.on_dead_letter);
    out.on_commit = std::move(pcfg.on_commit);
    return out;
  }

  caf::behavior make_behavior() override {
    if (drain_timeout_.count() > 0)
      this->set_exit_handler([this](caf::exit_msg& msg) { on_exit_request(msg); });
    return flow_source<T>::make_behavior();
  }

private:
  caf::message_handler handlers() override {
    return {
      [this](drain_timer_atom) {
        if (!draining_ || this->output().finished())
          return;
        auto left = this->output().unfinished();
        report_drained(left);
        this->output().fail(caf::make_error(flow_errc::drain_timeout,
                                            std::to_string(left) + " items unfinished"));
      },
    };
  }

  void on_exit_request(caf::exit_msg& msg) {
    if (!msg.reason || msg.reason == caf::exit_reason::normal)
      return; // a linked actor finished
    if (draining_)
      return;
    draining_ = true;
    drain_reason_ = msg.reason;
    // Stop pulling; `done` and a normal exit follow once all is acknowledged.
    this->output().close();
    if (!this->output().finished())
      this->delayed_send(this, drain_timeout_, drain_timer_atom::value);
  }

  void report_drained(uint64_t unfinished) {
    if (on_drained_)
      on_drained_(unfinished);
    on_drained_ = nullptr;
  }

  caf::expected<pull_status> pull(size_t n, std::vector<T>& out) override {
    try {
      return source_(n, out);
    } catch (...) {
      return error_from_exception(std::current_exception(), flow_errc::source_failed,
                                  "source");
    }
  }

  void on_output_finished(const caf::error& err) override {
    source_ = nullptr; // release what the source holds now, not at destruction
    if (draining_ && !err) {
      report_drained(0);
      // Drained: exit with the reason we were asked to stop for, so a
      // supervisor sees a shutdown as a shutdown and a failure as one.
      this->quit(drain_reason_);
      return;
    }
    flow_source<T>::on_output_finished(err);
  }

  source_fn<T> source_;
  caf::timespan drain_timeout_;
  std::function<void(uint64_t)> on_drained_;
  bool draining_ = false;
  caf::error drain_reason_;
};

} // namespace detail

/// Spawns a producer of `T` through `where` (an `actor_system` or an actor).
/// Returns `invalid_config` if `cfg` is invalid or the source is empty.
template <class T, class Spawner>
caf::expected<caf::actor> spawn_producer(Spawner& where, producer_config cfg,
                                         source_fn<T> source) {
  if (auto err = cfg.validate())
    return err;
  if (!source)
    return caf::make_error(flow_errc::invalid_config, "producer: source is empty");
  return where.template spawn<detail::producer_actor<T>>(cfg, std::move(source));
}

} // namespace troupe::actors
