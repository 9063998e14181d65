#include "troupe/testing/etcd_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <httplib.h>

#include <caf/sec.hpp>

extern char** environ;

namespace troupe::testing {

namespace {

constexpr auto etcd_binary = "/usr/bin/etcd";
constexpr auto etcdctl_binary = "/usr/bin/etcdctl";

caf::error fail(const std::string& what) {
  // A test that cannot set up its etcd fails loudly with this.
  return caf::make_error(caf::sec::runtime_error, "etcd_server: " + what);
}

/// A port free on 127.0.0.1 now (the OS's choice for port 0).
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0
      && ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string tail_of(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  auto s = ss.str();
  return s.size() > 1500 ? s.substr(s.size() - 1500) : s;
}

} // namespace

caf::expected<std::unique_ptr<etcd_server>> etcd_server::start() {
  return start(options{});
}

caf::expected<std::unique_ptr<etcd_server>> etcd_server::start(options opts) {
  if (::access(etcd_binary, X_OK) != 0)
    return fail(std::string{etcd_binary}
                + " is missing: scripts/install-deps installs etcd-server");
  std::unique_ptr<etcd_server> result{new etcd_server};
  result->opts_ = std::move(opts);
  result->client_port_ =
    result->opts_.client_port != 0 ? result->opts_.client_port : free_port();
  result->peer_port_ = free_port();
  if (result->client_port_ == 0 || result->peer_port_ == 0)
    return fail("no free port on 127.0.0.1");
  std::array<char, 64> tmpl{};
  std::snprintf(tmpl.data(), tmpl.size(), "/tmp/troupe-etcd-XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr)
    return fail("cannot create a data directory in /tmp");
  result->dir_ = tmpl.data();
  result->log_ = result->dir_ + "/etcd.log";
  if (auto err = result->launch())
    return err;
  return result;
}

caf::error etcd_server::launch() {
  auto url = [&](uint16_t port) {
    return "http://" + opts_.host + ":" + std::to_string(port);
  };
  std::vector<std::string> args = opts_.prefix;
  args.insert(args.end(),
              {etcd_binary, "--name", "troupe-test", "--data-dir", dir_ + "/data",
               "--listen-client-urls", url(client_port_), "--advertise-client-urls",
               url(client_port_), "--listen-peer-urls", url(peer_port_),
               "--initial-advertise-peer-urls", url(peer_port_), "--initial-cluster",
               "troupe-test=" + url(peer_port_), "--log-outputs", "stderr",
               // No telemetry, no metrics listener of its own.
               "--enable-pprof=false"});
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  // fork + exec rather than posix_spawn: the child asks to be killed when
  // its parent dies, so a test killed mid-run leaves no etcd behind.
  auto log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  auto null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0)
    return fail("cannot open " + log_);
  auto parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    // Child: async-signal-safe calls only until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(127);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execve(argv[0], argv.data(), environ);
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  if (pid_ < 0) {
    pid_ = -1;
    return fail(std::string{"cannot fork: "} + std::strerror(errno));
  }
  // Healthy within 20 s, or the test fails with etcd's own words.
  httplib::Client cli{opts_.host, client_port_};
  cli.set_connection_timeout(std::chrono::milliseconds{200});
  cli.set_read_timeout(std::chrono::seconds{1});
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{20};
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return fail("etcd exited at start: " + tail_of(log_));
    }
    if (auto res = cli.Get("/health");
        res && res->status == 200 && res->body.find("\"true\"") != std::string::npos)
      return caf::error{};
    std::this_thread::sleep_for(std::chrono::milliseconds{50}); // polling a process, bounded
  }
  stop();
  return fail("etcd did not become healthy within 20 s: " + tail_of(log_));
}

etcd_server::~etcd_server() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string etcd_server::endpoint() const {
  return "http://" + opts_.host + ":" + std::to_string(client_port_);
}

void etcd_server::stop() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{10}); // bounded wait for exit
  }
  pid_ = -1;
}

caf::error etcd_server::restart() {
  stop();
  return launch();
}

caf::expected<std::string> etcd_server::etcdctl(const std::vector<std::string>& args) const {
  std::string cmd;
  for (auto& p : opts_.prefix)
    cmd += p + " ";
  // `env`: a namespace prefix (`ip netns exec h1`) runs a command, not an
  // assignment.
  cmd += std::string{"env ETCDCTL_API=3 "} + etcdctl_binary + " --endpoints=" + endpoint();
  for (auto& a : args) {
    cmd += " '";
    for (char c : a)
      cmd += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
    cmd += "'";
  }
  cmd += " 2>&1";
  std::string out;
  auto* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr)
    return fail("cannot run etcdctl");
  std::array<char, 512> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0)
    out.append(buf.data(), n);
  auto status = ::pclose(pipe);
  if (status != 0)
    return fail("etcdctl " + (args.empty() ? std::string{} : args.front())
                + " failed: " + out);
  return out;
}

} // namespace troupe::testing
