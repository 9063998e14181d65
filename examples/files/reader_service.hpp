#pragma once

// The reader process's Reader service: streams a file of records in chunks
// of whole records, from any record boundary, at the caller's pace. Reads
// run on the blocking pool (read_ahead.hpp), at most `read_ahead` chunks
// ahead; memory per stream is bounded by read_ahead + the caller's
// capacity chunks of `chunk_bytes`.

#include <cstdint>
#include <string>

#include <troupe/services/reply.hpp>
#include <troupe/services/stream_reply.hpp>

#include "files.pb.h"

namespace files {

struct reader_config {
  std::string path;
  uint32_t chunk_bytes = 1u << 20;
  uint32_t read_ahead = 2;
  /// Threads reading.
  uint32_t threads = 1;
};

class reader_service final : public v1::Reader::Service {
public:
  explicit reader_service(reader_config cfg);

  /// `not_found` for a missing file, `out_of_range` past its end,
  /// `invalid_argument` for an offset inside a record.
  troupe::services::stream_reply<v1::Chunk> chunks(troupe::services::server_call& call,
                                                   const v1::ChunkRequest& req) override;

  void on_stop() override;

private:
  reader_config cfg_;
  caf::actor pool_;
};

} // namespace files
