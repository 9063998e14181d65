// A process running a 3-level supervisor tree under
// run_with_graceful_shutdown, for graceful_shutdown.test.cpp.
//
// Usage: troupe-supervisors-shutdown-tree <orderly|stuck|blocked> <deadline_ms>
//
// Tree (every worker logs "cleanup <path>" when it stops):
//   root:  w1, mid, w2
//   mid:   leaf, w5          (rest_for_one)
//   leaf:  w3, w4
// stuck:   w4 ignores the shutdown request and has a 1 h timeout.
// blocked: w4 blocks its thread in a handler forever (not even a kill helps).
// Prints "ready" on stdout once the whole tree has started.

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iostream>
#include <mutex>
#include <string>

#include <caf/all.hpp>

#include <troupe/actors/log.hpp>
#include <troupe/supervisors/cancellation.hpp>
#include <troupe/supervisors/graceful_shutdown.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/supervisors/system_config.hpp>

using namespace std::chrono_literals;
using namespace troupe::supervisors;

namespace {

using block_atom = caf::atom_constant<caf::atom("block")>;

caf::behavior worker(caf::event_based_actor* self, std::string path, bool ignore) {
  auto c = cancellation::install(self);
  auto& sys = self->system();
  c->on_cleanup([path, &sys](const caf::error& reason) {
    troupe::actors::logger("tree")->info("cleanup {} ({})", path, sys.render(reason));
  });
  if (ignore)
    self->set_exit_handler([](caf::exit_msg&) {});
  return {[](int) {}};
}

/// Set once the blocker is inside its handler: only then is "ready" printed,
/// or a quick SIGTERM could reach it before it blocks (it would just quit).
std::promise<void> blocking;

caf::behavior blocker(caf::event_based_actor* self) {
  self->send(self, block_atom::value);
  return {[](block_atom) {
    // Test only: a handler that never returns, like a stuck blocking call.
    blocking.set_value();
    std::mutex mtx;
    std::condition_variable cv;
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait(lock, [] { return false; });
  }};
}

start_function start_worker(bool ignore = false) {
  return [ignore](const start_context& ctx) -> caf::expected<caf::actor> {
    return ctx.system.spawn(worker, ctx.path, ignore);
  };
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " <orderly|stuck|blocked> <deadline_ms>\n";
    return 2;
  }
  std::string mode = argv[1];
  auto deadline = std::chrono::milliseconds{std::atoi(argv[2])};
  system_config cfg;
  caf::actor_system sys{cfg};

  supervisor_config leaf;
  leaf.name = "leaf";
  leaf.children = {{"w3", start_worker()}, {"w4", start_worker()}};
  if (mode == "stuck") {
    leaf.children[1].start = start_worker(true);
    leaf.children[1].shutdown = shutdown_policy::timeout(1h);
  } else if (mode == "blocked") {
    leaf.children[1].start = [](const start_context& ctx) -> caf::expected<caf::actor> {
      return ctx.system.spawn<caf::detached>(blocker);
    };
    leaf.children[1].shutdown = shutdown_policy::timeout(100ms);
  }
  for (auto& c : leaf.children)
    if (c.shutdown == shutdown_policy::timeout(5s))
      c.shutdown = shutdown_policy::timeout(1s);
  supervisor_config mid;
  mid.name = "mid";
  mid.strategy = restart_strategy::rest_for_one;
  mid.children = {supervisor_child("leaf", leaf), {"w5", start_worker()}};
  mid.children[1].shutdown = shutdown_policy::timeout(1s);
  supervisor_config root;
  root.name = "root";
  root.children = {
    {"w1", start_worker()}, supervisor_child("mid", mid), {"w2", start_worker()}};
  root.children[0].shutdown = shutdown_policy::timeout(1s);
  root.children[2].shutdown = shutdown_policy::timeout(1s);

  auto sup = spawn_supervisor(sys, root);
  if (!sup) {
    std::cerr << "cannot start: " << sys.render(sup.error()) << "\n";
    return 2;
  }
  {
    caf::scoped_actor self{sys};
    bool ready = false;
    self->request(*sup, 10s, ready_atom::value)
      .receive([&](caf::ok_atom) { ready = true; }, [&](caf::error&) {});
    if (!ready) {
      std::cerr << "the tree did not start\n";
      return 2;
    }
  }
  if (mode == "blocked" && blocking.get_future().wait_for(10s) != std::future_status::ready) {
    std::cerr << "the blocker did not block\n";
    return 2;
  }
  graceful_shutdown_config shutdown;
  shutdown.deadline = deadline;
  // A marker no log line or sanitizer report contains by accident.
  shutdown.on_ready = [] { std::cout << "shutdown_tree: ready for signals" << std::endl; };
  return run_with_graceful_shutdown(sys, *sup, shutdown);
}
