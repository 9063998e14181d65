#pragma once

// The reader process's Reader service: streams the totals of a file of
// records, a chunk of whole records at a time, from any record boundary, in
// file order, at the caller's pace. The records are read and totalled where
// the file is, on the blocking pool, `threads` chunks at once
// (read_ahead.hpp), at most `read_ahead` chunks ahead: what crosses the
// wire is each chunk's totals, not its bytes. Memory per stream is bounded
// by `threads` chunks of `chunk_bytes` plus read_ahead + the caller's
// capacity chunks' totals.

#include <cstdint>
#include <string>

#include <troupe/services/reply.hpp>
#include <troupe/services/stream_reply.hpp>

#include "files.pb.h"

namespace files {

struct reader_config {
  std::string path;
  uint32_t chunk_bytes = 1u << 20;
  /// Chunks being totalled or waiting for the caller, at most.
  uint32_t read_ahead = 6;
  /// Threads reading and totalling: chunks totalled at once.
  uint32_t threads = 4;
};

class reader_service final : public v1::Reader::Service {
public:
  explicit reader_service(reader_config cfg);

  /// `not_found` for a missing file, `out_of_range` past its end,
  /// `invalid_argument` for an offset inside a record.
  troupe::services::stream_reply<v1::ChunkTotals> totals(troupe::services::server_call& call,
                                                         const v1::ChunkRequest& req) override;

  void on_stop() override;

private:
  reader_config cfg_;
  caf::actor pool_;
};

} // namespace files
