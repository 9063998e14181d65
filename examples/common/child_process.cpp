#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <caf/error.hpp>
#include <caf/sec.hpp>

extern char** environ;

namespace troupe_examples {

caf::expected<child_process> child_process::start(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return caf::make_error(caf::sec::runtime_error,
                           std::string{"pipe: "} + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  // The parent blocks its stop signals (sigtimedwait); the child starts
  // with none blocked and default handlers.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  auto rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return caf::make_error(caf::sec::runtime_error,
                           "cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  return child_process{pid, fds[0]};
}

child_process::child_process(child_process&& other) noexcept
  : pid_(other.pid_),
    out_(other.out_),
    buffered_(std::move(other.buffered_)),
    status_(other.status_) {
  other.pid_ = -1;
  other.out_ = -1;
}

child_process::~child_process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
  }
  if (out_ >= 0)
    close(out_);
}

std::optional<std::string> child_process::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto nl = buffered_.find('\n');
    if (nl != std::string::npos) {
      auto line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (out_ < 0 || left.count() <= 0)
      return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0)
      continue; // timeout (checked above) or EINTR
    char buf[4096];
    auto n = ::read(out_, buf, sizeof(buf));
    if (n <= 0) {
      close(out_);
      out_ = -1;
      if (!buffered_.empty()) {
        auto rest = std::move(buffered_);
        buffered_.clear();
        return rest;
      }
      return std::nullopt;
    }
    buffered_.append(buf, static_cast<size_t>(n));
  }
}

void child_process::signal(int sig) {
  if (pid_ > 0 && !status_)
    ::kill(pid_, sig);
}

std::optional<int> child_process::wait(std::chrono::milliseconds timeout) {
  if (status_ || pid_ <= 0)
    return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int st = 0;
    auto r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
    // waitpid has no timeout; a child's exit is rare and this wait short.
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

} // namespace troupe_examples
