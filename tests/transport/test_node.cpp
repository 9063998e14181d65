// troupe-transport-test-node: a node in its own process for the two-process
// tests and the Python wire client. Publishes "echo" and "recorder" (see
// support/services.hpp), and with --stream-items=N exports a stream of
// Tally{1..N} as "tallies"; with --import=NAME@HOST:PORT it imports a Tally
// stream and handles each item by appending its number as a line to
// --handled-file (with write(2), so a line written survives the process
// being killed) before the item is acknowledged. Prints "PORT <n>" on
// stdout, and runs until SIGTERM / SIGINT or --lifetime-s passes (so it
// never outlives a test run).
//
// Options: --port=N --node-id=ID --secret=S --heartbeat-ms=N
//          --peer-timeout-ms=N --lifetime-s=N --stream-items=N
//          --max-frame-size=N --handshake-timeout-ms=N --max-write-buffer=N
//          --max-requests-per-peer=N --import=ADDRESS --handled-file=PATH

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include <caf/all.hpp>

#include <troupe/actors/consumer.hpp>
#include <troupe/actors/producer.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/remote_stream.hpp>
#include <troupe/transport/system_config.hpp>

#include "support/services.hpp"

namespace {

bool option(const char* arg, const char* name, std::string& out) {
  auto n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=')
    return false;
  out = arg + n + 1;
  return true;
}

/// A producer of Tally{1..n}.
caf::expected<caf::actor> tally_stream(caf::actor_system& sys, uint64_t n) {
  using namespace troupe::actors;
  auto next = std::make_shared<uint64_t>(1);
  // Importers come and go: a session that ends with items held must not
  // fail the producer before the next importer subscribes.
  return spawn_producer<troupe::testing::Tally>(
    sys, producer_config{64, std::chrono::seconds{30}},
    [next, n](size_t demand, std::vector<troupe::testing::Tally>& out) {
      while (out.size() < demand && *next <= n) {
        out.emplace_back();
        out.back().set_handled((*next)++);
      }
      return *next > n ? pull_status::done : pull_status::more;
    });
}

/// Imports the Tally stream at `address` and appends each item's number to
/// the file descriptor `fd`; the consumer acknowledges an item only after
/// its handler returned.
caf::error handle_stream(caf::actor_system& sys, troupe::transport::node& node,
                         const std::string& address, int fd) {
  using namespace troupe::actors;
  auto items = troupe::transport::import_stream<troupe::testing::Tally>(sys, node, address);
  if (!items)
    return items.error();
  auto consumer = spawn_consumer<troupe::testing::Tally>(
    sys, *items, consumer_config{32, 1},
    [fd](const troupe::testing::Tally& t) {
      auto line = std::to_string(t.handled()) + "\n";
      if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        throw std::runtime_error("cannot record a handled item");
    },
    [](const caf::error&) {});
  if (!consumer)
    return consumer.error();
  return caf::none;
}

} // namespace

int main(int argc, char** argv) {
  // Block the stop signals before any thread starts; main waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  troupe::transport::node_config cfg;
  long lifetime_s = 60;
  uint64_t stream_items = 0;
  std::string import_from;
  std::string handled_file;
  for (int i = 1; i < argc; ++i) {
    std::string v;
    if (option(argv[i], "--port", v))
      cfg.port = static_cast<uint16_t>(std::stoi(v));
    else if (option(argv[i], "--node-id", v))
      cfg.node_id = v;
    else if (option(argv[i], "--secret", v))
      cfg.secret = v;
    else if (option(argv[i], "--heartbeat-ms", v))
      cfg.heartbeat_interval = std::chrono::milliseconds{std::stoi(v)};
    else if (option(argv[i], "--peer-timeout-ms", v))
      cfg.peer_timeout = std::chrono::milliseconds{std::stoi(v)};
    else if (option(argv[i], "--max-frame-size", v))
      cfg.max_frame_size = static_cast<uint32_t>(std::stoul(v));
    else if (option(argv[i], "--handshake-timeout-ms", v))
      cfg.handshake_timeout = std::chrono::milliseconds{std::stoi(v)};
    else if (option(argv[i], "--max-write-buffer", v))
      cfg.max_write_buffer = static_cast<uint32_t>(std::stoul(v));
    else if (option(argv[i], "--max-requests-per-peer", v))
      cfg.max_requests_per_peer = static_cast<uint32_t>(std::stoul(v));
    else if (option(argv[i], "--lifetime-s", v))
      lifetime_s = std::stol(v);
    else if (option(argv[i], "--stream-items", v))
      stream_items = std::stoull(v);
    else if (option(argv[i], "--import", v))
      import_from = v;
    else if (option(argv[i], "--handled-file", v))
      handled_file = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  troupe::transport::system_config sys_cfg;
  caf::actor_system sys{sys_cfg};
  auto node = troupe::transport::node::start(sys, cfg);
  if (!node) {
    std::fprintf(stderr, "cannot start: %s\n", sys.render(node.error()).c_str());
    return 1;
  }
  auto stats = std::make_shared<troupe::testing::service_stats>();
  auto echo = sys.spawn(troupe::testing::echo_service, node->id(), stats);
  auto recorder_stats = std::make_shared<troupe::testing::service_stats>();
  auto recorder = sys.spawn(troupe::testing::recorder_service, node->id(), recorder_stats);
  if (node->publish(echo, "echo")
      || node->publish(recorder, "recorder", troupe::transport::delivery::with_envelope)) {
    std::fprintf(stderr, "cannot publish\n");
    return 1;
  }
  caf::actor tallies;
  if (stream_items > 0) {
    auto producer = tally_stream(sys, stream_items);
    if (!producer
        || !troupe::transport::export_stream<troupe::testing::Tally>(*node, *producer,
                                                                     "tallies")) {
      std::fprintf(stderr, "cannot export the stream\n");
      return 1;
    }
    tallies = *producer;
  }
  if (!import_from.empty()) {
    int fd = ::open(handled_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::fprintf(stderr, "cannot open --handled-file %s\n", handled_file.c_str());
      return 1;
    }
    if (auto err = handle_stream(sys, *node, import_from, fd)) {
      std::fprintf(stderr, "cannot import: %s\n", sys.render(err).c_str());
      return 1;
    }
  }
  std::printf("PORT %u\n", static_cast<unsigned>(node->port()));
  std::fflush(stdout);
  timespec wait{lifetime_s, 0};
  sigtimedwait(&stop_signals, nullptr, &wait);
  node->stop();
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(recorder, caf::exit_reason::user_shutdown);
  if (tallies)
    caf::anon_send_exit(tallies, caf::exit_reason::user_shutdown);
  return 0;
}
