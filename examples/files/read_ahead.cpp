#include "read_ahead.hpp"

#include <troupe/actors/blocking_pool.hpp>

#include "chunk_feed.hpp"

namespace files {

using namespace std::chrono_literals;

read_ahead::read_ahead(caf::actor_config& cfg, std::weak_ptr<chunk_feed> feed,
                       open_file_ptr file, caf::actor pool, uint32_t chunk_bytes)
  : read_ahead_actor::base(cfg),
    feed_(std::move(feed)),
    file_(std::move(file)),
    pool_(std::move(pool)),
    chunk_bytes_(chunk_bytes) {
  // nop
}

read_ahead::behavior_type read_ahead::make_behavior() {
  return {
    [this](read_atom) { read_next(); },
  };
}

void read_ahead::read_next() {
  auto feed = feed_.lock();
  if (!feed)
    return;
  auto offset = feed->next();
  troupe::actors::run_blocking(
    this, pool_, 60s,
    [file = file_, offset, max = chunk_bytes_] { return file->read_chunk(offset, max); })
    .then(
      [this](v1::Chunk& chunk) {
        auto feed = feed_.lock();
        if (feed && feed->push(std::move(chunk)))
          read_next();
      },
      [this](caf::error& err) {
        if (auto feed = feed_.lock())
          feed->fail(std::move(err));
      });
}

} // namespace files
