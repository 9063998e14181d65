#pragma once

// The reader process's side: the Reader service streams a file in chunks of
// whole records. Reading is blocking I/O, so it runs on the blocking pool:
// a chunk_reader actor reads ahead (at most `read_ahead` chunks) into a
// feed that the stream's producer pulls at the caller's pace. Memory is
// bounded by read_ahead + the caller's capacity, chunks of `chunk_bytes`.

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

  troupe::services::stream_reply<v1::Chunk> chunks(troupe::services::server_call& call,
                                                   const v1::ChunkRequest& req) override;

  void on_stop() override;

private:
  reader_config cfg_;
  caf::actor pool_;
};

} // namespace files
