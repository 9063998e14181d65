#include "troupe/actors/flow/flow_input.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/message_handler.hpp>
#include <caf/message_priority.hpp>

#include "troupe/actors/flow/flow_actor.hpp"
#include "troupe/actors/flow_errc.hpp"

namespace troupe::actors {

flow_input::flow_input(flow_actor* self, uint32_t capacity)
  : self_(self), capacity_(capacity), flush_threshold_(std::max<uint32_t>(1, capacity / 2)) {
  // Let go of upstream when the actor terminates: a killed upstream may
  // still hold us (see flow_output's constructor), and the cycle would leak.
  self_->attach_functor([this] {
    upstream_ = nullptr;
    ref_ = upstream_ref{}; // a fixed upstream is held here too
  });
}

void flow_input::start(upstream_ref ref) {
  ref_ = std::move(ref);
  if (ref_.is_lookup())
    resolve(caf::actor_addr{});
  else
    subscribe(ref_.fixed());
}

void flow_input::subscribe(caf::actor upstream) {
  upstream_ = std::move(upstream);
  self_->monitor(upstream_);
  self_->send<caf::message_priority::high>(upstream_, flow_subscribe_atom::value, capacity_);
}

void flow_input::resolve(const caf::actor_addr& stale) {
  auto directory = ref_.directory();
  if (!directory) {
    end(caf::make_error(flow_errc::upstream_unavailable,
                        "the directory of '" + ref_.name() + "' is gone"));
    return;
  }
  resolving_ = true;
  // No timeout: the directory answers when the next incarnation runs (a
  // restart may wait for its backoff), or with an error when it gives up.
  // A directory that dies fails the request.
  self_->request(directory, caf::infinite, lookup_atom::value, ref_.name(), stale)
    .then(
      [this](caf::actor& next) {
        resolving_ = false;
        if (upstream_ended_)
          return; // we cancelled meanwhile
        if (!next) {
          end(caf::error{}); // the name finished for good: nothing more comes
          return;
        }
        ++stats_.resubscribed;
        subscribe(std::move(next));
      },
      [this](caf::error& err) {
        resolving_ = false;
        if (!upstream_ended_)
          end(std::move(err));
      });
}

void flow_input::rebind(const caf::actor_addr& stale) {
  // What the old incarnation sent and we did not finish cannot be
  // acknowledged to it anymore; its own upstream redelivers it to the next
  // incarnation. Unfinished work still running finishes into the void:
  // ordinals before `first_open_` are ignored.
  abandon();
  first_open_ = next_ordinal_;
  acked_through_ = 0;
  pending_credit_ = 0;
  flush_requested_ = false;
  upstream_ = nullptr;
  self_->on_upstream_replaced();
  resolve(stale);
}

void flow_input::end(caf::error err) {
  if (upstream_ended_)
    return;
  upstream_ended_ = true;
  upstream_error_ = std::move(err);
  abandon();
  check_finished();
}

void flow_input::report_failure(uint64_t ordinal, seq_t seq, const caf::error& err) {
  if (upstream_ && !upstream_ended_ && ordinal >= first_open_)
    self_->send<caf::message_priority::high>(upstream_, flow_failed_atom::value, seq, err);
}

uint64_t flow_input::received(uint32_t count) {
  stats_.received += count;
  stats_.max_buffered = std::max(stats_.max_buffered, buffered());
  open_batches_.push_back(count);
  return next_ordinal_++;
}

void flow_input::finished(uint64_t ordinal, uint64_t items) {
  if (ordinal < first_open_ || ordinal - first_open_ >= open_batches_.size())
    return; // a batch we already gave up on (cancel) or never had
  auto& open = open_batches_[ordinal - first_open_];
  items = std::min(items, open);
  open -= items;
  stats_.processed += items;
  pending_credit_ += items;
  if (open == 0 && ordinal != first_open_ && items > 0)
    finished_early_.push_back(acked_through_ + (ordinal - first_open_));
  while (!open_batches_.empty() && open_batches_.front() == 0) {
    open_batches_.pop_front();
    ++first_open_;
    ++acked_through_;
  }
  maybe_flush();
  check_finished();
}

void flow_input::maybe_flush() {
  if (cancelled_ || !upstream_ || pending_credit_ == 0)
    return;
  // Coalesce credit into chunks of half the capacity. The producer never
  // stalls on a smaller remainder: with no credit left it holds at least
  // that much, and otherwise it asks for the rest (`flow_flush_atom`).
  if (pending_credit_ >= flush_threshold_ || flush_requested_) {
    flush_requested_ = false;
    flush();
  }
}

void flow_input::flush() {
  if (cancelled_ || upstream_ended_ || !upstream_ || pending_credit_ == 0)
    return;
  // Those the in-order count caught up with need no naming.
  finished_early_.erase(std::remove_if(finished_early_.begin(), finished_early_.end(),
                                       [this](uint64_t b) { return b < acked_through_; }),
                        finished_early_.end());
  if (!finished_early_.empty()) {
    self_->send<caf::message_priority::high>(upstream_, flow_finished{finished_early_});
    finished_early_.clear(); // keeps its buffer for the next ones
  }
  self_->send<caf::message_priority::high>(
    upstream_, flow_demand{static_cast<uint32_t>(pending_credit_), acked_through_});
  pending_credit_ = 0;
}

caf::message_handler flow_input::handlers() {
  return {
    [this](flow_flush_atom) {
      // Queued behind the batches before it, so those are handled already.
      if (pending_credit_ > 0)
        flush();
      else
        flush_requested_ = true; // return credit with the next finished item
    },
    [this](flow_done_atom, const caf::error& err) {
      if (!upstream_
          || caf::actor_cast<caf::actor_addr>(self_->current_sender()) != upstream_.address()
          || upstream_ended_)
        return;
      if (err && ref_.is_lookup()) {
        // This incarnation failed; its supervisor replaces it. Re-bind at
        // its down message: before it, the directory may still name it.
        return;
      }
      upstream_ended_ = true;
      upstream_error_ = err;
      self_->demonitor(upstream_);
      check_finished();
    },
  };
}

bool flow_input::on_down(const caf::down_msg& dm) {
  if (!upstream_ || dm.source != upstream_.address())
    return false;
  if (ref_.is_lookup() && !upstream_ended_) {
    // Dead without a clean `done`: killed, failed or restarted. Whatever
    // the reason, its successor (if any) is found through the directory;
    // even a normal exit, which the directory may report as "finished".
    rebind(dm.source);
    return true;
  }
  if (!upstream_ended_) {
    upstream_ended_ = true;
    // Upstream died without `done` to us. A normal exit means it had
    // finished before our subscription reached it (it sends `done` to every
    // subscribed consumer before it exits, and that arrives first): the
    // stream is over, with nothing for us. Any other reason is a failure.
    upstream_error_ = dm.reason;
    // Nothing unfinished can be acknowledged anymore: give up on it.
    abandon();
  }
  check_finished();
  return true;
}

void flow_input::cancel() {
  if (cancelled_ || upstream_ended_ || (!upstream_ && !resolving_))
    return;
  if (upstream_)
    flush(); // what it finished, out of order too, must not come again
  cancelled_ = true;
  if (upstream_) {
    self_->send<caf::message_priority::high>(upstream_, flow_cancel_atom::value,
                                             acked_through_);
    self_->demonitor(upstream_);
  }
  upstream_ended_ = true;
  upstream_error_ = caf::make_error(flow_errc::cancelled);
  abandon();
  check_finished();
}

void flow_input::abandon() {
  stats_.abandoned += buffered();
  open_batches_.clear();
  finished_early_.clear();
}

void flow_input::check_finished() {
  if (reported_ || !upstream_ended_ || buffered() > 0)
    return;
  reported_ = true;
  self_->on_input_finished(upstream_error_);
}

} // namespace troupe::actors
