// Fuzz target: the fast envelope reader (the frame bytes of a request or a
// reply, read without protobuf) and the payload decoding that follows it on
// a connection. Property: whatever it accepts, protobuf accepts too, with
// the same payload type (the fast path never reads a frame protobuf would
// refuse).

#include <cstdlib>
#include <string>

#include <caf/message.hpp>

#include <troupe/wire.pb.h>

#include "transport/src/envelope_reader.hpp"
#include "transport/src/payload.hpp"

using namespace troupe::transport::internal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view frame{reinterpret_cast<const char*>(data), size};
  envelope_kind kind;
  envelope_fields fields;
  if (!read_envelope_frame(frame, kind, fields))
    return 0;
  troupe::wire::Frame parsed;
  if (!parsed.ParseFromArray(frame.data(), static_cast<int>(frame.size())))
    std::abort(); // the fast reader accepted what protobuf refuses
  caf::message payload;
  (void)decode_payload(fields.type, fields.payload, payload);
  return 0;
}
