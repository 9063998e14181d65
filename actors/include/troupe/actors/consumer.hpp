#pragma once

/// A consumer: an actor that handles the items of one producer (or stage)
/// while holding at most `capacity` unprocessed items.
///
/// Handlers (the form is detected from the callable):
/// - `void(const T& item)` or `void(const T& item, seq_t seq)`: handles one
///   item; the item counts as processed when the call returns.
/// - `void(caf::span<const T> items, seq_t first_seq)`: handles a whole
///   batch at once (items[i] has sequence number first_seq + i); the batch
///   counts as processed when the call returns. Cheapest per item.
/// - `void(const T& item, seq_t seq, item_done done)`: starts asynchronous
///   work and calls `done()` (or `done(error)`) later, from any thread; up to
///   `concurrency` items are in flight at once.
///
/// Sequence numbers are unique per producer. Items are delivered at least
/// once: after another consumer of the same producer dies, its
/// unacknowledged items come again, with their original numbers.
///
/// A handler that throws (or calls `done` with an error) makes the consumer
/// exit with `handler_failed`; its unacknowledged items go to the other
/// consumers. Before it exits, it reports the item to upstream, which
/// dead-letters an item that failed `max_deliveries` handlers (a batch
/// handler's failure names no item: none is reported).
///
/// `upstream` is a handle or a name to look up (`upstream_ref`): a
/// looked-up upstream that dies is replaced, and the consumer subscribes to
/// the next incarnation instead of ending. When upstream finishes, `on_done(error)` runs (if
/// given) and the consumer exits, normally on success, with the upstream's error otherwise.
/// Send it `flow_cancel_atom` to stop consuming: cancellation flows upstream, and its
/// unfinished items go to the other consumers.

#include <cstdint>
#include <deque>
#include <functional>
#include <type_traits>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/send.hpp>
#include <caf/span.hpp>

#include "troupe/actors/credit.hpp"
#include "troupe/actors/flow/flow_sink.hpp"
#include "troupe/actors/flow_errc.hpp"
#include "troupe/actors/flow_stats.hpp"

namespace troupe::actors {

struct consumer_config {
  /// Most unprocessed items held by or in flight to this consumer. The bound
  /// holds at every moment, redeliveries included. Default 64.
  uint32_t capacity = 64;
  /// Items an asynchronous handler works on at once. Must be 1 for plain
  /// handlers and <= capacity. Default 1.
  uint32_t concurrency = 1;

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

using item_done_atom = caf::atom_constant<caf::atom("trp_fitemd")>;

/// Finishes one item of an asynchronous handler. Call it once, from any
/// thread; a copy that is never called leaves the item in flight.
///
/// It also keeps the item alive: the `const T&` the handler got stays
/// valid, unchanged, for as long as a copy of its `item_done` lives, so the
/// work may read it from another thread without copying it (a large item,
/// e.g. a chunk of a file). The items are shared and immutable once sent.
class item_done {
public:
  item_done(caf::actor consumer, uint64_t ordinal, seq_t seq, caf::message keep = {})
    : consumer_(std::move(consumer)), ordinal_(ordinal), seq_(seq), keep_(std::move(keep)) {}

  void operator()(caf::error err = caf::error{}) const {
    caf::anon_send(consumer_, item_done_atom::value, ordinal_, seq_, std::move(err));
  }

private:
  caf::actor consumer_;
  uint64_t ordinal_;
  seq_t seq_;
  /// The batch that holds the item.
  caf::message keep_;
};

namespace detail {

template <class T>
using item_handler = std::function<void(const T&, seq_t)>;

template <class T>
using async_item_handler = std::function<void(const T&, seq_t, item_done)>;

template <class T>
using batch_handler = std::function<void(caf::span<const T>, seq_t)>;

/// The handler of a consumer, in exactly one of its forms.
template <class T>
struct consumer_handlers {
  item_handler<T> item;
  batch_handler<T> batch;
  async_item_handler<T> async;
};

template <class T>
class consumer_actor final : public flow_sink<T> {
public:
  consumer_actor(caf::actor_config& cfg, upstream_ref upstream, consumer_config ccfg,
                 consumer_handlers<T> handlers, std::function<void(const caf::error&)> on_done)
    : flow_sink<T>(cfg, std::move(upstream), ccfg.capacity),
      concurrency_(ccfg.concurrency),
      sync_(std::move(handlers.item)),
      batch_(std::move(handlers.batch)),
      async_(std::move(handlers.async)),
      on_done_(std::move(on_done)) {
    // nop
  }

private:
  using flow_sink<T>::input;

  struct pending_item {
    caf::message batch; // keeps the item alive
    const T* item;
    seq_t seq;
    uint64_t ordinal;
  };

  caf::message_handler handlers() override {
    return {
      [this](item_done_atom, uint64_t ordinal, seq_t seq, caf::error& err) {
        --in_flight_;
        if (err) {
          auto failure =
            caf::make_error(flow_errc::handler_failed, this->system().render(err), seq);
          input().report_failure(ordinal, seq, failure);
          fail(std::move(failure));
          return;
        }
        input().finished(ordinal);
        start_pending();
      },
      [this](flow_cancel_atom) { input().cancel(); },
    };
  }

  void on_input(caf::span<const T> items, seq_t first_seq, uint64_t ordinal) override {
    if (batch_) {
      try {
        batch_(items, first_seq);
      } catch (...) {
        fail(error_from_exception(std::current_exception(), flow_errc::handler_failed,
                                  "batch handler at seq " + std::to_string(first_seq)));
        return;
      }
      input().finished(ordinal, items.size());
      return;
    }
    if (sync_) {
      for (size_t i = 0; i < items.size(); ++i) {
        try {
          sync_(items[i], first_seq + i);
        } catch (...) {
          auto failure =
            error_from_exception(std::current_exception(), flow_errc::handler_failed,
                                 "handler at seq " + std::to_string(first_seq + i));
          input().report_failure(ordinal, first_seq + i, failure);
          fail(std::move(failure));
          return;
        }
      }
      input().finished(ordinal, items.size());
      return;
    }
    // The items must live in the message we keep: a one-item batch sent as
    // values sits in the mailbox element itself, and `current_batch` moves
    // it into a new message (`items` would dangle once the element is
    // gone). Take them from the kept message.
    auto batch = this->current_batch();
    auto kept = items_of<T>(batch);
    for (size_t i = 0; i < kept.size(); ++i)
      pending_.push_back(pending_item{batch, &kept[i], first_seq + i, ordinal});
    start_pending();
  }

  void on_upstream_replaced() override {
    // Not started yet: the next incarnation of upstream sends them again.
    pending_.clear();
  }

  void start_pending() {
    auto self = caf::actor_cast<caf::actor>(this);
    while (in_flight_ < concurrency_ && !pending_.empty() && !failed_) {
      auto p = std::move(pending_.front());
      pending_.pop_front();
      auto seq = p.seq;
      ++in_flight_;
      try {
        async_(*p.item, seq, item_done{self, p.ordinal, seq, std::move(p.batch)});
      } catch (...) {
        auto failure =
          error_from_exception(std::current_exception(), flow_errc::handler_failed,
                               "handler at seq " + std::to_string(seq));
        input().report_failure(p.ordinal, seq, failure);
        fail(std::move(failure));
        return;
      }
    }
  }

  void fail(caf::error err) {
    failed_ = true;
    pending_.clear();
    if (on_done_)
      on_done_(err);
    on_done_ = nullptr;
    this->quit(std::move(err));
  }

  void on_input_finished(const caf::error& err) override {
    if (failed_)
      return;
    if (on_done_)
      on_done_(err);
    on_done_ = nullptr;
    flow_sink<T>::on_input_finished(err); // quits
  }

  uint32_t concurrency_;
  item_handler<T> sync_;
  batch_handler<T> batch_;
  async_item_handler<T> async_;
  std::function<void(const caf::error&)> on_done_;
  std::deque<pending_item> pending_;
  uint32_t in_flight_ = 0;
  bool failed_ = false;
};

} // namespace detail

/// Spawns a consumer of `T` that subscribes to `upstream` (a producer or a
/// stage, or a name to look up), through `where` (an `actor_system` or an
/// actor). Returns `invalid_config` for a bad config or a handler that fits
/// no form.
template <class T, class Spawner, class Handler>
caf::expected<caf::actor> spawn_consumer(Spawner& where, upstream_ref upstream,
                                         consumer_config cfg, Handler handler,
                                         std::function<void(const caf::error&)> on_done = {}) {
  if (auto err = cfg.validate())
    return err;
  if (!upstream.valid())
    return caf::make_error(flow_errc::invalid_config, "consumer: upstream is invalid");
  detail::consumer_handlers<T> hs;
  if constexpr (std::is_invocable_v<Handler&, const T&, seq_t, item_done>) {
    hs.async = std::move(handler);
  } else if constexpr (std::is_invocable_v<Handler&, caf::span<const T>, seq_t>) {
    hs.batch = std::move(handler);
  } else if constexpr (std::is_invocable_v<Handler&, const T&, seq_t>) {
    hs.item = std::move(handler);
  } else {
    static_assert(std::is_invocable_v<Handler&, const T&>,
                  "a consumer handler takes (const T&), (const T&, seq_t), "
                  "(caf::span<const T>, seq_t) or (const T&, seq_t, item_done)");
    hs.item = [h = std::move(handler)](const T& x, seq_t) mutable { h(x); };
  }
  if (!hs.async && cfg.concurrency != 1)
    return caf::make_error(flow_errc::invalid_config,
                           "consumer_config: concurrency > 1 needs an asynchronous "
                           "handler (const T&, seq_t, item_done)");
  return where.template spawn<detail::consumer_actor<T>>(std::move(upstream), cfg,
                                                         std::move(hs), std::move(on_done));
}

} // namespace troupe::actors
