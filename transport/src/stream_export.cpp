// The exporting side of a remote stream: the hub `export_stream` publishes,
// and one export session per importer. Neither is a template: a session
// sees its items only as local batch messages, which the stream's codec
// (`detail::typed_stream_codec<T>`) matches and encodes.

#include <algorithm>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/send.hpp>

#include <troupe/actors/flow/flow_actor.hpp>
#include <troupe/flow.pb.h>
#include <troupe/messages/error_category.hpp>

#include "troupe/transport/node.hpp"
#include "troupe/transport/remote_stream.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"

namespace troupe::transport::internal {

namespace {

using actors::flow_actor;
using detail::stream_codec_ptr;

using poll_atom = caf::atom_constant<caf::atom("trp_spoll")>;
using idle_atom = caf::atom_constant<caf::atom("trp_sidle")>;

/// One importer's stream on the exporting node: a consumer of the producer
/// (a flow actor with an input side only) that answers Pulls.
class export_session final : public flow_actor {
public:
  export_session(caf::actor_config& cfg, actors::upstream_ref producer, uint64_t stream_id,
                 uint32_t capacity, stream_export_config ecfg, stream_codec_ptr codec)
    : flow_actor(cfg, std::move(producer), capacity),
      stream_id_(stream_id),
      cfg_(ecfg),
      codec_(std::move(codec)) {
    // nop
  }

  caf::behavior make_behavior() override {
    auto result = flow_actor::make_behavior();
    last_pull_ = clock().now();
    delayed_send(this, cfg_.idle_timeout, idle_atom::value);
    return result;
  }

private:
  struct held_pull {
    caf::response_promise promise;
    uint64_t id;
  };

  struct input_batch {
    caf::message msg;
    size_t count;
    size_t next;
    uint64_t ordinal;
  };

  /// Sent, not yet acknowledged, oldest first: runs of consecutive stream
  /// numbers from one input batch, so acknowledging costs per run.
  struct unacked_run {
    uint64_t last;    ///< Stream number of the run's last item.
    uint64_t ordinal; ///< The input batch (`flow_input` ordinal).
    uint32_t count;   ///< Items of the run not yet acknowledged.
  };

  caf::message_handler input_handlers() override {
    return codec_->input_handlers([this](size_t count) { on_input(count); });
  }

  caf::message_handler handlers() override {
    return {
      [this](const troupe::flow::Pull& pull) -> caf::result<troupe::flow::Batch> {
        if (pull.acked_through() >= next_seq_)
          return caf::make_error(transport_errc::stream_conflict, stream_id_,
                                 "acknowledges item " + std::to_string(pull.acked_through())
                                   + " but only " + std::to_string(next_seq_ - 1)
                                   + " were sent");
        on_pull(pull);
        return caf::delegated<troupe::flow::Batch>();
      },
      [this](poll_atom, uint64_t id) {
        // Answer the held Pull empty: the importer sees we are alive.
        if (!held_.empty() && held_.front().id == id)
          answer_front();
      },
      [this](idle_atom) {
        auto silent = clock().now() - last_pull_;
        if (silent >= cfg_.idle_timeout)
          quit(caf::make_error(transport_errc::peer_timeout, "stream importer sent no Pull"));
        else
          delayed_send(this, cfg_.idle_timeout - silent, idle_atom::value);
      },
    };
  }

  void on_upstream_replaced() override {
    // Not sent yet: the next incarnation of the producer sends them again.
    // (Sent and unacknowledged runs stay; their acknowledgements are for
    // the old incarnation and are ignored.)
    inputs_.clear();
  }

  void on_input(size_t count) {
    auto ordinal = accept(count);
    if (ordinal == 0)
      return;
    inputs_.push_back(input_batch{current_batch(), count, 0, ordinal});
    serve();
  }

  void on_pull(const troupe::flow::Pull& pull) {
    last_pull_ = clock().now();
    // Acknowledged items are done: their credit goes back to the producer.
    while (!unacked_.empty()) {
      auto& run = unacked_.front();
      auto first = run.last - run.count + 1;
      if (first > pull.acked_through())
        break;
      auto acked = std::min<uint64_t>(run.last, pull.acked_through()) - first + 1;
      input().finished(run.ordinal, acked);
      run.count -= static_cast<uint32_t>(acked);
      if (run.count == 0)
        unacked_.pop_front();
    }
    credit_ += pull.credit();
    // Only the newest Pull may wait; older ones are answered now, so the
    // importer always has a free Pull to acknowledge with.
    while (!held_.empty())
      answer_front();
    held_.push_back(held_pull{make_response_promise(), next_pull_id_++});
    serve();
    if (!held_.empty())
      delayed_send(this, cfg_.poll_interval, poll_atom::value, held_.front().id);
  }

  /// Answers held Pulls while there is something to say.
  void serve() {
    while (!held_.empty()) {
      bool has_items = credit_ > 0 && !inputs_.empty();
      bool ended = input().upstream_ended() && inputs_.empty();
      if (!has_items && !ended)
        return;
      answer_front();
    }
  }

  void answer_front() {
    auto pull = std::move(held_.front());
    held_.pop_front();
    troupe::flow::Batch batch;
    batch.set_stream_id(stream_id_);
    batch.set_first_seq(next_seq_);
    batch.set_item_type(codec_->item_type());
    uint32_t count = 0;
    auto* items = batch.mutable_items();
    // Small items: a few bytes each; one reservation avoids regrowing.
    items->reserve(std::min<uint64_t>(credit_, cfg_.max_batch) * 8);
    while (credit_ > 0 && !inputs_.empty() && count < cfg_.max_batch) {
      auto& in = inputs_.front();
      auto n = std::min<uint64_t>({credit_, cfg_.max_batch - count, in.count - in.next});
      codec_->encode(in.msg, in.next, n, *items);
      unacked_.push_back(unacked_run{next_seq_ + n - 1, in.ordinal, static_cast<uint32_t>(n)});
      next_seq_ += n;
      credit_ -= n;
      count += static_cast<uint32_t>(n);
      in.next += n;
      if (in.next == in.count)
        inputs_.pop_front();
    }
    batch.set_count(count);
    if (input().upstream_ended() && inputs_.empty()) {
      batch.set_done(true);
      done_sent_ = true;
      if (auto& err = input().upstream_error(); err && err != actors::flow_errc::cancelled)
        to_wire_error(err, messages::describe(err), *batch.mutable_error());
    }
    pull.promise.deliver(std::move(batch));
    maybe_quit();
  }

  void on_input_finished(const caf::error&) override {
    serve();
    maybe_quit();
  }

  void maybe_quit() {
    // Done once the importer was told the end (the producer may end while
    // no Pull waits here: the next one learns it) and acknowledged all, or
    // then at once when the producer failed: it cannot take items back.
    if (!done_sent_ || !held_.empty())
      return;
    if (unacked_.empty() || input().upstream_error())
      quit();
  }

  uint64_t stream_id_;
  stream_export_config cfg_;
  stream_codec_ptr codec_;
  std::deque<input_batch> inputs_;
  std::deque<unacked_run> unacked_;
  std::deque<held_pull> held_;
  uint64_t credit_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t next_pull_id_ = 1;
  bool done_sent_ = false; ///< A Batch said `done` (the end is told).
  caf::actor_clock::time_point last_pull_;
};

/// The published actor of an exported stream: opens one session per
/// importer and forwards its Pulls.
///
/// # Who owns a session
///
/// A session belongs to the sender of the Pull that opened it: for a remote
/// importer the connection's responder (one per connection), for a local
/// one the importer itself. Only its owner may pull from or acknowledge a
/// session, so a stray or hostile connection that guesses a stream id cannot
/// acknowledge (and so lose) items delivered elsewhere: it gets a typed
/// `stream_conflict`. The hub monitors each owner; when a connection closes,
/// its sessions end at once and the producer redelivers their
/// unacknowledged items, without waiting for `idle_timeout`.
class export_hub final : public caf::event_based_actor {
public:
  export_hub(caf::actor_config& cfg, actors::upstream_ref producer, stream_export_config ecfg,
             stream_codec_ptr codec)
    : caf::event_based_actor(cfg),
      producer_(std::move(producer)),
      cfg_(ecfg),
      codec_(std::move(codec)) {
    // nop
  }

  caf::behavior make_behavior() override {
    // A fixed producer ends the stream when it dies; a looked-up one is
    // replaced, and only its directory's death ends the stream.
    watched_ =
      producer_.is_lookup() ? producer_.directory().address() : producer_.fixed().address();
    if (auto who = caf::actor_cast<caf::actor>(watched_))
      monitor(who);
    else
      producer_down_ = true;
    set_down_handler([this](caf::down_msg& dm) { on_down(dm); });
    return {
      [this](const troupe::flow::Pull& pull) -> caf::result<troupe::flow::Batch> {
        return on_pull(pull);
      },
    };
  }

private:
  struct session_entry {
    caf::actor session;
    caf::actor_addr owner;
  };

  caf::result<troupe::flow::Batch> on_pull(const troupe::flow::Pull& pull) {
    auto owner = caf::actor_cast<caf::actor_addr>(current_sender());
    auto id = pull.stream_id();
    auto i = sessions_.find(id);
    if (i == sessions_.end()) {
      if (!pull.open())
        return caf::make_error(transport_errc::unknown_stream, id,
                               "no open session (never opened, finished or timed out)");
      if (pull.capacity() == 0)
        return caf::make_error(transport_errc::invalid_config, id,
                               "the Pull that opens a stream needs a capacity");
      if (auto o = owners_.find(owner);
          owner && o != owners_.end() && o->second >= cfg_.max_sessions_per_peer)
        return caf::make_error(transport_errc::too_many_sessions, id,
                               "max_sessions_per_peer "
                                 + std::to_string(cfg_.max_sessions_per_peer));
      i = sessions_.emplace(id, session_entry{open_session(pull), owner}).first;
      if (owner && owners_[owner]++ == 0)
        monitor(owner);
    } else if (i->second.owner != owner) {
      return caf::make_error(transport_errc::stream_conflict, id,
                             "the session belongs to another importer");
    } else if (pull.open()) {
      return caf::make_error(transport_errc::stream_conflict, id,
                             "the stream is already open");
    }
    delegate(i->second.session, pull);
    return caf::delegated<troupe::flow::Batch>();
  }

  caf::actor open_session(const troupe::flow::Pull& pull) {
    auto session =
      spawn<export_session>(producer_, pull.stream_id(), pull.capacity(), cfg_, codec_);
    monitor(session);
    return session;
  }

  void on_down(const caf::down_msg& dm) {
    if (dm.source == watched_) {
      producer_down_ = true;
      if (sessions_.empty())
        quit(); // nothing left to serve: unpublished with us
      return;
    }
    if (auto o = owners_.find(dm.source); o != owners_.end()) {
      // The importer's connection closed: its sessions cannot be pulled
      // anymore. Ending them now hands their items back to the producer.
      owners_.erase(o);
      for (auto& [id, entry] : sessions_)
        if (entry.owner == dm.source)
          send_exit(
            entry.session,
            caf::make_error(transport_errc::peer_lost, "the stream's importer is gone"));
      return;
    }
    for (auto i = sessions_.begin(); i != sessions_.end(); ++i) {
      if (i->second.session.address() == dm.source) {
        release_owner(i->second.owner);
        sessions_.erase(i);
        break;
      }
    }
    if (sessions_.empty() && producer_down_)
      quit();
  }

  void release_owner(const caf::actor_addr& owner) {
    auto o = owners_.find(owner);
    if (owner && o != owners_.end() && --o->second == 0) {
      demonitor(owner);
      owners_.erase(o);
    }
  }

  actors::upstream_ref producer_;
  /// The producer (fixed) or its directory (looked up).
  caf::actor_addr watched_;
  bool producer_down_ = false;
  stream_export_config cfg_;
  stream_codec_ptr codec_;
  std::unordered_map<uint64_t, session_entry> sessions_;
  /// Sessions per owner; each owner is monitored once.
  std::unordered_map<caf::actor_addr, size_t> owners_;
};

} // namespace

} // namespace troupe::transport::internal

namespace troupe::transport::detail {

caf::expected<caf::actor> spawn_export_hub(caf::actor_system& sys,
                                           actors::upstream_ref producer,
                                           const stream_export_config* given,
                                           stream_codec_ptr codec) {
  if (!producer.valid())
    return caf::make_error(transport_errc::invalid_config,
                           "export_stream: producer is invalid");
  auto cfg = given != nullptr ? *given : stream_export_config::from(sys.config());
  if (auto err = cfg.validate())
    return err;
  return sys.spawn<internal::export_hub>(producer, cfg, std::move(codec));
}

caf::expected<caf::actor> export_stream(node& n, actors::upstream_ref producer,
                                        const std::string& name,
                                        const stream_export_config* given,
                                        stream_codec_ptr codec) {
  auto anchor = producer.is_lookup() ? producer.directory() : producer.fixed();
  if (!anchor)
    return caf::make_error(transport_errc::invalid_config,
                           "export_stream: producer is invalid");
  auto hub =
    spawn_export_hub(anchor->home_system(), std::move(producer), given, std::move(codec));
  if (!hub)
    return hub.error();
  if (auto err = n.publish(*hub, name)) {
    caf::anon_send_exit(*hub, caf::exit_reason::user_shutdown);
    return err;
  }
  return hub;
}

} // namespace troupe::transport::detail
