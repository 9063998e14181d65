#include "chunk_feed.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <troupe/actors/flow/flow_actor.hpp>

#include "read_ahead.hpp"

namespace files {

using troupe::actors::pull_status;

chunk_feed::chunk_feed(uint64_t offset, uint64_t size, uint32_t chunk_bytes,
                       uint32_t in_flight, uint32_t read_ahead)
  : next_from_(offset),
    size_(size),
    chunk_bytes_(std::max<uint32_t>(chunk_bytes, 1)),
    max_in_flight_(std::max<uint32_t>(in_flight, 1)),
    read_ahead_(std::max(read_ahead, max_in_flight_)) {
  // nop
}

chunk_feed::~chunk_feed() {
  if (reader_)
    caf::anon_send_exit(reader_, caf::exit_reason::user_shutdown);
}

void chunk_feed::attach(const caf::actor& producer, caf::actor reader) {
  std::lock_guard<std::mutex> guard{mtx_};
  producer_ = producer.address();
  reader_ = std::move(reader);
}

pull_status chunk_feed::pull(size_t demand, std::vector<v1::ChunkTotals>& out) {
  caf::actor reader;
  pull_status result;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    // Chunks before the one that failed go first: they are good.
    while (out.size() < demand && !ready_.empty()) {
      out.push_back(std::move(ready_.front()));
      ready_.pop_front();
    }
    bool failure_next = error_ && ready_.empty() && next_ready_ == failed_index_;
    if (failure_next && out.empty())
      throw troupe::actors::typed_failure{error_};
    if (wants_job())
      reader = reader_;
    if (failure_next || !ready_.empty())
      result = pull_status::more; // pull again: what is next is known
    else if (error_)
      result = pull_status::wait; // chunks before the failure are in flight
    else if (next_from_ >= size_ && in_flight_ == 0 && early_.empty())
      result = pull_status::done;
    else
      result = pull_status::wait; // the next chunk is being totalled
  }
  if (reader)
    caf::anon_send(reader, read_atom::value);
  return result;
}

std::optional<chunk_job> chunk_feed::take_job() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!wants_job())
    return std::nullopt;
  // Cut at the next multiple of chunk_bytes: the same points whatever
  // offset the stream started from, and whichever job gets there first.
  auto to = std::min(size_, (next_from_ / chunk_bytes_ + 1) * chunk_bytes_);
  chunk_job job{next_index_++, next_from_, next_exact_, to};
  next_from_ = to;
  next_exact_ = false;
  ++in_flight_;
  return job;
}

void chunk_feed::push(uint64_t index, v1::ChunkTotals totals) {
  caf::actor_addr producer;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    --in_flight_;
    if (error_ && index > failed_index_)
      return; // after the failure: never handed out (the job ran anyway)
    early_.emplace(index, std::move(totals));
    for (auto i = early_.begin(); i != early_.end() && i->first == next_ready_;
         i = early_.erase(i), ++next_ready_)
      ready_.push_back(std::move(i->second));
    producer = producer_;
  }
  wake_producer(producer);
}

void chunk_feed::fail(uint64_t index, caf::error err) {
  caf::actor_addr producer;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    --in_flight_;
    if (error_ && index > failed_index_)
      return;
    error_ = std::move(err);
    failed_index_ = index;
    early_.erase(early_.upper_bound(index), early_.end());
    producer = producer_;
  }
  wake_producer(producer);
}

bool chunk_feed::wants_job() const {
  return !error_ && next_from_ < size_ && in_flight_ < max_in_flight_
    && in_flight_ + early_.size() + ready_.size() < read_ahead_;
}

void chunk_feed::wake_producer(const caf::actor_addr& producer) {
  if (auto p = caf::actor_cast<caf::actor>(producer))
    caf::anon_send(p, troupe::actors::flow_resume_atom::value);
}

} // namespace files
