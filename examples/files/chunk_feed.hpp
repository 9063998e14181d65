#pragma once

// Chunks totalled ahead, between the actor that has them totalled on the
// blocking pool (read_ahead.hpp) and the producer of a Totals stream, which
// pulls them in file order at its caller's pace. Up to `in_flight` chunks
// are totalled at once (they are cut at fixed points, so each can be
// totalled alone: `open_file::total_chunk`), and at most `read_ahead`
// chunks are in flight or wait here. They are different actors, so every
// member is thread-safe.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/error.hpp>

#include <troupe/actors/credit.hpp>

#include "files.pb.h"

namespace files {

/// One chunk to total: `open_file::total_chunk(from, exact, to)`; `index`
/// is its place in the stream.
struct chunk_job {
  uint64_t index;
  uint64_t from;
  bool exact;
  uint64_t to;
};

class chunk_feed {
public:
  /// From `offset` (a record boundary) to `size`, cut every `chunk_bytes`.
  chunk_feed(uint64_t offset, uint64_t size, uint32_t chunk_bytes, uint32_t in_flight,
             uint32_t read_ahead);

  /// Stops the reader: the stream is over.
  ~chunk_feed();

  chunk_feed(const chunk_feed&) = delete;
  chunk_feed& operator=(const chunk_feed&) = delete;

  /// The producer that pulls and the actor that totals (told to start jobs
  /// with `read_atom`).
  void attach(const caf::actor& producer, caf::actor reader);

  /// The producer's source: the chunks totalled so far, in file order, up
  /// to `demand`; asks for more jobs when there is room. A failed job
  /// throws its typed error (`typed_failure`): the stream fails with it.
  troupe::actors::pull_status pull(size_t demand, std::vector<v1::ChunkTotals>& out);

  /// The next chunk to total, if there is room for it (it is then in
  /// flight until `push` or `fail`).
  std::optional<chunk_job> take_job();

  /// Chunk `index` is totalled.
  void push(uint64_t index, v1::ChunkTotals totals);

  /// Job `index` failed. The stream fails with the earliest failure in
  /// file order, once every chunk before it went out: the error a user
  /// sees names the first bad record, whichever job finished first.
  void fail(uint64_t index, caf::error err);

private:
  /// Requires the lock.
  bool wants_job() const;

  /// Wakes the producer (without the lock).
  void wake_producer(const caf::actor_addr& producer);

  mutable std::mutex mtx_;
  /// Where the next job starts; exact only for the first.
  uint64_t next_from_;
  bool next_exact_ = true;
  uint64_t next_index_ = 0;
  uint64_t size_;
  uint32_t chunk_bytes_;
  uint32_t max_in_flight_;
  uint32_t read_ahead_;
  uint32_t in_flight_ = 0;
  /// The earliest failed job so far, and its error.
  caf::error error_;
  uint64_t failed_index_ = 0;
  /// Totalled ahead of their turn, by index.
  std::map<uint64_t, v1::ChunkTotals> early_;
  /// The next index to go to `ready_`.
  uint64_t next_ready_ = 0;
  std::deque<v1::ChunkTotals> ready_;
  caf::actor_addr producer_;
  caf::actor reader_;
};

using chunk_feed_ptr = std::shared_ptr<chunk_feed>;

} // namespace files
