// The shop: starts the warehouse process, asks for quotes, streams orders,
// and stops the warehouse with SIGTERM.

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shop.pb.h"

#include <caf/all.hpp>

#include <troupe/actors/backoff.hpp>
#include <troupe/actors/consumer.hpp>
#include <troupe/transport/call_options.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/remote_stream.hpp>

#include "demo.hpp"

extern char** environ;

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

bool start_warehouse(child_process& child, const std::string& self_path, uint64_t orders) {
  int fds[2];
  if (::pipe(fds) != 0)
    return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::string orders_arg = "--orders=" + std::to_string(orders);
  const char* argv[] = {self_path.c_str(), "--role=warehouse", orders_arg.c_str(), nullptr};
  auto rc = posix_spawn(&child.pid, self_path.c_str(), &actions, nullptr,
                        const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  child.out = fds[0];
  return rc == 0;
}

/// Sends one quote request and prints what came back.
bool ask(caf::actor_system& sys, const caf::actor& pricing, shop::v1::QuoteRequest req,
         caf::timespan deadline, caf::error* failure = nullptr) {
  caf::scoped_actor self{sys};
  troupe::transport::call_options opts;
  opts.deadline = deadline;
  std::printf("shop -> pricing : QuoteRequest{%s} deadline=%lldms\n",
              req.ShortDebugString().c_str(),
              static_cast<long long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline).count()));
  bool ok = false;
  self->request(pricing, deadline + 1s, opts, req)
    .receive(
      [&](const shop::v1::Quote& q) {
        std::printf("pricing -> shop : Quote{%s}\n", q.ShortDebugString().c_str());
        ok = true;
      },
      [&](caf::error& err) {
        std::printf("shop            : request failed: %s\n", sys.render(err).c_str());
        if (failure)
          *failure = err;
      });
  return ok;
}

} // namespace

int run_shop(caf::actor_system& sys, const demo_config& cfg, const std::string& self_path) {
  using namespace troupe;
  child_process warehouse;
  if (!start_warehouse(warehouse, self_path, cfg.orders)) {
    std::cerr << "shop: cannot start the warehouse process\n";
    return 1;
  }
  auto line = warehouse.read_line(10s);
  auto colon = line.rfind(':');
  if (line.rfind("warehouse listening on ", 0) != 0 || colon == std::string::npos) {
    std::cerr << "shop: the warehouse did not start (said: '" << line << "')\n";
    return 1;
  }
  auto port = line.substr(colon + 1);
  std::printf("shop            : warehouse process %d is listening on 127.0.0.1:%s\n",
              static_cast<int>(warehouse.pid), port.c_str());
  transport::node_config ncfg;
  ncfg.listen = false; // the shop only dials out
  auto n = transport::node::start(sys, ncfg);
  if (!n) {
    std::cerr << "shop: " << sys.render(n.error()) << "\n";
    return 1;
  }
  auto pricing = n->remote_actor("pricing@127.0.0.1:" + port);
  if (!pricing) {
    std::cerr << "shop: " << sys.render(pricing.error()) << "\n";
    return 1;
  }
  int rc = 0;

  // 1. A remote request with a deadline.
  shop::v1::QuoteRequest tea;
  tea.set_item("tea");
  tea.set_quantity(3);
  if (!ask(sys, *pricing, tea, 500ms))
    rc = 1;

  // 1b. Two slow requests at once: the pricing actor keeps serving requests
  //     while a delayed reply is pending, so both are answered.
  std::printf("\n-- two slow requests at once --\n");
  {
    caf::scoped_actor self{sys};
    troupe::transport::call_options opts;
    opts.deadline = 2s;
    auto slow_a = tea;
    slow_a.set_think_ms(200);
    auto slow_b = tea;
    slow_b.set_item("coffee");
    slow_b.set_think_ms(100);
    auto first = self->request(*pricing, 3s, opts, slow_a);
    auto second = self->request(*pricing, 3s, opts, slow_b);
    int answered = 0;
    auto on_quote = [&](const shop::v1::Quote& q) {
      std::printf("pricing -> shop : Quote{%s}\n", q.ShortDebugString().c_str());
      ++answered;
    };
    auto on_error = [&](caf::error& err) {
      std::printf("shop            : request failed: %s\n", sys.render(err).c_str());
    };
    first.receive(on_quote, on_error);
    second.receive(on_quote, on_error);
    std::printf("shop            : %d of 2 concurrent slow quotes answered\n", answered);
    if (answered != 2)
      rc = 1;
  }

  // 2. The pricing actor fails; its supervisor restarts it (with backoff),
  //    and the shop retries with backoff until the new incarnation answers.
  std::printf("\n-- a request that makes the pricing actor fail --\n");
  auto crash = tea;
  crash.set_crash(true);
  ask(sys, *pricing, crash, 500ms);
  actors::backoff_state delays{actors::backoff::exponential(50ms, 1s), 7};
  bool recovered = false;
  for (int attempt = 1; attempt <= 6 && !recovered; ++attempt) {
    std::this_thread::sleep_for(delays.next());
    recovered = ask(sys, *pricing, tea, 500ms);
  }
  if (!recovered)
    rc = 1;

  // 3. A deadline that passes: a typed timeout instead of waiting forever.
  std::printf("\n-- a request slower than its deadline --\n");
  auto slow = tea;
  slow.set_think_ms(400);
  caf::error timeout;
  if (ask(sys, *pricing, slow, 100ms, &timeout))
    rc = 1;

  // 4. The order stream, bounded across the wire by the shop's capacity.
  std::printf("\n-- streaming %llu orders, at most 64 on their way to the shop --\n",
              static_cast<unsigned long long>(cfg.orders));
  transport::stream_import_config icfg;
  icfg.capacity = 64;
  auto orders =
    transport::import_stream<shop::v1::Order>(sys, *n, "orders@127.0.0.1:" + port, icfg);
  std::mutex mtx;
  std::condition_variable cv;
  bool done = false;
  uint64_t count = 0;
  uint64_t cents = 0;
  caf::error outcome;
  if (orders) {
    actors::spawn_consumer<shop::v1::Order>(
      sys, *orders, actors::consumer_config{16},
      [&](const shop::v1::Order& o) {
        ++count;
        cents += o.cents();
      },
      [&](const caf::error& err) {
        std::lock_guard<std::mutex> guard{mtx};
        outcome = err;
        done = true;
        cv.notify_all();
      });
    std::unique_lock<std::mutex> guard{mtx};
    if (!cv.wait_for(guard, 60s, [&] { return done; }))
      outcome = caf::make_error(caf::sec::request_timeout, "order stream");
  } else {
    outcome = orders.error();
  }
  if (outcome || count != cfg.orders) {
    std::printf("shop            : order stream failed: %s\n", sys.render(outcome).c_str());
    rc = 1;
  } else {
    std::printf("shop            : received %llu orders worth %.2f\n",
                static_cast<unsigned long long>(count), static_cast<double>(cents) / 100);
  }

  // 5. Graceful shutdown of the warehouse.
  std::printf("\n-- SIGTERM to the warehouse --\n");
  ::kill(warehouse.pid, SIGTERM);
  auto code = warehouse.wait(10s);
  std::printf("shop            : warehouse exited with %d\n", code);
  if (code != 0)
    rc = 1;
  n->stop();
  std::printf("shop            : %s\n", rc == 0 ? "done" : "FAILED");
  return rc;
}
