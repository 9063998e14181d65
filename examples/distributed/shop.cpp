// The shop: starts the warehouse process (or uses a running one, with
// --warehouse=host:port), asks for quotes, streams orders, and stops the
// warehouse with SIGTERM. The warehouse child stops with the shop: it asks the
// kernel for SIGTERM when its parent dies (PR_SET_PDEATHSIG), so even a shop
// killed by SIGKILL leaves no warehouse behind. SIGTERM / SIGINT to the shop
// stop its work and its warehouse; it then exits with 128 + the signal.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shop.pb.h"

#include <caf/all.hpp>

#include <troupe/actors/consumer.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/services/channel.hpp>
#include <troupe/services/rpc_errc.hpp>
#include <troupe/transport/node.hpp>

#include "demo.hpp"

using namespace std::chrono_literals;

namespace {

/// The warehouse child process: started with a pipe on its stdout.
struct child_process {
  pid_t pid = -1;
  int out = -1;

  ~child_process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0)
      ::close(out);
  }

  /// Reads one line from the child's stdout within `limit`.
  std::string read_line(std::chrono::milliseconds limit) {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + limit;
    char c;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      if (::read(out, &c, 1) != 1)
        break;
      if (c == '\n')
        return line;
      line += c;
    }
    return line;
  }

  /// Waits for the child to exit within `limit`; returns its exit code or -1.
  int wait(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms); // the shop's main thread, not an actor
    }
    return -1;
  }
};

/// Starts `self_path --role=warehouse` with its stdout on a pipe. The child
/// gets SIGTERM when the shop dies (PR_SET_PDEATHSIG). The kernel sends it
/// when the *thread* that forked exits, so call this from the main thread,
/// which lives as long as the shop. If the shop died between fork and prctl,
/// the child sees another parent and exits at once.
bool start_warehouse(child_process& child, const std::string& self_path, uint64_t orders,
                     uint16_t port) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return false;
  // Everything the child needs is prepared before fork: between fork and
  // exec, only async-signal-safe calls (the shop has threads running).
  std::string orders_arg = "--orders=" + std::to_string(orders);
  std::string port_arg = "--port=" + std::to_string(port);
  const char* argv[] = {self_path.c_str(), "--role=warehouse", orders_arg.c_str(),
                        port_arg.c_str(), nullptr};
  auto parent = ::getpid();
  auto pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent)
      ::_exit(127);
    if (::dup2(fds[1], STDOUT_FILENO) < 0) // dup2 clears O_CLOEXEC on stdout
      ::_exit(127);
    ::execv(self_path.c_str(), const_cast<char**>(argv));
    ::_exit(127);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    return false;
  }
  child.pid = pid;
  child.out = fds[0];
  return true;
}

/// SIGTERM / SIGINT: the handler records the signal and wakes a watcher
/// thread through a self-pipe; the watcher tells the shop's main thread.
volatile sig_atomic_t received_signal = 0;
int signal_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int sig) {
  received_signal = sig;
  char byte = 1;
  [[maybe_unused]] auto n = ::write(signal_pipe[1], &byte, 1);
}

/// The shop's main thread as an actor: it waits for the order stream's end
/// and for a stop signal in one mailbox.
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using stream_done_atom = caf::atom_constant<caf::atom("done")>;

/// Whether the shop was asked to stop; the watcher also tells `main`.
struct stop_state {
  std::atomic<int> signal{0};
  caf::actor main;
  bool stopping() const {
    return signal.load() != 0;
  }
};

/// Installs the handlers and runs the watcher until destroyed.
class signal_watcher {
public:
  explicit signal_watcher(stop_state& state) : state_(state) {
    if (::pipe2(signal_pipe, O_CLOEXEC) != 0)
      return;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::sigaction(SIGINT, &sa, nullptr);
    thread_ = std::thread{[this] {
      // Ends on a signal or when the destructor writes a byte (signal 0).
      char byte;
      while (::read(signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {}
      if (int sig = received_signal; sig != 0) {
        state_.signal = sig;
        caf::anon_send(state_.main, stop_atom::value, sig);
      }
    }};
  }

  ~signal_watcher() {
    if (thread_.joinable()) {
      char byte = 0;
      [[maybe_unused]] auto n = ::write(signal_pipe[1], &byte, 1);
      thread_.join();
    }
  }

private:
  stop_state& state_;
  std::thread thread_;
};

/// Asks for one quote (blocking: the stub is the same type whether the
/// warehouse is local or remote) and prints what came back.
bool ask(const shop::v1::Warehouse::Stub& warehouse, const shop::v1::QuoteRequest& req,
         caf::timespan deadline, caf::error* failure = nullptr) {
  std::printf("shop -> warehouse : GetQuote(%s) deadline=%lldms\n",
              req.ShortDebugString().c_str(),
              static_cast<long long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline).count()));
  auto q = warehouse.get_quote(req, deadline);
  if (q) {
    std::printf("warehouse -> shop : Quote{%s}\n", q->ShortDebugString().c_str());
    return true;
  }
  std::printf("shop              : call failed: %s\n",
              troupe::messages::describe(q.error()).c_str());
  if (failure)
    *failure = q.error();
  return false;
}

} // namespace

int run_shop(caf::actor_system& sys, const demo_config& cfg, const std::string& self_path) {
  using namespace troupe;
  auto stop = std::make_shared<stop_state>();
  caf::scoped_actor main{sys};
  stop->main = caf::actor{main};
  signal_watcher watcher{*stop}; // before the child exists: no signal is lost
  child_process warehouse;
  bool warehouse_signalled = false; // a second SIGTERM would force its exit
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  if (!cfg.warehouse.empty()) {
    std::string name;
    if (auto err =
          transport::parse_address("shop.v1.Warehouse@" + cfg.warehouse, name, host, port)) {
      std::cerr << "shop: --warehouse must be host:port (got '" << cfg.warehouse << "')\n";
      return 2;
    }
    std::printf("shop              : using the warehouse at %s:%u\n", host.c_str(),
                static_cast<unsigned>(port));
  } else {
    if (!start_warehouse(warehouse, self_path, cfg.orders, cfg.port)) {
      std::cerr << "shop: cannot start the warehouse process\n";
      return 1;
    }
    auto line = warehouse.read_line(10s);
    auto colon = line.rfind(':');
    if (line.rfind("warehouse listening on ", 0) != 0 || colon == std::string::npos) {
      std::cerr << "shop: the warehouse did not start (said: '" << line << "')\n";
      return 1;
    }
    port = static_cast<uint16_t>(std::stoul(line.substr(colon + 1)));
    std::printf("shop              : warehouse process %d is listening on 127.0.0.1:%u\n",
                static_cast<int>(warehouse.pid), static_cast<unsigned>(port));
  }
  auto where = host + ":" + std::to_string(port);
  auto ncfg = transport::node_config::from(sys.config()); // --troupe.node.* settings
  ncfg.listen = false;                                    // the shop only dials out
  auto n = transport::node::start(sys, ncfg);
  if (!n) {
    std::cerr << "shop: " << sys.render(n.error()) << "\n";
    return 1;
  }
  // The generated stub: calls go to "shop.v1.Warehouse@host:port" through
  // the node, whichever incarnation of the service runs there now.
  shop::v1::Warehouse::Stub stub{services::channel::remote(n->handle(), host, port)};
  int rc = 0;
  // Steps 1 to 4 run only while no SIGTERM / SIGINT arrived.
  auto go_on = [&] { return !stop->stopping(); };

  // 1. A remote call with a deadline: one deadline, no second timeout.
  shop::v1::QuoteRequest tea;
  tea.set_item("tea");
  tea.set_quantity(3);
  if (go_on() && !ask(stub, tea, 500ms))
    rc = 1;

  // 1b. Two slow calls at once, from inside an actor (never blocking it):
  //     the service answers each later, serving other calls meanwhile.
  if (go_on()) {
    std::printf("\n-- two slow calls at once --\n");
    auto slow_a = tea;
    slow_a.set_think_ms(200);
    auto slow_b = tea;
    slow_b.set_item("coffee");
    slow_b.set_think_ms(100);
    auto client = sys.spawn([=, to = caf::actor{main}](caf::event_based_actor* self) {
      for (const auto& req : {slow_a, slow_b})
        // [cookbook:deadline_call]
        stub.get_quote(self, req, 2s)
          .then(
            [to](shop::v1::Quote& q) {
              std::printf("warehouse -> shop : Quote{%s}\n", q.ShortDebugString().c_str());
              caf::anon_send(to, true);
            },
            [to](caf::error& status) {
              std::printf("shop              : call failed: %s\n",
                          troupe::messages::describe(status).c_str());
              caf::anon_send(to, false);
            });
      // [/cookbook:deadline_call]
    });
    int answered = 0;
    for (int i = 0; i < 2; ++i)
      main->receive([&](bool ok) { answered += ok ? 1 : 0; },
                    caf::after(5s) >> [] { std::printf("shop              : no answer\n"); });
    caf::anon_send_exit(client, caf::exit_reason::user_shutdown);
    std::printf("shop              : %d of 2 concurrent slow quotes answered\n", answered);
    if (answered != 2)
      rc = 1;
  }

  // 2. The service fails on a request: the shop gets `internal`, and the
  //    warehouse's supervisor restarts the service (with backoff). The next
  //    call waits for the new incarnation within its deadline (the stub
  //    retries while the name is unknown on the warehouse): no retry loop,
  //    no re-publish in user code.
  if (go_on()) {
    std::printf("\n-- a call that makes the warehouse's service fail --\n");
    auto crash = tea;
    crash.set_crash(true);
    ask(stub, crash, 500ms);
    if (!ask(stub, tea, 5s) && go_on())
      rc = 1;
  }

  // 3. A deadline that passes: a typed status instead of waiting forever.
  if (go_on()) {
    std::printf("\n-- a call slower than its deadline --\n");
    auto slow = tea;
    slow.set_think_ms(400);
    caf::error timeout;
    if (ask(stub, slow, 100ms, &timeout)
        || !is(timeout, services::rpc_errc::deadline_exceeded))
      rc = 1;
  }

  // 4. The order stream: a server-streaming method, bounded across the wire
  //    by the capacity the shop gives it.
  if (go_on()) {
    std::printf("\n-- streaming %llu orders, at most 64 on their way to the shop --\n",
                static_cast<unsigned long long>(cfg.orders));
    shop::v1::OrderQuery query;
    query.set_count(cfg.orders);
    // Counted by the consumer, which may outlive this block when the
    // stream does not end in time.
    struct tally {
      std::atomic<uint64_t> count{0};
      std::atomic<uint64_t> cents{0};
    };
    auto t = std::make_shared<tally>();
    caf::error outcome = caf::make_error(caf::sec::request_timeout, "order stream");
    bool done = false;
    auto orders = stub.orders(query, 64, 5s);
    if (orders) {
      actors::spawn_consumer<shop::v1::Order>(
        sys, *orders, actors::consumer_config{16},
        [t](const shop::v1::Order& o) {
          ++t->count;
          t->cents += o.cents();
        },
        [to = caf::actor{main}](const caf::error& err) {
          caf::anon_send(to, stream_done_atom::value, err);
        });
      auto on_done = [&](stream_done_atom, const caf::error& err) {
        outcome = err;
        done = true;
      };
      main->receive(
        on_done, [&](stop_atom, int) {}, caf::after(60s) >> [] {});
      if (!done && stop->stopping()) {
        // Stopping: stop the source (the warehouse, if ours) and give the
        // stream a bounded time to end.
        if (warehouse.pid > 0) {
          ::kill(warehouse.pid, SIGTERM);
          warehouse_signalled = true;
        }
        main->receive(
          on_done, caf::after(10s) >> [] {});
      }
    } else {
      outcome = orders.error();
    }
    uint64_t count = t->count;
    uint64_t cents = t->cents;
    if (stop->stopping()) {
      std::printf("shop              : order stream interrupted after %llu orders\n",
                  static_cast<unsigned long long>(count));
    } else if (outcome || count != cfg.orders) {
      std::printf("shop              : order stream failed: %s\n",
                  troupe::messages::describe(outcome).c_str());
      rc = 1;
    } else {
      std::printf("shop              : received %llu orders worth %.2f\n",
                  static_cast<unsigned long long>(count), static_cast<double>(cents) / 100);
    }
  }

  // 5. Graceful shutdown of the warehouse we started (one given with
  //    --warehouse is not ours: it keeps running).
  if (int sig = stop->signal.load(); sig != 0) {
    std::printf("\n-- signal %d: stopping --\n", sig);
    rc = shop_signal_exit_base + sig;
  }
  if (warehouse.pid > 0) {
    std::printf("\n-- SIGTERM to the warehouse --\n");
    if (!warehouse_signalled)
      ::kill(warehouse.pid, SIGTERM);
    auto code = warehouse.wait(10s);
    std::printf("shop              : warehouse exited with %d\n", code);
    if (code != 0 && rc == 0)
      rc = 1;
  } else {
    std::printf("shop              : leaving the warehouse at %s running\n", where.c_str());
  }
  n->stop();
  std::printf("shop              : %s\n",
              rc == 0              ? "done"
                : stop->stopping() ? "stopped by a signal"
                                   : "FAILED");
  return rc;
}
