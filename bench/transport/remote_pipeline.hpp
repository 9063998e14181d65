#pragma once

// The remote-pipeline part of bench/transport: a producer on node A, a
// consumer on node B (two nodes in this process, loopback), bounded by the
// consumer's capacity across the wire (troupe/transport/remote_stream.hpp).

#include <cstdint>

/// Streams `items` Blobs from one node to the other and returns items/s.
double remote_pipeline_items_per_s(uint64_t items);
