// Fuzz target: the handshake state machine on the accepting side (Hello,
// then Auth), with and without a secret. See handshake.hpp.

#include "handshake.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return troupe::fuzz::run_handshake(troupe::transport::internal::handshake_role::acceptor,
                                     data, size);
}
