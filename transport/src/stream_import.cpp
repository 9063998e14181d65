// The importing side of a remote stream: a producer for local consumers
// whose source is the remote stream. Not a template: the stream's codec
// (`detail::typed_stream_codec<T>`) parses each Batch into local batch
// messages of `T`, which the importer hands out as they are.

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>

#include <troupe/actors/flow/flow_actor.hpp>
#include <troupe/actors/log.hpp>
#include <troupe/flow.pb.h>
#include <troupe/messages/error_category.hpp>
#include <troupe/messages/message_errc.hpp>

#include "troupe/transport/call_options.hpp"
#include "troupe/transport/node.hpp"
#include "troupe/transport/remote_stream.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"

namespace troupe::transport::internal {

namespace {

using actors::flow_actor;
using actors::pull_status;
using actors::pulled_batch;
using actors::seq_t;
using detail::stream_codec_ptr;

/// A random stream id, unique per importer with overwhelming probability.
uint64_t new_stream_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t id = 0;
  while (id == 0)
    id = rng();
  return id;
}

/// A flow actor with an output side only, whose items come in Batches.
class importer final : public flow_actor {
public:
  importer(caf::actor_config& cfg, caf::actor remote, stream_import_config icfg,
           uint64_t stream_id, stream_codec_ptr codec)
    : flow_actor(cfg, actors::flow_output::config{icfg.batch_size, caf::timespan{0}}),
      remote_(std::move(remote)),
      cfg_(icfg),
      stream_id_(stream_id),
      codec_(std::move(codec)) {
    // nop
  }

  caf::behavior make_behavior() override {
    auto result = flow_actor::make_behavior();
    request_items();
    return result;
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
    if (output().finished() || pulls_ >= 2 || pull_error_)
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
            [this](caf::error& err) { on_pull_failed(err); });
  }

  /// A Pull failed: the peer is lost, it timed out, or the session is gone.
  void on_pull_failed(caf::error& err) {
    --pulls_;
    if (output().finished())
      return;
    if (remote_done_) {
      // Every item is here. The exporter ends its session once all are
      // acknowledged, so a Pull sent before the end arrived can find it
      // gone; and an acknowledgement that cannot be delivered only makes
      // the exporter hand those items out again. The local stream goes on.
      log_->debug("stream {:x}: a Pull after the end failed ({}); the stream is complete here",
                  stream_id_, messages::describe(err));
      return;
    }
    if (pulls_ > 0) {
      // The other Pull may still bring the end: it was sent first, and
      // its answer can arrive after this failure.
      if (!pull_error_)
        pull_error_ = std::move(err);
      return;
    }
    output().fail(pull_error_ ? pull_error_ : err); // the first failure
  }

  void on_batch(troupe::flow::Batch& batch) {
    --pulls_;
    if (output().finished())
      return;
    if (batch.first_seq() != received_ + 1) {
      // A Batch went missing: the failed Pull's answer came too late and
      // was dropped with its items. Going on would lose them silently.
      output().fail(pull_error_
                      ? pull_error_
                      : caf::make_error(transport_errc::stream_conflict, stream_id_,
                                        "the batch starts at item "
                                          + std::to_string(batch.first_seq()) + ", expected "
                                          + std::to_string(received_ + 1)));
      return;
    }
    if (batch.count() > 0 && batch.item_type() != codec_->item_type()) {
      output().fail(caf::make_error(messages::message_errc::malformed_payload,
                                    "stream item type " + batch.item_type() + ", expected "
                                      + codec_->item_type()));
      return;
    }
    if (batch.count() > granted_ - received_) {
      // More than we asked for: the exporter broke the credit bound (a bug
      // or a hostile peer). Taking the items would break our capacity.
      output().fail(
        caf::make_error(transport_errc::stream_conflict, stream_id_,
                        "the batch holds " + std::to_string(batch.count()) + " items but only "
                          + std::to_string(granted_ - received_) + " were granted"));
      return;
    }
    // Parsed into local batches of at most `batch_size`: `pull_batch` hands
    // a whole one to a consumer without touching its items. Local sequence
    // numbers equal stream numbers: items are pulled in order.
    if (auto err = codec_->decode(batch.items(), batch.count(), received_ + 1, cfg_.batch_size,
                                  chunks_)) {
      output().fail(err);
      return;
    }
    queued_ += batch.count();
    received_ += batch.count();
    if (batch.done()) {
      remote_done_ = true;
      // Whatever Pull failed meanwhile lost nothing (the numbers match):
      // acknowledgements may go out again.
      pull_error_ = caf::error{};
      // A failed stream's error follows the items that came before it, as
      // on a local stream: the consumers get those first.
      if (batch.has_error())
        remote_error_ = from_wire_error(batch.error());
    } else if (pull_error_) {
      // The other Pull failed and this one did not end the stream: the
      // credit it carried is lost, so the stream cannot go on.
      output().fail(pull_error_);
      return;
    }
    output().resume();
    request_items();
  }

  // -- output side ------------------------------------------------------------

  pulled_batch pull_batch(size_t n, seq_t) override {
    pulled_batch result;
    if (!chunks_.empty()) {
      auto& chunk = chunks_.front();
      if (front_offset_ == 0 && chunk.count <= n) {
        result.items = std::move(chunk.batch); // the common case: a whole chunk
        result.count = chunk.count;
        chunks_.pop_front();
      } else {
        result.count = std::min<size_t>(n, chunk.count - front_offset_);
        result.items = codec_->take(chunk.batch, front_offset_, result.count);
        front_offset_ += result.count;
        if (front_offset_ == chunk.count) {
          chunks_.pop_front();
          front_offset_ = 0;
        }
      }
    }
    queued_ -= result.count;
    local_unacked_ += result.count;
    if (queued_ > 0 || !remote_done_)
      result.status = result.count > 0 ? pull_status::more : pull_status::wait;
    else if (!remote_error_)
      result.status = pull_status::done;
    else if (result.count == 0)
      result.error = remote_error_; // every item is out: now the failure
    else
      result.status = pull_status::more; // the failure on the next pull
    return result;
  }

  caf::message slice(const caf::message& batch, size_t offset, size_t n) override {
    return codec_->slice(batch, offset, n);
  }

  void on_acknowledged(seq_t first, uint32_t n) override {
    // Local sequence numbers equal stream numbers. Advance the contiguous
    // acknowledged prefix.
    local_unacked_ -= n;
    acked_ranges_[first] = first + n - 1;
    for (auto i = acked_ranges_.begin();
         i != acked_ranges_.end() && i->first == acked_through_ + 1;
         i = acked_ranges_.erase(i))
      acked_through_ = i->second;
    request_items();
  }

  void on_output_finished(const caf::error& err) override {
    if ((!err || err == actors::flow_errc::cancelled) && acked_through_ > acked_sent_) {
      // Tell the exporter everything was acknowledged, then leave (its
      // answer finds us gone, which is fine).
      troupe::flow::Pull last;
      last.set_stream_id(stream_id_);
      last.set_acked_through(acked_through_);
      last.set_capacity(cfg_.capacity);
      request(remote_, cfg_.pull_timeout, pull_options(), std::move(last))
        .then([](troupe::flow::Batch&) {}, [](caf::error&) {});
    }
    flow_actor::on_output_finished(err); // quits
  }

  caf::actor remote_;
  stream_import_config cfg_;
  uint64_t stream_id_;
  stream_codec_ptr codec_;
  std::deque<detail::stream_chunk> chunks_;   // received, not yet pulled locally
  size_t front_offset_ = 0;                   // items of chunks_.front() already pulled
  size_t queued_ = 0;                         // items in chunks_
  std::map<uint64_t, uint64_t> acked_ranges_; // first -> last, beyond the prefix
  uint64_t acked_through_ = 0;
  uint64_t acked_sent_ = 0;
  uint64_t local_unacked_ = 0;
  uint64_t granted_ = 0;
  uint64_t received_ = 0;
  int pulls_ = 0;
  bool opened_ = false; ///< The first Pull (which opens the session) was sent.
  bool remote_done_ = false;
  /// A failed Pull, held while the other one in flight may bring the end.
  caf::error pull_error_;
  /// The remote stream failed with this, after the items before it.
  caf::error remote_error_;
  std::shared_ptr<spdlog::logger> log_ = actors::logger("troupe.transport");
};

} // namespace

} // namespace troupe::transport::internal

namespace troupe::transport::detail {

caf::expected<caf::actor> import_stream(caf::actor_system& sys, node& n,
                                        const std::string& address,
                                        const stream_import_config& cfg,
                                        stream_codec_ptr codec) {
  if (auto err = cfg.validate())
    return err;
  auto remote = n.remote_actor(address);
  if (!remote)
    return remote.error();
  return spawn_importer(sys, std::move(*remote), cfg, std::move(codec));
}

caf::expected<caf::actor> spawn_importer(caf::actor_system& sys, caf::actor remote,
                                         const stream_import_config& cfg,
                                         stream_codec_ptr codec) {
  if (auto err = cfg.validate())
    return err;
  if (!remote)
    return caf::make_error(transport_errc::invalid_config, "import_stream: no remote actor");
  return sys.spawn<internal::importer>(std::move(remote), cfg, internal::new_stream_id(),
                                       std::move(codec));
}

} // namespace troupe::transport::detail
