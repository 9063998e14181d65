#pragma once

/// Remote streams: the credit protocol across the wire. A consumer on node B
/// bounds a producer on node A exactly as a local consumer would.
///
///   node A: producer ──(local credit)──▶ export session ══╗
///   node B: consumers ◀──(local credit)── importer ◀══════╝ Pull / Batch
///
/// The importer on B owns the remote capacity C. It pulls with
/// `troupe.flow.Pull` requests whose credit never lets more than C items be
/// held by B or be on their way to it; every Pull also acknowledges the items
/// B's consumers finished. On A, an export session subscribes to the producer
/// as an ordinary consumer of capacity C and returns credit to it only for
/// acknowledged items. So the producer never has more than C items
/// outstanding towards B, whatever the speed of B's consumers, and the
/// session holds every unacknowledged item: if B goes silent, the session
/// closes after `idle_timeout` and the producer redelivers its items to its
/// other consumers (at-least-once).
///
/// Sessions come and go with their importers: give an exported producer a
/// `producer_config::no_consumer_grace` longer than an importer needs to
/// (re)connect, or a session that ends while holding items (its importer
/// went away) fails the producer with `no_consumers` when it was the only
/// one.
///
/// Items must be protobuf messages (they travel as their wire bytes, so a
/// non-C++ importer can speak the protocol: see docs/wire-protocol.md).
/// Sequence numbers are per hop: across the wire, de-duplicate on your own
/// message ids.
///
/// Usage:
///   // node A
///   export_stream<demo::Item>(node_a, producer, "items");
///   // node B
///   auto items = import_stream<demo::Item>(sys, node_b, "items@127.0.0.1:4711");
///   spawn_consumer<demo::Item>(sys, *items, consumer_config{64}, handle);

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/response_promise.hpp>
#include <caf/span.hpp>
#include <google/protobuf/message.h>

#include <troupe/actors/credit.hpp>
#include <troupe/actors/detail/batch.hpp>
#include <troupe/actors/detail/inbound.hpp>
#include <troupe/actors/detail/outbound.hpp>
#include <troupe/actors/flow_errc.hpp>
#include <troupe/flow.pb.h>
#include <troupe/messages/message_errc.hpp>

#include "troupe/transport/call_options.hpp"
#include "troupe/transport/node.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"
#include <troupe/messages/error_category.hpp>

namespace troupe::transport {

struct stream_export_config {
  /// Longest an importer's Pull waits at the exporter when there are no
  /// items; then an empty Batch answers it, so both sides see the other
  /// alive. Default 1 s.
  caf::timespan poll_interval = std::chrono::seconds{1};
  /// A stream whose importer sent no Pull for this long is closed; its
  /// unacknowledged items go back to the producer. Must exceed
  /// `poll_interval`. Default 10 s.
  caf::timespan idle_timeout = std::chrono::seconds{10};
  /// Most items per Batch. Default 1024.
  uint32_t max_batch = 1024;

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

struct stream_import_config {
  /// Most items held by this node or on their way to it: the remote bound.
  /// Default 1024.
  uint32_t capacity = 1024;
  /// Most items per batch to local consumers. Default 64.
  uint32_t batch_size = 64;
  /// Limit of one Pull round trip; must exceed the exporter's
  /// `poll_interval`. A Pull that fails (peer lost, timeout) ends the stream
  /// with that error. Default 10 s.
  caf::timespan pull_timeout = std::chrono::seconds{10};

  /// Returns an `invalid_config` error naming the bad field, or none.
  caf::error validate() const;
};

namespace detail {

/// Appends `item` length-delimited (varint size, then its bytes) to `out`.
void append_delimited(std::string& out, const google::protobuf::MessageLite& item);

/// Reads the next length-delimited item of [pos, end): sets `item` and
/// `size` and advances `pos`; false when the bytes are truncated.
bool next_delimited(const char*& pos, const char* end, const char*& item, int& size);

using poll_atom = caf::atom_constant<caf::atom("trp_spoll")>;
using idle_atom = caf::atom_constant<caf::atom("trp_sidle")>;

/// One importer's stream on the exporting node: a consumer of the producer
/// that answers Pulls.
template <class T>
class export_session final : public caf::event_based_actor,
                             private troupe::actors::detail::inbound_owner {
public:
  export_session(caf::actor_config& cfg, caf::actor producer, uint64_t stream_id,
                 uint32_t capacity, stream_export_config ecfg)
    : caf::event_based_actor(cfg),
      producer_(std::move(producer)),
      stream_id_(stream_id),
      cfg_(ecfg),
      in_(this, this, capacity) {
    // nop
  }

  caf::behavior make_behavior() override {
    using namespace troupe::actors;
    set_down_handler([this](caf::down_msg& dm) { in_.on_down(dm); });
    in_.subscribe(producer_);
    producer_ = nullptr;
    last_pull_ = clock().now();
    delayed_send(this, cfg_.idle_timeout, idle_atom::value);
    return caf::message_handler{
      [this](flow_item_atom, seq_t, const T&) { on_input(1); },
      [this](flow_batch_atom, seq_t, const std::vector<T>& xs) { on_input(xs.size()); },
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
          quit(caf::make_error(transport_errc::peer_timeout,
                               "stream importer sent no Pull"));
        else
          delayed_send(this, cfg_.idle_timeout - silent, idle_atom::value);
      }}
      .or_else(in_.handlers());
  }

private:
  struct held_pull {
    caf::response_promise promise;
    uint64_t id;
  };

  struct input {
    caf::message msg;
    caf::span<const T> items;
    size_t next;
    uint64_t ordinal;
  };

  void on_input(size_t count) {
    if (count == 0 || in_.upstream_ended())
      return;
    auto ordinal = in_.received(static_cast<uint32_t>(count));
    auto msg = current_mailbox_element()->move_content_to_message();
    auto items = troupe::actors::detail::items_of<T>(msg);
    inputs_.push_back(input{std::move(msg), items, 0, ordinal});
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
      in_.finished(run.ordinal, acked);
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
      bool ended = in_.upstream_ended() && inputs_.empty();
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
    batch.set_item_type(T::descriptor()->full_name());
    uint32_t count = 0;
    auto* items = batch.mutable_items();
    // Small items: a few bytes each; one reservation avoids regrowing.
    items->reserve(std::min<uint64_t>(credit_, cfg_.max_batch) * 8);
    while (credit_ > 0 && !inputs_.empty() && count < cfg_.max_batch) {
      auto& in = inputs_.front();
      auto n = std::min<uint64_t>({credit_, cfg_.max_batch - count, in.items.size() - in.next});
      for (auto i = in.next; i < in.next + n; ++i)
        append_delimited(*items, in.items[i]);
      unacked_.push_back(unacked_run{next_seq_ + n - 1, in.ordinal, static_cast<uint32_t>(n)});
      next_seq_ += n;
      credit_ -= n;
      count += static_cast<uint32_t>(n);
      in.next += n;
      if (in.next == in.items.size())
        inputs_.pop_front();
    }
    batch.set_count(count);
    if (in_.upstream_ended() && inputs_.empty()) {
      batch.set_done(true);
      if (auto& err = in_.upstream_error(); err && err != troupe::actors::flow_errc::cancelled)
        to_wire_error(err, messages::describe(err), *batch.mutable_error());
    }
    pull.promise.deliver(std::move(batch));
    maybe_quit();
  }

  void on_inbound_finished(const caf::error&) override {
    serve();
    maybe_quit();
  }

  void maybe_quit() {
    // Done once the producer finished and the importer acknowledged all, or
    // at once when the producer failed: it cannot take items back anymore.
    if (!in_.upstream_ended() || !inputs_.empty() || !held_.empty())
      return;
    if (unacked_.empty() || in_.upstream_error())
      quit();
  }

  caf::actor producer_;
  uint64_t stream_id_;
  stream_export_config cfg_;
  troupe::actors::detail::inbound in_;
  std::deque<input> inputs_;
  /// Sent, not yet acknowledged, oldest first: runs of consecutive stream
  /// numbers from one input batch, so acknowledging costs per run.
  struct unacked_run {
    uint64_t last;    ///< Stream number of the run's last item.
    uint64_t ordinal; ///< The input batch (`inbound` ordinal).
    uint32_t count;   ///< Items of the run not yet acknowledged.
  };
  std::deque<unacked_run> unacked_;
  std::deque<held_pull> held_;
  uint64_t credit_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t next_pull_id_ = 1;
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
template <class T>
class export_hub final : public caf::event_based_actor {
public:
  export_hub(caf::actor_config& cfg, caf::actor producer, stream_export_config ecfg)
    : caf::event_based_actor(cfg), producer_(std::move(producer)), cfg_(ecfg) {
    // nop
  }

  caf::behavior make_behavior() override {
    monitor(producer_);
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
      i = sessions_.emplace(id, session_entry{open_session(pull), owner}).first;
      if (owner && owners_[owner]++ == 0)
        monitor(owner);
    } else if (i->second.owner != owner) {
      return caf::make_error(transport_errc::stream_conflict, id,
                             "the session belongs to another importer");
    } else if (pull.open()) {
      return caf::make_error(transport_errc::stream_conflict, id, "the stream is already open");
    }
    delegate(i->second.session, pull);
    return caf::delegated<troupe::flow::Batch>();
  }

  caf::actor open_session(const troupe::flow::Pull& pull) {
    auto session = spawn<export_session<T>>(producer_, pull.stream_id(), pull.capacity(), cfg_);
    monitor(session);
    return session;
  }

  void on_down(const caf::down_msg& dm) {
    if (dm.source == producer_.address()) {
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
          send_exit(entry.session, caf::make_error(transport_errc::peer_lost,
                                                   "the stream's importer is gone"));
      return;
    }
    for (auto i = sessions_.begin(); i != sessions_.end(); ++i) {
      if (i->second.session.address() == dm.source) {
        release_owner(i->second.owner);
        sessions_.erase(i);
        break;
      }
    }
    if (sessions_.empty() && !producer_alive())
      quit();
  }

  void release_owner(const caf::actor_addr& owner) {
    auto o = owners_.find(owner);
    if (owner && o != owners_.end() && --o->second == 0) {
      demonitor(owner);
      owners_.erase(o);
    }
  }

  bool producer_alive() const {
    return producer_ != nullptr && !producer_down_;
  }

  caf::actor producer_;
  bool producer_down_ = false;
  stream_export_config cfg_;
  std::unordered_map<uint64_t, session_entry> sessions_;
  /// Sessions per owner; each owner is monitored once.
  std::unordered_map<caf::actor_addr, size_t> owners_;
};

using pull_done_atom = caf::atom_constant<caf::atom("trp_spdone")>;

/// The importing side: a producer for local consumers whose source is the
/// remote stream.
template <class T>
class importer final : public caf::event_based_actor,
                       private troupe::actors::detail::outbound_owner {
public:
  importer(caf::actor_config& cfg, caf::actor remote, stream_import_config icfg,
           uint64_t stream_id)
    : caf::event_based_actor(cfg),
      remote_(std::move(remote)),
      cfg_(icfg),
      stream_id_(stream_id),
      out_(this, this, {icfg.batch_size, caf::timespan{0}}) {
    // nop
  }

  caf::behavior make_behavior() override {
    using namespace troupe::actors;
    set_down_handler([this](caf::down_msg& dm) { out_.on_down(dm); });
    request_items();
    return out_.handlers().or_else(
      [this](flow_stats_atom) { return out_.stats(); });
  }

private:
  uint64_t held() const {
    // Items here (queued or at local consumers) plus credit granted but not
    // yet delivered: never more than the capacity.
    return queued_ + local_unacked_ + (granted_ - received_);
  }

  call_options pull_options() const {
    call_options result;
    result.deadline = cfg_.pull_timeout;
    return result;
  }

  /// Sends a Pull when there is credit or an acknowledgement worth sending.
  /// One Pull always waits at the exporter (a long poll); a second one
  /// carries credit and acknowledgements meanwhile.
  void request_items() {
    if (finished_ || pulls_ >= 2)
      return;
    auto free = cfg_.capacity - std::min<uint64_t>(cfg_.capacity, held());
    bool ack_news = acked_through_ > acked_sent_;
    if (remote_done_) {
      free = 0; // nothing more will come: only acknowledge
      if (!ack_news)
        return;
    } else if (pulls_ == 1 && !ack_news && free < std::max<uint32_t>(1, cfg_.capacity / 4)) {
      return;
    }
    troupe::flow::Pull msg;
    msg.set_stream_id(stream_id_);
    msg.set_credit(static_cast<uint32_t>(free));
    msg.set_acked_through(acked_through_);
    msg.set_capacity(cfg_.capacity);
    msg.set_open(!opened_);
    opened_ = true;
    granted_ += free;
    acked_sent_ = acked_through_;
    ++pulls_;
    request(remote_, cfg_.pull_timeout, pull_options(), std::move(msg))
      .then([this](troupe::flow::Batch& batch) { on_batch(batch); },
            [this](caf::error& err) {
              --pulls_;
              if (!finished_)
                out_.fail(err); // peer lost, timeout, ...
            });
  }

  void on_batch(troupe::flow::Batch& batch) {
    --pulls_;
    if (finished_)
      return;
    if (batch.count() > 0 && batch.item_type() != T::descriptor()->full_name()) {
      out_.fail(caf::make_error(troupe::messages::message_errc::malformed_payload,
                                "stream item type " + batch.item_type() + ", expected "
                                  + T::descriptor()->full_name()));
      return;
    }
    // Parsed into chunks of at most `batch_size`: `pull` hands a whole
    // chunk to a consumer without moving its items one by one.
    const char* pos = batch.items().data();
    const char* end = pos + batch.items().size();
    for (uint32_t i = 0; i < batch.count(); ++i) {
      if (chunks_.empty() || chunks_.back().size() >= cfg_.batch_size) {
        chunks_.emplace_back();
        chunks_.back().reserve(std::min<uint32_t>(cfg_.batch_size, batch.count() - i));
      }
      const char* item = nullptr;
      int size = 0;
      auto& chunk = chunks_.back();
      chunk.emplace_back();
      ++queued_;
      if (!next_delimited(pos, end, item, size) || !chunk.back().ParseFromArray(item, size)) {
        out_.fail(caf::make_error(troupe::messages::message_errc::malformed_payload,
                                  T::descriptor()->full_name()));
        return;
      }
    }
    if (pos != end) {
      out_.fail(caf::make_error(troupe::messages::message_errc::malformed_payload,
                                "trailing bytes after the stream items"));
      return;
    }
    received_ += batch.count();
    if (batch.done()) {
      remote_done_ = true;
      if (batch.has_error()) {
        out_.fail(from_wire_error(batch.error()));
        return;
      }
    }
    out_.resume();
    request_items();
  }

  // -- outbound_owner -------------------------------------------------------

  troupe::actors::detail::pulled_batch pull(size_t n, troupe::actors::seq_t first) override {
    troupe::actors::detail::pulled_batch result;
    std::vector<T> items;
    if (!chunks_.empty() && front_offset_ == 0 && chunks_.front().size() <= n) {
      items = std::move(chunks_.front()); // the common case: one whole chunk
      chunks_.pop_front();
    } else {
      items.reserve(std::min(n, queued_));
      while (items.size() < n && !chunks_.empty()) {
        auto& chunk = chunks_.front();
        items.push_back(std::move(chunk[front_offset_]));
        if (++front_offset_ == chunk.size()) {
          chunks_.pop_front();
          front_offset_ = 0;
        }
      }
    }
    queued_ -= items.size();
    result.count = items.size();
    local_unacked_ += items.size();
    if (!items.empty())
      result.items = troupe::actors::detail::make_batch(first, std::move(items));
    if (queued_ == 0 && remote_done_)
      result.status = troupe::actors::detail::pulled_batch::done;
    else
      result.status = result.count > 0 ? troupe::actors::detail::pulled_batch::more
                                       : troupe::actors::detail::pulled_batch::wait;
    return result;
  }

  caf::message slice(const caf::message& batch, size_t offset, size_t n) override {
    return troupe::actors::detail::slice_batch<T>(batch, offset, n);
  }

  void on_acknowledged(troupe::actors::seq_t first, uint32_t n) override {
    // Local sequence numbers equal stream numbers: items are pulled in
    // order. Advance the contiguous acknowledged prefix.
    local_unacked_ -= n;
    acked_ranges_[first] = first + n - 1;
    for (auto i = acked_ranges_.begin();
         i != acked_ranges_.end() && i->first == acked_through_ + 1;
         i = acked_ranges_.erase(i))
      acked_through_ = i->second;
    request_items();
  }

  void on_outbound_finished(const caf::error& err) override {
    finished_ = true;
    if (!err || err == troupe::actors::flow_errc::cancelled) {
      // Tell the exporter everything was acknowledged, then leave (its
      // answer finds us gone, which is fine).
      if (acked_through_ > acked_sent_) {
        troupe::flow::Pull last;
        last.set_stream_id(stream_id_);
        last.set_acked_through(acked_through_);
        last.set_capacity(cfg_.capacity);
        request(remote_, cfg_.pull_timeout, pull_options(),
                std::move(last))
          .then([](troupe::flow::Batch&) {}, [](caf::error&) {});
      }
      quit();
    } else {
      quit(err);
    }
  }

  caf::actor remote_;
  stream_import_config cfg_;
  uint64_t stream_id_;
  troupe::actors::detail::outbound out_;
  std::deque<std::vector<T>> chunks_; // received, not yet pulled locally
  size_t front_offset_ = 0;           // items of chunks_.front() already pulled
  size_t queued_ = 0;                 // items in chunks_
  std::map<uint64_t, uint64_t> acked_ranges_; // first -> last, beyond the prefix
  uint64_t acked_through_ = 0;
  uint64_t acked_sent_ = 0;
  uint64_t local_unacked_ = 0;
  uint64_t granted_ = 0;
  uint64_t received_ = 0;
  int pulls_ = 0;
  bool opened_ = false; ///< The first Pull (which opens the session) was sent.
  bool remote_done_ = false;
  bool finished_ = false;
};

/// A random stream id, unique per importer with overwhelming probability.
uint64_t new_stream_id();

} // namespace detail

/// Publishes `producer`'s stream of `T` on `n` as `name`; importers on other
/// nodes pull it with `import_stream`. Returns the published hub actor.
template <class T>
caf::expected<caf::actor> export_stream(node& n, caf::actor producer, const std::string& name,
                                        stream_export_config cfg = {}) {
  static_assert(std::is_base_of_v<google::protobuf::Message, T>,
                "remote stream items must be protobuf messages");
  if (auto err = cfg.validate())
    return err;
  if (!producer)
    return caf::make_error(transport_errc::invalid_config, "export_stream: producer is invalid");
  auto& sys = producer->home_system();
  auto hub = sys.spawn<detail::export_hub<T>>(producer, cfg);
  if (auto err = n.publish(hub, name)) {
    caf::anon_send_exit(hub, caf::exit_reason::user_shutdown);
    return err;
  }
  return hub;
}

/// Returns a local producer of the stream published as `address`
/// ("name@host:port"); local consumers subscribe to it as to any producer.
template <class T>
caf::expected<caf::actor> import_stream(caf::actor_system& sys, node& n,
                                        const std::string& address,
                                        stream_import_config cfg = {}) {
  static_assert(std::is_base_of_v<google::protobuf::Message, T>,
                "remote stream items must be protobuf messages");
  if (auto err = cfg.validate())
    return err;
  auto remote = n.remote_actor(address);
  if (!remote)
    return remote.error();
  return sys.spawn<detail::importer<T>>(*remote, cfg, detail::new_stream_id());
}

} // namespace troupe::transport
