#pragma once

// Drives one side of the handshake with frames decoded from fuzzer input,
// as a connection does: the bytes go through the frame decoder (with the
// handshake's own frame limit), each frame to the state machine, until it
// is done, fails, or the bytes run out.

#include <cstdint>
#include <cstdlib>
#include <string>

#include <troupe/wire.pb.h>

#include "fuzz_input.hpp"
#include "transport/src/framing.hpp"
#include "transport/src/handshake.hpp"

namespace troupe::fuzz {

inline int run_handshake(transport::internal::handshake_role role, const uint8_t* data,
                         size_t size) {
  using namespace transport::internal;
  fuzz_input in{data, size};
  handshake::params self;
  self.node_id = "fuzz-node";
  // Half the inputs authenticate, so both the open and the HMAC paths run.
  if (in.byte() & 1)
    self.secret = "fuzz-secret";
  self.listen_host = "127.0.0.1";
  self.listen_port = 4711;
  handshake hs{role, self, std::string(16, 'n')};
  wire::Frame out;
  hs.start(out);
  frame_decoder dec{4096};
  auto bytes = in.rest();
  dec.feed(bytes.data(), bytes.size());
  wire::Frame frame;
  while (dec.next(frame) == frame_decoder::status::frame) {
    wire::Frame reply;
    caf::error err;
    hs.handle(frame, reply, err);
    if (err || hs.done())
      break;
  }
  if (hs.done() && hs.peer_id().empty())
    std::abort(); // an established connection knows its peer
  return 0;
}

} // namespace troupe::fuzz
