// Fuzz target: the frame decoder (varint length prefix, the frame limit,
// `troupe.wire.Frame` parsing), fed in chunks whose sizes the input picks.
// Properties: never crashes or leaks; a failure is sticky; every frame it
// returns fits the limit.

#include <cstdlib>

#include <troupe/wire.pb.h>

#include "fuzz_input.hpp"
#include "transport/src/framing.hpp"

using troupe::transport::internal::frame_decoder;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  troupe::fuzz::fuzz_input in{data, size};
  // A small limit reaches the "too large" path; a large one the parser.
  uint32_t limit = (in.byte() & 1) ? 64 : 1u << 20;
  bool raw = in.byte() & 1; // unparsed views or parsed frames
  frame_decoder dec{limit};
  while (!in.empty()) {
    auto chunk = in.take(1 + in.byte() % 64);
    dec.feed(chunk.data(), chunk.size());
    for (;;) {
      frame_decoder::status st;
      if (raw) {
        std::string_view frame;
        st = dec.next(frame);
        if (st == frame_decoder::status::frame && frame.size() > limit)
          std::abort(); // the limit must hold
      } else {
        troupe::wire::Frame frame;
        st = dec.next(frame);
      }
      if (st != frame_decoder::status::frame)
        break;
    }
    if (dec.failed()) {
      troupe::wire::Frame frame;
      if (dec.next(frame) != frame_decoder::status::failed)
        std::abort(); // a broken stream stays broken
      break;
    }
  }
  (void)dec.finish();
  return 0;
}
