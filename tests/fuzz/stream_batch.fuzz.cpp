// Fuzz target: a remote stream's Batch as an importer receives it: the
// frame's bytes parsed as `troupe.flow.Batch`, then its items decoded by the
// stream codec into local batches. Property: the codec yields exactly
// `count` items or a typed error, never more.

#include <cstdlib>
#include <deque>

#include <troupe/flow.pb.h>
#include <troupe/transport/detail/stream_codec.hpp>

#include "fuzz_input.hpp"

using troupe::transport::detail::stream_chunk;
using troupe::transport::detail::typed_stream_codec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  troupe::fuzz::fuzz_input in{data, size};
  auto batch_size = 1 + in.byte() % 64;
  auto bytes = in.rest();
  troupe::flow::Batch batch;
  if (!batch.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return 0;
  if (batch.count() > 4096)
    return 0; // the importer refuses more than it asked for before decoding
  // Items of some protobuf type: `Pull` has scalar and string fields.
  typed_stream_codec<troupe::flow::Pull> codec;
  std::deque<stream_chunk> out;
  auto err = codec.decode(batch.items(), batch.count(), batch.first_seq(), batch_size, out);
  if (!err) {
    size_t n = 0;
    for (auto& chunk : out)
      n += chunk.count;
    if (n != batch.count())
      std::abort();
  }
  return 0;
}
