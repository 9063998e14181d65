#pragma once

// SIGTERM and SIGINT for a program that stops in order: blocked in every
// thread (make one first thing in main, before any thread starts: threads
// inherit the mask) and taken with sigtimedwait, never by a handler, so the
// stop runs on the main thread like any other code.

#include <chrono>
#include <csignal>

namespace troupe_examples {

class stop_signals {
public:
  /// Blocks SIGTERM and SIGINT in the calling thread.
  stop_signals();

  /// Waits up to `limit` for one; true if one came.
  bool wait(std::chrono::seconds limit) const;

  /// True if one is pending (and takes it); never waits.
  bool pending() const;

private:
  sigset_t set_;
};

} // namespace troupe_examples
