#pragma once

/// `flow_actor`: the base of every flow actor (producer, consumer, stage,
/// fetcher, remote-stream importer and export session). It is the one place
/// that knows how a flow actor lives; docs/flow-control.md, "Writing a flow
/// actor", walks through a subclass.
///
/// A flow actor has an input side (`flow_input`: it consumes an upstream),
/// an output side (`flow_output`: consumers subscribe to it), or both. The
/// base owns what every flow actor does the same way:
///
/// - at start, it subscribes to the upstream and lets go of its own handle;
/// - its behavior is the item handlers, the credit protocol of both sides,
///   the subclass's `handlers()`, and `(flow_stats_atom)` → `stats()`;
/// - down messages of the upstream and of consumers go to their side;
/// - finishing: `on_input_finished` and `on_output_finished` (below) have
///   the defaults every local flow actor uses, so cancellation flows
///   upstream and errors flow downstream without code in the subclass.
///
/// Most flow actors derive from a typed base instead of this one:
/// `flow_source<Out>` (output only), `flow_sink<In>` (input only) or
/// `flow_stage<In, Out>` (both). They match the item messages and build the
/// batches. Derive from `flow_actor` itself only when the item type is known
/// at run time (the transport's remote-stream actors do): then override
/// `input_handlers()` and/or `pull_batch()` and `slice()`, with the helpers
/// of `flow/batch.hpp`.
///
/// Thread safety: like any actor, every member runs in the actor.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>
#include <caf/message_handler.hpp>

#include "troupe/actors/credit.hpp"
#include "troupe/actors/flow/batch.hpp"
#include "troupe/actors/flow/flow_input.hpp"
#include "troupe/actors/flow/flow_output.hpp"
#include "troupe/actors/flow_errc.hpp"
#include "troupe/actors/flow_stats.hpp"

namespace troupe::actors {

/// An exception that carries a typed error. A source, a handler, a stage's
/// transform or a blocking job that throws it fails with that error as it
/// is, where any other exception becomes `source_failed`,
/// `handler_failed`, ...: the code survives for whoever handles the
/// failure (a retry policy, a caller across the wire).
class typed_failure : public std::exception {
public:
  explicit typed_failure(caf::error err);

  const caf::error& error() const noexcept {
    return err_;
  }

  const char* what() const noexcept override {
    return what_.c_str();
  }

private:
  caf::error err_;
  std::string what_;
};

/// Turns an exception escaping user code into a typed error: a
/// `typed_failure`'s own error, else `code` with "<where> threw: <what()>".
caf::error error_from_exception(std::exception_ptr ep, flow_errc code,
                                const std::string& where);

class flow_actor : public caf::event_based_actor {
public:
  /// Subscribes the input side and returns the flow behavior (see above).
  /// A subclass that must run code when it starts overrides this and calls
  /// it first.
  caf::behavior make_behavior() override;

protected:
  /// Output only (a source): `out` configures the output side.
  flow_actor(caf::actor_config& cfg, flow_output::config out);

  /// Input only (a sink): subscribes to `upstream` (a handle, or a name
  /// to look up: `upstream_ref`) with `capacity` credits when it starts.
  flow_actor(caf::actor_config& cfg, upstream_ref upstream, uint32_t capacity);

  /// Both (a stage).
  flow_actor(caf::actor_config& cfg, upstream_ref upstream, uint32_t capacity,
             flow_output::config out);

  // -- the two sides ----------------------------------------------------------

  /// The input side; only for an actor constructed with an upstream.
  flow_input& input() noexcept {
    return *in_;
  }
  const flow_input& input() const noexcept {
    return *in_;
  }

  /// The output side; only for an actor constructed with an output config.
  flow_output& output() noexcept {
    return *out_;
  }
  const flow_output& output() const noexcept {
    return *out_;
  }

  /// Records a received batch of `count` items on the input side and
  /// returns its ordinal (for `input().finished(ordinal, n)`), or 0 when
  /// the batch must be ignored: it is empty, the input ended (we cancelled
  /// or upstream is gone, and upstream redelivers it elsewhere), or it is
  /// not from the current upstream.
  uint64_t accept(size_t count) {
    if (count == 0 || in_->upstream_ended() || !from_upstream())
      return 0;
    return in_->received(static_cast<uint32_t>(count));
  }

  /// True if the message being handled comes from the current upstream
  /// (not a stranger, not an incarnation that was replaced).
  bool from_upstream();

  /// The message of the batch being handled (call it from the item
  /// handler, e.g. `on_input`): keep it to keep its items alive after the
  /// handler returns. Moves it out of the mailbox: call it once. Take the
  /// items to keep from it (`items_of`), not from the handler's span: a
  /// one-item batch sent as values lives in the mailbox element, and this
  /// moves it into a new message.
  caf::message current_batch();

  /// "troupe.flow": monitoring (the observability endpoint) asks actors of
  /// this name for their `flow_stats`.
  const char* name() const override;

  /// The counters of both sides (what `flow_stats_atom` answers).
  flow_stats stats() const;

  // -- hooks ------------------------------------------------------------------

  /// The subclass's own messages, tried after the flow protocol's.
  virtual caf::message_handler handlers();

  /// Handlers for the item messages of the input side; each calls `accept`
  /// first. `flow_sink` and `flow_stage` implement it.
  virtual caf::message_handler input_handlers();

  /// Pulls at most `n` (>= 1) items for the output side, numbered from
  /// `first_seq`. Called only while a consumer has credit. `flow_source`
  /// and `flow_stage` implement it.
  virtual pulled_batch pull_batch(size_t n, seq_t first_seq);

  /// Copies items [offset, offset + n) of a batch built by `pull_batch`
  /// into a new batch (to redeliver part of it to a consumer with less
  /// credit): `slice_batch<Out>`. `flow_source` and `flow_stage` implement it.
  virtual caf::message slice(const caf::message& batch, size_t offset, size_t n);

  /// Sends `item`, a `pulled_batch::single` of this actor, to `to` as a
  /// batch of one numbered `seq`. Called only for an actor whose
  /// `pull_batch` fills `single`: `flow_source` implements it.
  virtual void send_single(const caf::actor& to, seq_t seq, const single_item& item);

  /// `item` (a `pulled_batch::single`) as a batch message of one.
  virtual caf::message single_batch(seq_t seq, const single_item& item);

  /// A consumer acknowledged items [first_seq, first_seq + n): once per
  /// item, in any order (out-of-order finishes come as they are told).
  /// Default: nothing.
  virtual void on_acknowledged(seq_t first_seq, uint32_t n);

  /// The input side is finished: upstream sent `done` (`err` empty) or
  /// failed, or we cancelled (`flow_errc::cancelled`), and every received
  /// item was finished. Called once. Default: with an output side, an error
  /// fails the output at once (errors flow downstream) and otherwise the
  /// output is resumed, so `pull` can report `done`; without one, the actor
  /// quits, normally on success or cancellation.
  virtual void on_input_finished(const caf::error& err);

  /// The output side is finished: every item was acknowledged and `done`
  /// went out (`err` empty), every consumer cancelled
  /// (`flow_errc::cancelled`), or it failed. Called once. Default: on
  /// cancellation, cancel the input (cancellation flows upstream) and quit
  /// normally; otherwise quit with `err`.
  virtual void on_output_finished(const caf::error& err);

  /// A looked-up upstream died and the input is about to subscribe to its
  /// next incarnation (`upstream_ref`). Everything received from the old
  /// one and not finished will come again through the new one: drop it
  /// here to keep duplicates and memory down. Default: nothing.
  virtual void on_upstream_replaced();

  /// A down message that is neither from the upstream nor from a consumer
  /// (the base owns the down handler). Default: nothing.
  virtual void on_down(const caf::down_msg& dm);

private:
  friend class flow_input;
  friend class flow_output;

  /// Quits normally on success or cancellation, with `err` otherwise.
  void quit_with(const caf::error& err);

  /// Held until `make_behavior` subscribes: then only `in_` holds it.
  upstream_ref upstream_;
  std::optional<flow_input> in_;
  std::optional<flow_output> out_;
};

} // namespace troupe::actors
