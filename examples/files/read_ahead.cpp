#include "read_ahead.hpp"

#include <troupe/actors/blocking_pool.hpp>

#include "chunk_feed.hpp"

namespace files {

using namespace std::chrono_literals;

namespace {

/// Longest record the reader accepts.
constexpr uint32_t max_record_bytes = 1u << 20;

} // namespace

read_ahead::read_ahead(caf::actor_config& cfg, std::weak_ptr<chunk_feed> feed,
                       open_file_ptr file, caf::actor pool)
  : read_ahead_actor::base(cfg),
    feed_(std::move(feed)),
    file_(std::move(file)),
    pool_(std::move(pool)) {
  // nop
}

read_ahead::behavior_type read_ahead::make_behavior() {
  return {
    [this](read_atom) { start_jobs(); },
  };
}

void read_ahead::start_jobs() {
  auto feed = feed_.lock();
  if (!feed)
    return;
  while (auto job = feed->take_job()) {
    troupe::actors::run_blocking(this, pool_, 60s,
                                 [file = file_, job = *job] {
                                   return file->total_chunk(job.from, job.exact, job.to,
                                                            max_record_bytes);
                                 })
      .then(
        [this, index = job->index](v1::ChunkTotals& totals) {
          if (auto feed = feed_.lock()) {
            feed->push(index, std::move(totals));
            start_jobs();
          }
        },
        [this, index = job->index](caf::error& err) {
          if (auto feed = feed_.lock())
            feed->fail(index, std::move(err));
        });
  }
}

} // namespace files
