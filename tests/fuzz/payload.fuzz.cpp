// Fuzz target: payload decoding through the type registry: the first byte
// picks one of the registered message types (or an unknown name), the rest
// is its bytes. Property: never crashes; a malformed payload is a typed
// error that leaves the output untouched.

#include <cstdlib>
#include <string>

#include <caf/message.hpp>

#include <troupe/messages/type_registry.hpp>

#include "fuzz_input.hpp"
#include "transport/src/payload.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto names = troupe::messages::type_registry::instance().names();
  troupe::fuzz::fuzz_input in{data, size};
  auto pick = in.byte();
  std::string type = pick < names.size() ? names[pick] : "fuzz.NoSuchType";
  auto bytes = in.rest();
  caf::message out;
  auto err = troupe::transport::internal::decode_payload(type, bytes, out);
  if (err && !out.empty())
    std::abort(); // a failed decode must not leave a half-filled message
  return 0;
}
