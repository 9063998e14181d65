#pragma once

// The raw baseline of the request/reply benchmarks (bench/transport,
// bench/services): one TCP connection on 127.0.0.1, length-delimited
// protobuf Blobs (64-byte payload) echoed by a server thread, `outstanding`
// requests pipelined by a client thread. No actors, no envelopes.

/// Runs 1 s of warm-up, then `seconds` measured; returns requests/s.
double raw_echo_req_per_s(int seconds, int outstanding);
