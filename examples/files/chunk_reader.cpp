#include "chunk_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>

#include <caf/all.hpp>

#include <troupe/actors/blocking_pool.hpp>
#include <troupe/actors/credit.hpp>
#include <troupe/actors/producer.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/services/rpc_errc.hpp>

namespace files {

namespace {

using namespace std::chrono_literals;
using troupe::actors::pull_status;
using troupe::services::rpc_errc;

using read_atom = caf::atom_constant<caf::atom("fl_read")>;

/// An open file, closed when the last reader of it goes.
struct open_file {
  int fd = -1;
  uint64_t size = 0;
  ~open_file() {
    if (fd >= 0)
      ::close(fd);
  }
};

using open_file_ptr = std::shared_ptr<open_file>;

/// Reads whole records at `offset`: up to `max` bytes, cut after the last
/// newline (all of it at the end of the file). Blocking: pool threads only.
caf::expected<v1::Chunk> read_chunk(const open_file& file, uint64_t offset, uint32_t max) {
  v1::Chunk chunk;
  chunk.set_offset(offset);
  auto want = static_cast<size_t>(std::min<uint64_t>(max, file.size - offset));
  std::string data(want, '\0');
  size_t got = 0;
  while (got < want) {
    auto n = ::pread(file.fd, data.data() + got, want - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return caf::make_error(rpc_errc::internal,
                             std::string{"cannot read: "} + std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  if (offset + want < file.size) {
    auto nl = data.rfind('\n');
    if (nl == std::string::npos)
      return caf::make_error(rpc_errc::failed_precondition,
                             "a record at offset " + std::to_string(offset)
                               + " is longer than " + std::to_string(max) + " bytes");
    data.resize(nl + 1);
  }
  chunk.set_data(std::move(data));
  return chunk;
}

/// Chunks read ahead, between the reading actor and the stream's producer.
/// Thread-safe: they are different actors.
class chunk_feed {
public:
  chunk_feed(uint64_t offset, uint64_t size, uint32_t read_ahead)
    : next_(offset), size_(size), read_ahead_(read_ahead) {}

  void attach(caf::actor producer, caf::actor reader) {
    std::lock_guard<std::mutex> guard{mtx_};
    producer_ = producer.address();
    reader_ = std::move(reader);
  }

  ~chunk_feed() {
    // The stream is over: its reader goes with it.
    if (reader_)
      caf::anon_send_exit(reader_, caf::exit_reason::user_shutdown);
  }

  /// The producer's source.
  pull_status pull(size_t demand, std::vector<v1::Chunk>& out) {
    caf::actor reader;
    pull_status result;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (error_)
        throw std::runtime_error(error_text_);
      while (out.size() < demand && !ready_.empty()) {
        out.push_back(std::move(ready_.front()));
        ready_.pop_front();
      }
      if (wants_read())
        reader = reader_;
      bool at_end = next_ >= size_ && !reading_ && ready_.empty();
      result =
        at_end ? pull_status::done : (ready_.empty() ? pull_status::wait : pull_status::more);
      if (reader)
        reading_ = true;
    }
    if (reader)
      caf::anon_send(reader, read_atom::value);
    return result;
  }

  /// The next offset to read, for the reading actor.
  uint64_t next() {
    std::lock_guard<std::mutex> guard{mtx_};
    return next_;
  }

  /// A chunk read; returns whether to read another one.
  bool push(v1::Chunk chunk) {
    caf::actor producer;
    bool again;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      next_ = chunk.offset() + chunk.data().size();
      ready_.push_back(std::move(chunk));
      reading_ = false;
      again = wants_read();
      reading_ = again;
      producer = caf::actor_cast<caf::actor>(producer_);
    }
    if (producer)
      caf::anon_send(producer, troupe::actors::flow_resume_atom::value);
    return again;
  }

  void fail(const caf::error& err) {
    caf::actor producer;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      error_ = true;
      error_text_ = troupe::messages::describe(err);
      producer = caf::actor_cast<caf::actor>(producer_);
    }
    if (producer)
      caf::anon_send(producer, troupe::actors::flow_resume_atom::value);
  }

private:
  /// Requires the lock.
  bool wants_read() const {
    return !reading_ && !error_ && next_ < size_ && ready_.size() < read_ahead_;
  }

  std::mutex mtx_;
  uint64_t next_;
  uint64_t size_;
  uint32_t read_ahead_;
  bool reading_ = false;
  bool error_ = false;
  std::string error_text_;
  std::deque<v1::Chunk> ready_;
  caf::actor_addr producer_;
  caf::actor reader_;
};

using chunk_feed_ptr = std::shared_ptr<chunk_feed>;

/// Reads the next chunk on the pool whenever the feed asks for one.
caf::behavior chunk_reading(caf::event_based_actor* self, std::weak_ptr<chunk_feed> weak,
                            open_file_ptr file, caf::actor pool, uint32_t chunk_bytes) {
  return {
    [=](read_atom) {
      auto feed = weak.lock();
      if (!feed)
        return;
      auto offset = feed->next();
      // A read that fails throws: the pool answers handler_failed with
      // its text, and the stream fails with it.
      troupe::actors::run_blocking(self, pool, 60s,
                                   [file, offset, chunk_bytes] {
                                     auto chunk = read_chunk(*file, offset, chunk_bytes);
                                     if (!chunk)
                                       throw std::runtime_error(
                                         troupe::messages::describe(chunk.error()));
                                     return std::move(*chunk);
                                   })
        .then(
          [=](v1::Chunk& chunk) {
            auto feed = weak.lock();
            if (feed && feed->push(std::move(chunk)))
              self->send(self, read_atom::value);
          },
          [=](caf::error& err) {
            if (auto feed = weak.lock())
              feed->fail(err);
          });
    },
  };
}

} // namespace

reader_service::reader_service(reader_config cfg) : cfg_(std::move(cfg)) {
  // nop
}

troupe::services::stream_reply<v1::Chunk>
reader_service::chunks(troupe::services::server_call&, const v1::ChunkRequest& req) {
  auto file = std::make_shared<open_file>();
  file->fd = ::open(cfg_.path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (file->fd < 0 || ::fstat(file->fd, &st) != 0)
    return caf::make_error(rpc_errc::not_found,
                           "cannot open " + cfg_.path + ": " + std::strerror(errno));
  file->size = static_cast<uint64_t>(st.st_size);
  if (req.from_offset() > file->size)
    return caf::make_error(rpc_errc::out_of_range,
                           "offset " + std::to_string(req.from_offset()) + " is past the end ("
                             + std::to_string(file->size) + " bytes)");
  if (!pool_) {
    auto pool = troupe::actors::spawn_blocking_pool(self()->home_system(), cfg_.threads);
    if (!pool)
      return caf::make_error(rpc_errc::internal, "cannot start the reading pool");
    pool_ = *pool;
  }
  auto feed = std::make_shared<chunk_feed>(req.from_offset(), file->size, cfg_.read_ahead);
  auto reader = self()->spawn(chunk_reading, std::weak_ptr<chunk_feed>{feed}, file, pool_,
                              cfg_.chunk_bytes);
  // One chunk per batch: a batch's size is what the caller's capacity
  // counts, and chunks are large.
  auto producer = troupe::actors::spawn_producer<v1::Chunk>(
    *self(), troupe::actors::producer_config{1, {}},
    [feed](size_t demand, std::vector<v1::Chunk>& out) { return feed->pull(demand, out); });
  if (!producer) {
    caf::anon_send_exit(reader, caf::exit_reason::user_shutdown);
    return caf::make_error(rpc_errc::internal,
                           "cannot start the stream's producer: "
                             + troupe::messages::describe(producer.error()));
  }
  feed->attach(*producer, reader);
  return troupe::services::stream_reply<v1::Chunk>::owned(std::move(*producer));
}

void reader_service::on_stop() {
  if (pool_)
    caf::anon_send_exit(pool_, caf::exit_reason::user_shutdown);
}

} // namespace files
