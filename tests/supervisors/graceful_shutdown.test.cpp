// graceful_shutdown: a real child process running a 3-level tree receives
// real signals. Every wait is bounded; a child that overstays is killed and
// the test fails.

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <troupe/supervisors/graceful_shutdown.hpp>
#include <troupe/supervisors/supervisor_errc.hpp>

extern char** environ;

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// A child process whose stdout and stderr we read; SIGKILLed and reaped if
/// a test leaves it running.
class child_process {
public:
  explicit child_process(std::vector<std::string> args) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> argv;
    for (auto& x : args)
      argv.push_back(x.data());
    argv.push_back(nullptr);
    auto rc = posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(fds[1]);
    out_ = fds[0];
    REQUIRE(rc == 0);
  }

  ~child_process() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
    if (out_ >= 0)
      ::close(out_);
  }

  /// Reads output until it contains `needle`, EOF, or `limit` passes.
  bool read_until(const std::string& needle, std::chrono::milliseconds limit) {
    auto end = clock_type::now() + limit;
    // Search only what is new (plus an overlap): a chatty child (e.g. under
    // a sanitizer) writes megabytes, and searching all of it after every
    // read is quadratic.
    size_t from = 0;
    while (output.find(needle, from) == std::string::npos) {
      from = output.size() >= needle.size() ? output.size() - needle.size() + 1 : 0;
      if (!read_some(end))
        return output.find(needle, from) != std::string::npos;
    }
    return true;
  }

  /// Reads until EOF (the child exited or closed its output) or `limit`.
  bool read_to_eof(std::chrono::milliseconds limit) {
    auto end = clock_type::now() + limit;
    while (read_some(end)) {
      // keep reading
    }
    return eof_;
  }

  /// Waits for the exit status, at most `limit`; nullopt if the child still
  /// runs (the destructor then kills it).
  std::optional<int> wait(std::chrono::milliseconds limit) {
    auto end = clock_type::now() + limit;
    auto pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    for (;;) {
      int st = 0;
      auto rc = ::waitpid(pid_, &st, WNOHANG);
      if (rc == pid_) {
        status_ = st;
        break;
      }
      auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(end - clock_type::now());
      if (left.count() <= 0)
        break;
      if (pidfd >= 0) {
        pollfd pfd{pidfd, POLLIN, 0};
        ::poll(&pfd, 1, static_cast<int>(left.count()));
      } else {
        ::poll(nullptr, 0, 10); // no pidfd: check every 10 ms until the bound
      }
    }
    if (pidfd >= 0)
      ::close(pidfd);
    if (!status_)
      return std::nullopt;
    if (WIFEXITED(*status_))
      return WEXITSTATUS(*status_);
    return 1000 + WTERMSIG(*status_); // killed by a signal
  }

  void signal(int signo) {
    REQUIRE(::kill(pid_, signo) == 0);
  }

  std::string output;

private:
  bool read_some(clock_type::time_point end) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - clock_type::now());
    if (eof_ || left.count() <= 0)
      return false;
    pollfd pfd{out_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
      return false;
    char buf[4096];
    auto n = ::read(out_, buf, sizeof(buf));
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    output.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  bool eof_ = false;
  std::optional<int> status_;
};

std::vector<std::string> args(const char* mode, int deadline_ms) {
  return {TROUPE_SHUTDOWN_TREE_EXE, mode, std::to_string(deadline_ms)};
}

size_t position(const std::string& text, const std::string& needle) {
  auto pos = text.find(needle);
  CAPTURE(needle);
  CHECK(pos != std::string::npos);
  return pos;
}

} // namespace

TEST_CASE("SIGTERM stops a 3-level tree in order and exits 0 within the deadline",
          "[supervisors][graceful_shutdown][process]") {
  child_process p{args("orderly", 5000)};
  REQUIRE(p.read_until("shutdown_tree: ready for signals", 20s));
  auto t0 = clock_type::now();
  p.signal(SIGTERM);
  CHECK(p.read_to_eof(20s));
  auto code = p.wait(20s);
  auto elapsed = clock_type::now() - t0;
  CAPTURE(p.output);
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(elapsed < 5s);
  // Every cleanup ran, in reverse start order through the levels.
  auto w2 = position(p.output, "cleanup root/w2");
  auto w5 = position(p.output, "cleanup root/mid/w5");
  auto w4 = position(p.output, "cleanup root/mid/leaf/w4");
  auto w3 = position(p.output, "cleanup root/mid/leaf/w3");
  auto w1 = position(p.output, "cleanup root/w1");
  CHECK(w2 < w5);
  CHECK(w5 < w4);
  CHECK(w4 < w3);
  CHECK(w3 < w1);
  // Reasons render by name ("trp_stop:shutdown"), never as CAF's raw
  // "error(1, trp_stop, ...)".
  CHECK(p.output.find("error(") == std::string::npos);
  CHECK(p.output.find("trp_stop:shutdown") != std::string::npos);
  CHECK(p.output.find("exit code 0") != std::string::npos);
}

TEST_CASE("SIGTERM to a tree with a stuck child exits non-zero after the deadline",
          "[supervisors][graceful_shutdown][process]") {
  auto mode = GENERATE("stuck", "blocked");
  CAPTURE(mode);
  child_process p{args(mode, 1000)};
  REQUIRE(p.read_until("shutdown_tree: ready for signals", 20s));
  auto t0 = clock_type::now();
  p.signal(SIGTERM);
  CHECK(p.read_to_eof(20s));
  auto code = p.wait(20s);
  auto elapsed = clock_type::now() - t0;
  CAPTURE(p.output);
  REQUIRE(code); // it never hangs
  CHECK(*code == 124);
  CHECK(elapsed >= 1s);
  CHECK(elapsed < 10s);
  CHECK(p.output.find("deadline passed") != std::string::npos);
  // The orderly part ran before the stuck child held it up.
  CHECK(p.output.find("cleanup root/w2") != std::string::npos);
  CHECK(p.output.find("cleanup root/mid/w5") != std::string::npos);
}

TEST_CASE("a second signal ends the process at once",
          "[supervisors][graceful_shutdown][process]") {
  child_process p{args("stuck", 60000)};
  REQUIRE(p.read_until("shutdown_tree: ready for signals", 20s));
  p.signal(SIGTERM);
  REQUIRE(p.read_until("stopping the tree", 20s));
  auto t0 = clock_type::now();
  p.signal(SIGINT);
  CHECK(p.read_to_eof(20s));
  auto code = p.wait(20s);
  CAPTURE(p.output);
  REQUIRE(code);
  CHECK(*code == 128 + SIGINT);
  CHECK(clock_type::now() - t0 < 5s);
}

TEST_CASE("an invalid graceful shutdown config is refused",
          "[supervisors][graceful_shutdown][bad_input]") {
  troupe::supervisors::graceful_shutdown_config cfg;
  CHECK(!cfg.validate());
  cfg.deadline = 0s;
  CHECK(is(cfg.validate(), troupe::supervisors::supervisor_errc::invalid_config));
}
