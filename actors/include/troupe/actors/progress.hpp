#pragma once

/// `progress`: long work reported to the person who runs it — items done,
/// rate and time left — on a thread of its own, so the work never waits for
/// the terminal.
///
/// On a terminal, one line redrawn in place a few times a second:
///   chaos 412.3 k/1 M (41.2 %), 205 k/s, 2.86 s left
/// Elsewhere (CI logs, pipes), the same text as a plain line every few
/// seconds. `finish` writes the last line with the total time.
///
///   actors::progress shown{"chaos", items, [&] { return done.load(); }};
///   ... the work, counting `done` as it goes ...
///   shown.finish();
///
/// The count is sampled (`config::done`), never pushed: counting costs the
/// work nothing beyond its own counter.

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <caf/timespan.hpp>

namespace troupe::actors {

class progress {
public:
  struct config {
    /// What is counted, first on the line ("chaos", "crawl").
    std::string label;
    /// Items in all; 0 if not known (then no percentage and no time left).
    uint64_t total = 0;
    /// Items done so far; called on the reporter's thread (make it cheap and
    /// thread-safe: an atomic's load).
    std::function<uint64_t()> done;
    /// Where to write; stderr by default.
    std::FILE* out = stderr;
    /// Redraw in place; unset: when `out` is a terminal.
    std::optional<bool> terminal;
    /// Between lines; 0: 200 ms on a terminal, 5 s elsewhere.
    caf::timespan interval{0};
  };

  /// Starts reporting.
  explicit progress(config cfg);

  /// Starts reporting `done()` of `total` on stderr with the defaults.
  progress(std::string label, uint64_t total, std::function<uint64_t()> done);

  /// `finish()`.
  ~progress();

  progress(const progress&) = delete;
  progress& operator=(const progress&) = delete;

  /// Stops reporting and writes the last line ("<label> <done> in <time>,
  /// <rate>"). Idempotent.
  void finish();

  /// The line for `done` of `total` after `elapsed`, as shown.
  static std::string line(const std::string& label, uint64_t done, uint64_t total,
                          caf::timespan elapsed);

private:
  void run();

  config cfg_;
  std::chrono::steady_clock::time_point started_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool finished_ = false;
  std::thread reporter_;
};

} // namespace troupe::actors
