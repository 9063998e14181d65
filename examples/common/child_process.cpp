#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <caf/error.hpp>
#include <caf/sec.hpp>

namespace troupe_examples {

caf::expected<child_process> child_process::start(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return caf::make_error(caf::sec::runtime_error,
                           std::string{"pipe: "} + std::strerror(errno));
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto parent = getpid();
  // fork + exec rather than posix_spawn: the child must ask the kernel for
  // SIGKILL when its parent dies (PR_SET_PDEATHSIG), so that no child
  // outlives a parent that was killed itself. Between fork and exec only
  // async-signal-safe calls.
  auto pid = fork();
  if (pid < 0) {
    auto err = errno;
    close(fds[0]);
    close(fds[1]);
    return caf::make_error(caf::sec::runtime_error,
                           "cannot start " + argv[0] + ": " + std::strerror(err));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127); // the parent died before the line above
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      dup2(devnull, 0);
    dup2(fds[1], 1); // dup2 clears close-on-exec on the copy
    // The parent blocks its stop signals (sigtimedwait); the child starts
    // with none blocked and default handlers.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
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

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    this->~child_process();
    pid_ = other.pid_;
    out_ = other.out_;
    buffered_ = std::move(other.buffered_);
    status_ = other.status_;
    other.pid_ = -1;
    other.out_ = -1;
  }
  return *this;
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
    if (out_ < 0)
      return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    // Polls once even with no time left: what is in the pipe counts.
    pollfd p{out_, POLLIN, 0};
    auto ready = poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (ready == 0 || (ready < 0 && errno == EINTR)) {
      if (left.count() <= 0)
        return std::nullopt;
      continue;
    }
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
  auto reap = [this]() -> bool {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) != pid_)
      return false;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return true;
  };
  if (reap() || timeout.count() <= 0)
    return status_;
  // A pidfd becomes readable when the child exits: wait without polling.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd < 0)
    return status_;
  pollfd p{pidfd, POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) > 0 || errno != EINTR)
      break;
  }
  close(pidfd);
  reap();
  return status_;
}

} // namespace troupe_examples
