#pragma once

// The aggregator process's pipeline: the reader's Totals stream (remote,
// `capacity` chunks at most) → a consumer → a chunk_totaller actor that
// merges each chunk's totals in file order and commits its totals
// together with their offset every `commit_bytes`. A chunk is finished once
// merged (and committed, when it completes a commit); a process killed at
// any point resumes from the last commit, so no record is lost or counted
// twice.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>

#include <troupe/transport/node.hpp>

#include "files.pb.h"

namespace files {

struct aggregator_settings {
  /// The checkpoint file (the committed totals and offset).
  std::string checkpoint;
  /// Where the result goes (CSV: key,count,sum), once complete.
  std::string result;
  /// Chunks in flight from the reader at most (the stream's capacity).
  uint32_t capacity = 4;
  /// Chunks being merged or committed at once; at most `capacity`.
  uint32_t in_flight = 2;
  uint64_t commit_bytes = 64u << 20;
  /// A "progress offset=<n>" line on stdout every this many bytes.
  uint64_t progress_bytes = 4u << 20;
  std::chrono::seconds lifetime{600};
  /// Polled a few times a second: true stops the run (its work since the
  /// last commit is lost, as after a crash, and redone by the next run).
  std::function<bool()> stop_requested;
};

struct aggregator_outcome {
  /// The committed offset this run started from (0: from the start).
  uint64_t resumed_from = 0;
  /// The final totals (complete), if the stream ended.
  v1::Aggregate final;
  caf::error error;
};

/// Totals the file the reader at `host:port` streams, from the checkpoint
/// on. Blocks the calling thread.
aggregator_outcome run_aggregator(caf::actor_system& sys, const troupe::transport::node& node,
                                  const std::string& host, uint16_t port,
                                  const aggregator_settings& settings);

} // namespace files
