#pragma once

// The raw baselines of bench/transport and bench/services: the same
// exchanges written directly on Asio and protobuf, no actors, no envelopes,
// no acknowledgements. One TCP connection on 127.0.0.1 each.

#include <cstdint>

/// Request/reply: length-delimited Blobs (64-byte payload) echoed by a
/// server thread, `outstanding` requests pipelined by a client thread.
/// Runs 1 s of warm-up, then `seconds` measured; returns requests/s.
double raw_echo_req_per_s(int seconds, int outstanding);

/// A stream: `items` Blob{seq} written length-delimited by this thread
/// (encoded into 64 KiB chunks), parsed by a receiver thread; returns
/// items/s from the first write to the last item parsed. The ceiling of the
/// remote pipeline.
double raw_stream_items_per_s(uint64_t items);
