#include "troupe/actors/flow/flow_output.hpp"

#include <algorithm>
#include <iterator>

#include <caf/event_based_actor.hpp>
#include <caf/message_handler.hpp>
#include <caf/message_priority.hpp>

#include <spdlog/logger.h>

#include <troupe/messages/error_category.hpp>

#include "troupe/actors/flow/flow_actor.hpp"
#include "troupe/actors/flow_errc.hpp"
#include "troupe/actors/log.hpp"

namespace troupe::actors {

namespace {

using grace_atom = caf::atom_constant<caf::atom("trp_fgrace")>;

} // namespace

flow_output::flow_output(flow_actor* self, config cfg)
  : self_(self),
    cfg_(std::move(cfg)),
    next_seq_(cfg_.first_seq),
    committed_(cfg_.first_seq - 1) {
  // A dead actor's members live as long as someone holds a handle to it. A
  // consumer holds its upstream; if we kept holding our consumers after
  // dying (killed, so `finish` never ran), the two would keep each other's
  // memory alive forever. Let go when the actor terminates.
  self_->attach_functor([this] {
    links_.clear();
    redeliver_.clear();
    // The hooks are user closures; one may hold this actor's handle.
    cfg_.on_dead_letter = nullptr;
    cfg_.on_commit = nullptr;
  });
}

caf::message_handler flow_output::handlers() {
  return {
    [this](flow_subscribe_atom, uint32_t capacity) {
      auto consumer = caf::actor_cast<caf::actor>(self_->current_sender());
      if (consumer)
        subscribe(consumer, capacity);
    },
    [this](const flow_demand& x) {
      demand(caf::actor_cast<caf::actor_addr>(self_->current_sender()), x.credit,
             x.acked_through);
    },
    [this](const flow_finished& x) {
      finished_out_of_order(caf::actor_cast<caf::actor_addr>(self_->current_sender()),
                            x.batches);
    },
    [this](flow_cancel_atom, uint64_t acked_through) {
      cancel(caf::actor_cast<caf::actor_addr>(self_->current_sender()), acked_through);
    },
    [this](flow_failed_atom, seq_t seq, caf::error& err) {
      failed(caf::actor_cast<caf::actor_addr>(self_->current_sender()), seq, std::move(err));
    },
    [this](flow_resume_atom) { resume(); },
    [this](grace_atom, uint64_t epoch) {
      if (!finished_ && links_.empty() && epoch == epoch_)
        check_consumers_left();
    },
  };
}

flow_output::link* flow_output::find(const caf::actor_addr& addr) {
  for (auto& l : links_)
    if (l.consumer.address() == addr)
      return &l;
  return nullptr;
}

void flow_output::subscribe(const caf::actor& consumer, uint32_t capacity) {
  if (finished_) {
    // Late subscriber: there is nothing left for it.
    self_->send(consumer, flow_done_atom::value, caf::error{});
    return;
  }
  if (find(consumer.address()) != nullptr || capacity == 0)
    return;
  self_->monitor(consumer);
  link l;
  l.consumer = consumer;
  l.credit = capacity;
  l.capacity = capacity;
  links_.push_back(std::move(l));
  had_consumer_ = true;
  ++epoch_;
  pump();
}

void flow_output::demand(const caf::actor_addr& from, uint32_t credit,
                         uint64_t acked_through) {
  auto* l = find(from);
  if (l == nullptr)
    return;
  // Credit never exceeds what is outstanding: a confused or malicious
  // consumer cannot inflate its own bound.
  auto paid = std::min<uint64_t>(credit, l->outstanding);
  l->outstanding -= paid;
  l->credit += paid;
  l->flush_requested = false;
  acknowledge(*l, acked_through);
  // `l` may be gone from here on: committing can end the output.
  commit_retired();
  if (finished_)
    return;
  pump();
  check_done();
}

void flow_output::finished_out_of_order(const caf::actor_addr& from,
                                        const std::vector<uint64_t>& batches) {
  auto* l = find(from);
  if (l == nullptr)
    return;
  for (auto b : batches) {
    // Batches the consumer does not have are ignored, as above.
    if (b < l->acked_batches || b - l->acked_batches >= l->unacked.size())
      continue;
    auto& batch = l->unacked[b - l->acked_batches];
    if (batch.finished)
      continue;
    retire(*l, batch);
    batch.finished = true;
    batch.msg = caf::message{};
    batch.single.reset();
  }
  // Its grant follows: pumping waits for it.
  commit_retired();
}

void flow_output::cancel(const caf::actor_addr& from, uint64_t acked_through) {
  auto* l = find(from);
  if (l == nullptr)
    return;
  acknowledge(*l, acked_through);
  self_->demonitor(l->consumer);
  // What it did not finish goes to the others, if any are left.
  drop_link(from, true);
  commit_retired();
  if (finished_)
    return;
  if (links_.empty()) {
    // Every consumer left on purpose: cancellation flows upstream, and
    // the items nobody wants are dropped knowingly, not lost.
    finish(caf::make_error(flow_errc::cancelled));
    return;
  }
  pump();
  check_done();
}

void flow_output::acknowledge(link& l, uint64_t acked_through) {
  while (l.acked_batches < acked_through && !l.unacked.empty()) {
    auto& front = l.unacked.front();
    if (!front.finished)
      retire(l, front);
    l.retained_items -= front.count;
    l.unacked.pop_front();
    ++l.acked_batches;
  }
}

void flow_output::retire(link& l, const sent_batch& b) {
  l.unacked_items -= b.count;
  // Merged with the range before it when they touch: in order, one range.
  if (!retired_.empty() && retired_.back().first + retired_.back().second == b.first_seq)
    retired_.back().second += b.count;
  else
    retired_.emplace_back(b.first_seq, b.count);
}

void flow_output::commit_retired() {
  // Swapped out first: committing runs user code (`on_acknowledged`,
  // `on_commit`) that may end the output, or retire more.
  auto ranges = std::move(retired_);
  retired_.clear();
  for (auto& [first, count] : ranges) {
    if (!failures_.empty())
      failures_.erase(failures_.lower_bound(first), failures_.lower_bound(first + count));
    commit_range(first, count);
  }
  ranges.clear();
  if (retired_.empty())
    retired_ = std::move(ranges); // keep the buffer
}

bool flow_output::on_down(const caf::down_msg& dm) {
  if (find(dm.source) == nullptr)
    return false;
  drop_link(dm.source, true);
  check_consumers_left();
  pump();
  check_done();
  return true;
}

void flow_output::failed(const caf::actor_addr& from, seq_t seq, caf::error err) {
  if (cfg_.max_deliveries == 0)
    return;
  auto* l = find(from);
  if (l == nullptr)
    return;
  // Only an item this consumer holds counts: a confused or hostile consumer
  // cannot dead-letter items that are not its own.
  for (auto& b : l->unacked) {
    if (!b.finished && seq >= b.first_seq && seq < b.first_seq + b.count) {
      auto& rec = failures_[seq];
      ++rec.count;
      rec.last = std::move(err);
      return;
    }
  }
}

bool flow_output::strip_dead_letters(sent_batch& b) {
  if (failures_.empty())
    return true;
  auto i = failures_.lower_bound(b.first_seq);
  for (; i != failures_.end() && i->first < b.first_seq + b.count; ++i)
    if (i->second.count >= cfg_.max_deliveries)
      break;
  if (i == failures_.end() || i->first >= b.first_seq + b.count)
    return true;
  auto offset = static_cast<uint32_t>(i->first - b.first_seq);
  if (offset + 1 < b.count) {
    // What follows the poison item waits at the front, checked again.
    redeliver_.push_front(sent_batch{
      slice(b, offset + 1, b.count - offset - 1), {}, i->first + 1, b.count - offset - 1});
  }
  dead_letter_item(
    dead_letter{i->first, i->second.count, std::move(i->second.last), slice(b, offset, 1)});
  failures_.erase(i);
  if (offset == 0)
    return false;
  b.msg = slice(b, 0, offset);
  b.count = offset;
  return true;
}

void flow_output::dead_letter_item(dead_letter letter) {
  ++stats_.dead_lettered;
  if (cfg_.on_dead_letter)
    cfg_.on_dead_letter(letter);
  else
    logger("troupe.flow")
      ->warn("dead letter: item {} failed {} handlers ({})", letter.seq, letter.failures,
             messages::describe(letter.error));
  commit_range(letter.seq, 1); // it goes no further: the stream moves on
}

void flow_output::commit_range(seq_t first, uint32_t n) {
  self_->on_acknowledged(first, n);
  if (!cfg_.on_commit || n == 0 || first + n - 1 <= committed_)
    return; // nothing new (no path acknowledges twice; be safe anyway)
  if (first != committed_ + 1) {
    // A gap before it: remember the range until the gap fills. Consumers
    // each acknowledge their own run in order, so the common case extends
    // the range that ends right before it, without a new node.
    auto last = first + n - 1;
    auto next = acked_ahead_.lower_bound(first);
    if (next != acked_ahead_.begin()) {
      auto prev = std::prev(next);
      if (prev->second + 1 == first) {
        prev->second = last;
        if (next != acked_ahead_.end() && next->first == last + 1) {
          prev->second = next->second;
          acked_ahead_.erase(next);
        }
        return;
      }
    }
    if (next != acked_ahead_.end() && next->first == last + 1) {
      auto end = next->second;
      acked_ahead_.erase(next);
      acked_ahead_.emplace(first, end);
      return;
    }
    acked_ahead_.emplace(first, last);
    return;
  }
  committed_ += n;
  for (auto i = acked_ahead_.begin(); i != acked_ahead_.end() && i->first == committed_ + 1;
       i = acked_ahead_.erase(i))
    committed_ = i->second;
  cfg_.on_commit(committed_);
}

void flow_output::drop_link(const caf::actor_addr& addr, bool redeliver) {
  auto i = std::find_if(links_.begin(), links_.end(),
                        [&](const link& l) { return l.consumer.address() == addr; });
  if (i == links_.end())
    return;
  if (redeliver) {
    // At-least-once: whatever the consumer did not acknowledge goes to the
    // others, oldest first and ahead of new items.
    for (auto& b : i->unacked)
      if (!b.finished) // finished out of order: done, never again
        redeliver_.push_back(std::move(b));
  }
  links_.erase(i);
  if (next_link_ >= links_.size())
    next_link_ = 0;
}

void flow_output::check_consumers_left() {
  if (finished_ || !links_.empty() || !had_consumer_)
    return;
  if (redeliver_.empty() && source_done_)
    return; // nothing left to lose
  if (cfg_.no_consumer_grace == caf::timespan::max())
    return; // wait for the next consumer as long as we live
  if (cfg_.no_consumer_grace.count() > 0) {
    self_->delayed_send(self_, cfg_.no_consumer_grace, grace_atom::value, epoch_);
    return;
  }
  uint64_t pending = 0;
  for (auto& b : redeliver_)
    pending += b.count;
  fail(caf::make_error(flow_errc::no_consumers,
                       std::to_string(pending) + " unacknowledged items"));
}

bool flow_output::may_send(const link& l) const {
  // Retained (unacknowledged) items are capped too: a consumer whose oldest
  // batch is stuck cannot make the producer hoard newer ones without bound.
  // Batches finished out of order behind a stuck one hold no items, only a
  // small record each until the stuck one is done: capped far higher.
  // Except for a source that commits its position: a restart replays
  // everything after the committed position, finished or not, so its window
  // stays 2 x capacity items from the oldest unfinished one (the
  // documented bound on duplicates per restart).
  if (cfg_.on_commit)
    return l.credit > 0 && l.retained_items < 2 * l.capacity;
  return l.credit > 0 && l.unacked_items < 2 * l.capacity
    && l.unacked.size() < max_retained_batches * l.capacity;
}

bool flow_output::waiting_for_demand() const {
  if (finished_ || source_done_ || source_waiting_)
    return false;
  for (auto& l : links_)
    if (may_send(l))
      return false;
  return true;
}

uint64_t flow_output::current_wait_ns() const {
  if (waiting_since_ == caf::actor_clock::time_point::max())
    return 0;
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(self_->clock().now() - waiting_since_)
      .count());
}

flow_stats flow_output::stats() const {
  auto result = stats_;
  result.demand_wait_ns += current_wait_ns();
  return result;
}

void flow_output::pump() {
  if (pumping_ || finished_)
    return; // re-entered from a hook; the outer loop continues
  if (waiting_since_ != caf::actor_clock::time_point::max() && !waiting_for_demand()) {
    // Demand came (or the source ran dry): the wait ends here.
    stats_.demand_wait_ns += current_wait_ns();
    waiting_since_ = caf::actor_clock::time_point::max();
  }
  pumping_ = true;
  // Serve each consumer until its credit is used up before moving on:
  // consecutive messages to one consumer find it awake, while interleaving
  // them would wake every consumer once per item.
  for (size_t visited = 0; visited < links_.size() && !finished_; ++visited) {
    auto index = (next_link_ + visited) % links_.size();
    while (!finished_ && index < links_.size() && may_send(links_[index])) {
      if (!send_next(links_[index]))
        break;
    }
  }
  if (!links_.empty())
    next_link_ = (next_link_ + 1) % links_.size();
  pumping_ = false;
  if (waiting_since_ == caf::actor_clock::time_point::max() && waiting_for_demand())
    waiting_since_ = self_->clock().now();
  request_flushes();
}

void flow_output::request_flushes() {
  if (finished_)
    return;
  bool source_idle = source_done_ || source_waiting_;
  for (auto& l : links_) {
    if (l.flush_requested || l.unacked.empty())
      continue;
    // Stalled on this consumer's acknowledgements: the source has nothing
    // more (so `done` waits for them), or retention blocks despite credit.
    bool retention_blocked = l.credit > 0 && !may_send(l);
    if ((source_idle && redeliver_.empty()) || retention_blocked) {
      l.flush_requested = true;
      self_->send(l.consumer, flow_flush_atom::value);
    }
  }
}

bool flow_output::send_next(link& l) {
  while (!redeliver_.empty()) {
    auto b = std::move(redeliver_.front());
    redeliver_.pop_front();
    if (cfg_.max_deliveries > 0 && !strip_dead_letters(b))
      continue; // it was all poison
    if (b.count > l.credit) {
      // Split: send what fits now, keep the rest at the front.
      auto n = static_cast<uint32_t>(l.credit);
      sent_batch rest{slice(b, n, b.count - n), {}, b.first_seq + n, b.count - n};
      b.msg = slice(b, 0, n);
      b.count = n;
      redeliver_.push_front(std::move(rest));
    }
    stats_.redelivered += b.count;
    send(l, std::move(b));
    return true;
  }
  if (source_done_ || source_waiting_)
    return false;
  auto n = static_cast<size_t>(std::min<uint64_t>(l.credit, cfg_.batch_size));
  if (n == 0) {
    ++stats_.pulls_without_demand; // unreachable: may_send checked credit
    return false;
  }
  stats_.max_pull = std::max<uint64_t>(stats_.max_pull, n);
  auto first = next_seq_;
  auto result = self_->pull_batch(n, first);
  if (finished_)
    return false; // the actor failed the output itself
  if (result.error) {
    fail(result.error);
    return false;
  }
  if (result.count > n) {
    fail(caf::make_error(flow_errc::source_failed,
                         "source pushed " + std::to_string(result.count)
                           + " items for a demand of " + std::to_string(n)));
    return false;
  }
  bool sent = false;
  if (result.count > 0) {
    next_seq_ += result.count;
    stats_.pulled += result.count;
    send(l,
         sent_batch{std::move(result.items), std::move(result.single), first,
                    static_cast<uint32_t>(result.count)});
    sent = true;
  }
  if (result.status == pull_status::done)
    source_done_ = true;
  else if (result.status == pull_status::wait || result.count == 0)
    source_waiting_ = true; // `more` with nothing is a wait, not a spin
  return sent;
}

void flow_output::send(link& l, sent_batch b) {
  l.credit -= b.count;
  l.outstanding += b.count;
  l.unacked_items += b.count;
  l.retained_items += b.count;
  stats_.sent += b.count;
  stats_.max_outstanding = std::max(stats_.max_outstanding, l.outstanding);
  if (b.single.has_value())
    self_->send_single(l.consumer, b.first_seq, b.single); // a copy
  else
    self_->send(l.consumer, b.msg); // shared with the retained one (copy on write)
  l.unacked.push_back(std::move(b));
}

caf::message flow_output::slice(const sent_batch& b, size_t offset, size_t n) {
  if (b.single.has_value())
    return self_->single_batch(b.first_seq, b.single); // one item: all of it
  return self_->slice(b.msg, offset, n);
}

void flow_output::close() {
  if (finished_ || source_done_)
    return;
  source_done_ = true;
  source_waiting_ = false;
  pump();
  check_done();
}

uint64_t flow_output::unfinished() const noexcept {
  uint64_t result = 0;
  for (auto& l : links_)
    result += l.unacked_items;
  for (auto& b : redeliver_)
    result += b.count;
  return result;
}

void flow_output::resume() {
  if (!source_waiting_ || finished_)
    return;
  source_waiting_ = false;
  pump();
  check_done();
}

void flow_output::check_done() {
  if (finished_ || !source_done_ || !redeliver_.empty())
    return;
  for (auto& l : links_)
    if (!l.unacked.empty())
      return;
  for (auto& l : links_)
    self_->send(l.consumer, flow_done_atom::value, caf::error{});
  finish(caf::error{});
}

void flow_output::fail(const caf::error& err) {
  if (finished_)
    return;
  for (auto& l : links_)
    self_->send(l.consumer, flow_done_atom::value, err);
  finish(err);
}

void flow_output::finish(const caf::error& err) {
  finished_ = true;
  for (auto& l : links_)
    self_->demonitor(l.consumer);
  links_.clear();
  redeliver_.clear();
  self_->on_output_finished(err);
}

} // namespace troupe::actors
