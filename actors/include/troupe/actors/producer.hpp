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

#include <cstdint>
#include <exception>
#include <functional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/make_message.hpp>
#include <caf/timespan.hpp>

#include "troupe/actors/credit.hpp"
#include "troupe/actors/detail/batch.hpp"
#include "troupe/actors/detail/outbound.hpp"
#include "troupe/actors/flow_errc.hpp"
#include "troupe/actors/flow_stats.hpp"

namespace troupe::actors {

/// What a source reports each time it is pulled.
enum class pull_status : uint8_t {
  /// Items were appended (or none yet); call again while there is demand.
  more,
  /// No more items after the ones appended now.
  done,
  /// Nothing now; the producer waits for `flow_resume_atom`. No polling.
  wait,
};

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
  /// supervisor time to restart a consumer. Default 0: fail at once.
  caf::timespan no_consumer_grace{0};

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

namespace detail {

/// Turns an exception escaping user code into a typed error.
caf::error error_from_exception(std::exception_ptr ep, flow_errc code,
                                const std::string& where);

template <class T>
class producer_actor final : public caf::event_based_actor, private outbound_owner {
public:
  producer_actor(caf::actor_config& cfg, producer_config pcfg, source_fn<T> source)
    : caf::event_based_actor(cfg),
      source_(std::move(source)),
      out_(this, this, {pcfg.batch_size, pcfg.no_consumer_grace}) {
    // nop
  }

  caf::behavior make_behavior() override {
    set_down_handler([this](caf::down_msg& dm) { out_.on_down(dm); });
    return out_.handlers().or_else(
      [this](flow_stats_atom) { return out_.stats(); });
  }

private:
  pulled_batch pull(size_t n, seq_t first_seq) override {
    pulled_batch result;
    // One-item pulls reuse a vector: no allocation per item.
    std::vector<T> fresh;
    auto& items = n == 1 ? scratch_ : fresh;
    items.clear();
    items.reserve(n);
    try {
      auto status = source_(n, items);
      result.status = status == pull_status::more   ? pulled_batch::more
                      : status == pull_status::done ? pulled_batch::done
                                                    : pulled_batch::wait;
    } catch (...) {
      result.status = pulled_batch::failed;
      result.error = error_from_exception(std::current_exception(),
                                          flow_errc::source_failed, "source");
      return result;
    }
    result.count = items.size();
    if (result.count == 1) {
      result.items = caf::make_message(flow_item_atom::value, first_seq,
                                       std::move(items.front()));
      items.clear();
    } else if (result.count > 1) {
      result.items = make_batch(first_seq, std::move(items));
    }
    return result;
  }

  caf::message slice(const caf::message& batch, size_t offset, size_t n) override {
    return slice_batch<T>(batch, offset, n);
  }

  void on_outbound_finished(const caf::error& err) override {
    source_ = nullptr; // release what the source holds now, not at destruction
    if (!err || err == flow_errc::cancelled)
      quit();
    else
      quit(err);
  }

  source_fn<T> source_;
  std::vector<T> scratch_;
  outbound out_;
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
