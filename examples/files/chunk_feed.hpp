#pragma once

// Chunks read ahead, between the actor that reads them (read_ahead.hpp) and
// the producer of a Chunks stream, which pulls them at its caller's pace.
// At most `read_ahead` chunks wait here; one read runs at a time. They are
// different actors, so every member is thread-safe.

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/error.hpp>

#include <troupe/actors/credit.hpp>

#include "files.pb.h"

namespace files {

class chunk_feed {
public:
  chunk_feed(uint64_t offset, uint64_t size, uint32_t read_ahead);

  /// Stops the reader: the stream is over.
  ~chunk_feed();

  chunk_feed(const chunk_feed&) = delete;
  chunk_feed& operator=(const chunk_feed&) = delete;

  /// The producer that pulls and the actor that reads (told to read with
  /// `read_atom`).
  void attach(const caf::actor& producer, caf::actor reader);

  /// The producer's source: the chunks read so far, up to `demand`; asks
  /// for the next read when there is room. A failed read throws its typed
  /// error (`typed_failure`): the stream fails with it.
  troupe::actors::pull_status pull(size_t demand, std::vector<v1::Chunk>& out);

  /// The next offset to read.
  uint64_t next() const;

  /// A chunk was read; returns whether to read another one now.
  bool push(v1::Chunk chunk);

  /// A read failed.
  void fail(caf::error err);

private:
  /// Requires the lock.
  bool wants_read() const;

  /// Wakes the producer (without the lock).
  void wake_producer(const caf::actor_addr& producer);

  mutable std::mutex mtx_;
  uint64_t next_;
  uint64_t size_;
  uint32_t read_ahead_;
  bool reading_ = false;
  caf::error error_;
  std::deque<v1::Chunk> ready_;
  caf::actor_addr producer_;
  caf::actor reader_;
};

using chunk_feed_ptr = std::shared_ptr<chunk_feed>;

} // namespace files
