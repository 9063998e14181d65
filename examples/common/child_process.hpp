#pragma once

// A child process of an example (the crawler's site and fetchers, the file
// pipeline's reader and aggregator): started with its stdout on a pipe the
// parent reads line by line; killed and reaped by the destructor if it
// still runs, and killed by the kernel if the parent dies first
// (PR_SET_PDEATHSIG), so no process outlives its parent's run.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace troupe_examples {

class child_process {
public:
  /// Starts `argv[0]` with `argv`; stdin is /dev/null, stderr inherited,
  /// no signal blocked. The kernel ties the parent-death signal to the
  /// calling thread: call it from a thread that lives as long as the child
  /// (the main thread).
  static caf::expected<child_process> start(const std::vector<std::string>& argv);

  child_process(child_process&& other) noexcept;
  /// Kills and reaps the process this one held, if it still runs.
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  ~child_process();

  /// The next line of its stdout within `timeout` (0: only what is there
  /// already); none at its end or on timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  /// Sends `sig`, if it still runs.
  void signal(int sig);

  /// Its exit status (shell style: 128 + signal) once it exits within
  /// `timeout`; none if it still runs.
  std::optional<int> wait(std::chrono::milliseconds timeout);

  pid_t pid() const noexcept {
    return pid_;
  }

private:
  child_process(pid_t pid, int out) : pid_(pid), out_(out) {}

  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffered_;
  std::optional<int> status_;
};

} // namespace troupe_examples
