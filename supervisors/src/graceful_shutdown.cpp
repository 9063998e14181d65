#include "troupe/supervisors/graceful_shutdown.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <mutex>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <troupe/actors/human_units.hpp>

#include <spdlog/spdlog.h>

#include <troupe/actors/log.hpp>

#include "spec_check.hpp"
#include "troupe/supervisors/stop_reason.hpp"
#include "troupe/supervisors/supervisor.hpp"
#include "troupe/supervisors/supervisor_errc.hpp"
#include <troupe/messages/error_category.hpp>

namespace troupe::supervisors {

namespace {

/// The write end the signal handler uses; -1 while no helper runs.
std::atomic<int> signal_fd{-1};

/// Byte written when the root terminated (signal numbers are never 0).
constexpr unsigned char root_done = 0;

extern "C" void on_signal(int signo) {
  auto saved = errno;
  auto fd = signal_fd.load();
  if (fd >= 0) {
    auto byte = static_cast<unsigned char>(signo);
    [[maybe_unused]] auto n = ::write(fd, &byte, 1);
  }
  errno = saved;
}

/// A self-pipe shared by the signal handler, the root's termination hook and
/// the waiting thread. The hook may run after the helper returned, so it
/// shares ownership.
struct self_pipe {
  int fds[2] = {-1, -1};
  std::mutex mtx;
  caf::error root_reason;

  bool open() {
    if (::pipe(fds) != 0)
      return false;
    for (auto fd : fds) {
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return true;
  }

  ~self_pipe() {
    for (auto fd : fds)
      if (fd >= 0)
        ::close(fd);
  }
};

/// Installs the handlers for SIGINT and SIGTERM; restores the old ones when
/// destroyed.
class signal_guard {
public:
  explicit signal_guard(int fd) {
    signal_fd.store(fd);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &sa, &old_int_);
    ::sigaction(SIGTERM, &sa, &old_term_);
  }

  ~signal_guard() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGTERM, &old_term_, nullptr);
    signal_fd.store(-1);
  }

private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

} // namespace

caf::error graceful_shutdown_config::validate() const {
  auto why = internal::check_duration("deadline", deadline, true);
  if (!why.empty())
    return caf::make_error(supervisor_errc::invalid_config, std::move(why));
  return caf::none;
}

int run_with_graceful_shutdown(caf::actor_system& sys, const caf::actor& root,
                               graceful_shutdown_config cfg) {
  static_cast<void>(sys); // reserved: the system the root runs in
  auto log = actors::logger("troupe.shutdown");
  if (auto err = cfg.validate()) {
    log->error("invalid config: {}", messages::describe(err));
    return cfg.failure_exit_code;
  }
  if (!root) {
    log->error("no root actor");
    return cfg.failure_exit_code;
  }
  auto pipe = std::make_shared<self_pipe>();
  if (!pipe->open()) {
    log->error("cannot create a pipe (errno {})", errno);
    return cfg.failure_exit_code;
  }
  signal_guard guard{pipe->fds[1]};
  root->attach_functor([pipe](const caf::error& reason) {
    {
      std::lock_guard<std::mutex> lock{pipe->mtx};
      pipe->root_reason = reason;
    }
    [[maybe_unused]] auto n = ::write(pipe->fds[1], &root_done, 1);
  });
  if (cfg.on_ready)
    cfg.on_ready();
  using clock = std::chrono::steady_clock;
  bool stopping = false;
  clock::time_point deadline{};
  auto force = [&](int code, const char* why) {
    log->error("{}; forcing exit with code {}", why, code);
    if (!cfg.exit_process_on_force)
      return code;
    spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
    std::_Exit(code);
  };
  for (;;) {
    int timeout_ms = -1;
    if (stopping) {
      auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
      timeout_ms = left.count() > 0 ? static_cast<int>(left.count()) + 1 : 0;
    }
    pollfd pfd{pipe->fds[0], POLLIN, 0};
    auto rc = ::poll(&pfd, 1, timeout_ms);
    if (rc < 0) {
      if (errno == EINTR)
        continue;
      log->error("poll failed (errno {})", errno);
      return force(cfg.deadline_exit_code, "cannot wait for signals");
    }
    if (rc == 0) {
      if (stopping && clock::now() >= deadline)
        return force(cfg.deadline_exit_code, "the shutdown deadline passed");
      continue;
    }
    unsigned char byte = 0;
    while (::read(pipe->fds[0], &byte, 1) == 1) {
      if (byte == root_done) {
        caf::error reason;
        {
          std::lock_guard<std::mutex> lock{pipe->mtx};
          reason = pipe->root_reason;
        }
        if (is_normal_stop(reason)) {
          log->info("the root stopped ({}); exit code 0", messages::describe(reason));
          return 0;
        }
        log->error("the root failed ({}); exit code {}", messages::describe(reason),
                   cfg.failure_exit_code);
        return cfg.failure_exit_code;
      }
      int signo = byte;
      if (stopping)
        return force(128 + signo, "a second signal arrived");
      stopping = true;
      deadline = clock::now() + cfg.deadline;
      log->info("signal {} received; stopping the tree within {}", signo,
                troupe::actors::human_duration(cfg.deadline));
      request_shutdown(root, make_shutdown("signal " + std::to_string(signo)));
    }
  }
}

} // namespace troupe::supervisors
