#pragma once

// Small things the examples' multi-process programs all need: their own
// path (to start themselves in another role), their peak RSS, a value out
// of a child's `key=value` line, and the check that no actor outlived a run.

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/actor_system.hpp>

namespace troupe_examples {

/// This process's peak resident set size in KiB.
long peak_rss_kb();

/// The path of this process's executable.
std::string this_program();

/// The number after `key=` in a line of `key=value` words; 0 if absent.
uint64_t word_value(const std::string& line, const std::string& key);

/// Waits up to `timeout` until only `baseline` actors run in `sys`;
/// returns how many more do. Never blocks longer: on a leak the waiting
/// thread is left behind, and the caller must leave with `std::_Exit`
/// (`~actor_system` would wait for the leaked actors forever).
long leaked_actors(caf::actor_system& sys, size_t baseline,
                   std::chrono::seconds timeout = std::chrono::seconds{10});

} // namespace troupe_examples
