#pragma once

// Runs troupe-transport-test-node as a child process: spawned with
// posix_spawn, its "PORT <n>" line read with a timeout, always killed (and
// reaped) by the destructor.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

extern char** environ;

namespace troupe::testing {

class child_node {
public:
  /// Starts `program` with `args`; waits up to `timeout` for its port.
  child_node(const std::string& program, std::vector<std::string> args,
             std::chrono::milliseconds timeout = std::chrono::milliseconds{10000}) {
    int out[2];
    if (::pipe(out) != 0)
      return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<char*> argv;
    args.insert(args.begin(), program);
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ) != 0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    out_ = out[0];
    if (pid_ > 0)
      read_port(timeout);
  }

  ~child_node() {
    kill();
    if (out_ >= 0)
      ::close(out_);
  }

  child_node(const child_node&) = delete;
  child_node& operator=(const child_node&) = delete;

  /// The port the child listens on; 0 if it did not start.
  uint16_t port() const {
    return port_;
  }

  /// The child's process id; -1 once killed.
  pid_t pid() const {
    return pid_;
  }

  /// SIGKILL (no goodbye, like a crash) and reap. Idempotent.
  void kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

private:
  void read_port(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string line;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0)
        continue;
      char c;
      if (::read(out_, &c, 1) != 1)
        return;
      if (c != '\n') {
        line += c;
        continue;
      }
      if (line.rfind("PORT ", 0) == 0) {
        port_ = static_cast<uint16_t>(std::stoi(line.substr(5)));
        return;
      }
      line.clear();
    }
  }

  pid_t pid_ = -1;
  int out_ = -1;
  uint16_t port_ = 0;
};

} // namespace troupe::testing
