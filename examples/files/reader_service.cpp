#include "reader_service.hpp"

#include <memory>

#include <caf/all.hpp>

#include <troupe/actors/blocking_pool.hpp>
#include <troupe/actors/producer.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/services/rpc_errc.hpp>

#include "chunk_feed.hpp"
#include "file_chunks.hpp"
#include "read_ahead.hpp"

namespace files {

using troupe::services::rpc_errc;

reader_service::reader_service(reader_config cfg) : cfg_(std::move(cfg)) {
  // nop
}

troupe::services::stream_reply<v1::ChunkTotals>
reader_service::totals(troupe::services::server_call&, const v1::ChunkRequest& req) {
  auto file = open_file::open(cfg_.path);
  if (!file)
    return file.error();
  auto from = req.from_offset();
  if (from > (*file)->size())
    return caf::make_error(rpc_errc::out_of_range,
                           "offset " + std::to_string(from) + " is past the end ("
                             + std::to_string((*file)->size()) + " bytes)");
  // One small read, so a caller that resumes mid-record gets an error, not
  // totals of half-records.
  auto starts = (*file)->at_record_start(from);
  if (!starts)
    return starts.error();
  if (!*starts)
    return caf::make_error(rpc_errc::invalid_argument,
                           "offset " + std::to_string(from) + " is inside a record");
  if (!pool_) {
    auto pool = troupe::actors::spawn_blocking_pool(self()->home_system(), cfg_.threads);
    if (!pool)
      return caf::make_error(rpc_errc::internal,
                             "cannot start the reading pool: "
                               + troupe::messages::describe(pool.error()));
    pool_ = *pool;
  }
  auto feed = std::make_shared<chunk_feed>(from, (*file)->size(), cfg_.chunk_bytes,
                                           cfg_.threads, cfg_.read_ahead);
  auto reader =
    self()->spawn<read_ahead>(std::weak_ptr<chunk_feed>{feed}, std::move(*file), pool_);
  // One chunk's totals per batch: the caller's capacity counts chunks.
  auto producer = troupe::actors::spawn_producer<v1::ChunkTotals>(
    *self(), troupe::actors::producer_config{1, {}},
    [feed](size_t demand, std::vector<v1::ChunkTotals>& out) {
      return feed->pull(demand, out);
    });
  if (!producer) {
    caf::anon_send_exit(reader, caf::exit_reason::user_shutdown);
    return caf::make_error(rpc_errc::internal,
                           "cannot start the stream's producer: "
                             + troupe::messages::describe(producer.error()));
  }
  feed->attach(*producer, caf::actor_cast<caf::actor>(reader));
  return troupe::services::stream_reply<v1::ChunkTotals>::owned(std::move(*producer));
}

void reader_service::on_stop() {
  if (pool_)
    caf::anon_send_exit(pool_, caf::exit_reason::user_shutdown);
}

} // namespace files
