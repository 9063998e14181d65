#include "chunk_feed.hpp"

#include <caf/actor_cast.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include <troupe/actors/flow/flow_actor.hpp>

#include "read_ahead.hpp"

namespace files {

using troupe::actors::pull_status;

chunk_feed::chunk_feed(uint64_t offset, uint64_t size, uint32_t read_ahead)
  : next_(offset), size_(size), read_ahead_(read_ahead) {
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

pull_status chunk_feed::pull(size_t demand, std::vector<v1::Chunk>& out) {
  caf::actor reader;
  pull_status result;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (error_)
      throw troupe::actors::typed_failure{error_};
    while (out.size() < demand && !ready_.empty()) {
      out.push_back(std::move(ready_.front()));
      ready_.pop_front();
    }
    if (wants_read()) {
      reading_ = true;
      reader = reader_;
    }
    if (next_ >= size_ && !reading_ && ready_.empty())
      result = pull_status::done;
    else
      result = ready_.empty() ? pull_status::wait : pull_status::more;
  }
  if (reader)
    caf::anon_send(reader, read_atom::value);
  return result;
}

uint64_t chunk_feed::next() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return next_;
}

bool chunk_feed::push(v1::Chunk chunk) {
  caf::actor_addr producer;
  bool again;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    next_ = chunk.offset() + chunk.data().size();
    ready_.push_back(std::move(chunk));
    reading_ = false;
    again = wants_read();
    reading_ = again;
    producer = producer_;
  }
  wake_producer(producer);
  return again;
}

void chunk_feed::fail(caf::error err) {
  caf::actor_addr producer;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    error_ = std::move(err);
    reading_ = false;
    producer = producer_;
  }
  wake_producer(producer);
}

bool chunk_feed::wants_read() const {
  return !reading_ && !error_ && next_ < size_ && ready_.size() < read_ahead_;
}

void chunk_feed::wake_producer(const caf::actor_addr& producer) {
  if (auto p = caf::actor_cast<caf::actor>(producer))
    caf::anon_send(p, troupe::actors::flow_resume_atom::value);
}

} // namespace files
