// Supervision benchmark: Troupe supervisors next to the same work in raw CAF.
//
//   restarts   -- a child that fails as soon as it starts, restarted by a
//                 one_for_one supervisor with no backoff (permanent, unlimited
//                 intensity); restarts per second over a fixed wall time.
//                 raw CAF: one actor that monitors the child and respawns it.
//   tree_100k  -- start a tree of 10 supervisors x 10 000 workers, wait until
//                 every level reported ready, then stop it in order (reverse
//                 order, each worker asked with a 5 s timeout) and wait for
//                 the root's down message. RSS is read after the start.
//                 raw CAF: one blocking actor spawns and monitors 100 000
//                 workers, then sends an exit to all of them at once and
//                 waits for their downs (no tree, no order, no timeouts).
//
// Prints only. The last line is the summary:
//   supervision restarts_per_s=<..> start_100k_s=<..> stop_100k_s=<..> rss_mb_100k=<..>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <troupe/supervisors/supervisor.hpp>
#include <troupe/supervisors/system_config.hpp>

using namespace std::chrono_literals;
using namespace troupe::supervisors;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr size_t supervisors_n = 10;
constexpr size_t workers_per_supervisor = 10'000;
constexpr auto restart_run_time = 1s;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double rss_mb() {
  std::ifstream in{"/proc/self/statm"};
  long pages = 0;
  long resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE))
    / (1024.0 * 1024.0);
}

caf::behavior idle_worker(caf::event_based_actor*) {
  return {[](int) {}};
}

caf::behavior crashing_worker(caf::event_based_actor* self) {
  self->quit(caf::sec::runtime_error);
  return {[](int) {}};
}

// -- restarts -----------------------------------------------------------------

double troupe_restarts(caf::actor_system& sys) {
  supervisor_config cfg;
  cfg.name = "bench_restarts";
  cfg.intensity = {std::numeric_limits<uint32_t>::max(), 1s};
  cfg.children = {{"crash", [](const start_context& ctx) -> caf::expected<caf::actor> {
                     return ctx.system.spawn(crashing_worker);
                   }}};
  auto sup = spawn_supervisor(sys, cfg);
  if (!sup) {
    std::fprintf(stderr, "cannot spawn: %s\n", sys.render(sup.error()).c_str());
    return 0;
  }
  caf::scoped_actor self{sys};
  auto restarts = [&] {
    uint32_t result = 0;
    self->request(*sup, caf::infinite, which_children_atom::value)
      .receive(
        [&](std::vector<child_info>& xs) { result = xs.at(0).restarts; },
        [&](caf::error& err) { std::fprintf(stderr, "%s\n", sys.render(err).c_str()); });
    return result;
  };
  auto t0 = clock_type::now();
  auto r0 = restarts();
  std::this_thread::sleep_for(restart_run_time); // bench code: let it churn
  auto r1 = restarts();
  auto elapsed = seconds_since(t0);
  self->monitor(*sup);
  request_shutdown(*sup);
  self->receive([](caf::down_msg&) {});
  return static_cast<double>(r1 - r0) / elapsed;
}

using count_atom = caf::atom_constant<caf::atom("count")>;

caf::behavior raw_restarter(caf::event_based_actor* self, std::shared_ptr<uint64_t> n) {
  self->monitor(self->spawn(crashing_worker));
  self->set_down_handler([=](caf::down_msg&) {
    ++*n;
    self->monitor(self->spawn(crashing_worker));
  });
  return {[=](count_atom) { return *n; }};
}

double raw_restarts(caf::actor_system& sys) {
  auto n = std::make_shared<uint64_t>(0);
  auto r = sys.spawn(raw_restarter, n);
  caf::scoped_actor self{sys};
  auto count = [&] {
    uint64_t result = 0;
    self->request(r, caf::infinite, count_atom::value)
      .receive([&](uint64_t x) { result = x; }, [](caf::error&) {});
    return result;
  };
  auto t0 = clock_type::now();
  auto c0 = count();
  std::this_thread::sleep_for(restart_run_time);
  auto c1 = count();
  auto elapsed = seconds_since(t0);
  self->monitor(r);
  self->send_exit(r, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {});
  return static_cast<double>(c1 - c0) / elapsed;
}

// -- a tree of 100 000 workers --------------------------------------------------

struct tree_result {
  double start_s = 0;
  double stop_s = 0;
  double rss_mb = 0;
  size_t left_running = 0;
};

tree_result troupe_tree(caf::actor_system& sys) {
  start_function worker = [](const start_context& ctx) -> caf::expected<caf::actor> {
    return ctx.system.spawn(idle_worker);
  };
  supervisor_config root;
  root.name = "bench_root";
  for (size_t i = 0; i < supervisors_n; ++i) {
    supervisor_config sub;
    sub.name = "s" + std::to_string(i);
    sub.children.reserve(workers_per_supervisor);
    for (size_t j = 0; j < workers_per_supervisor; ++j)
      sub.children.push_back({"w" + std::to_string(j), worker});
    auto id = sub.name;
    root.children.push_back(supervisor_child(std::move(id), std::move(sub)));
  }
  tree_result result;
  caf::scoped_actor self{sys};
  auto baseline = sys.registry().running();
  auto t0 = clock_type::now();
  auto sup = spawn_supervisor(sys, std::move(root));
  if (!sup) {
    std::fprintf(stderr, "cannot spawn: %s\n", sys.render(sup.error()).c_str());
    return result;
  }
  self->request(*sup, caf::infinite, ready_atom::value)
    .receive([](caf::ok_atom) {},
             [&](caf::error& err) {
               std::fprintf(stderr, "not ready: %s\n", sys.render(err).c_str());
             });
  result.start_s = seconds_since(t0);
  result.rss_mb = rss_mb();
  auto running = sys.registry().running() - baseline;
  if (running != supervisors_n * (workers_per_supervisor + 1) + 1)
    std::fprintf(stderr, "unexpected number of running actors: %zu\n", running);
  self->monitor(*sup);
  auto t1 = clock_type::now();
  request_shutdown(*sup);
  self->receive([](caf::down_msg&) {});
  result.stop_s = seconds_since(t1);
  result.left_running = sys.registry().running() - baseline;
  return result;
}

tree_result raw_tree(caf::actor_system& sys) {
  tree_result result;
  caf::scoped_actor self{sys};
  auto baseline = sys.registry().running();
  auto n = supervisors_n * workers_per_supervisor;
  std::vector<caf::actor> workers;
  workers.reserve(n);
  auto t0 = clock_type::now();
  for (size_t i = 0; i < n; ++i) {
    workers.push_back(sys.spawn(idle_worker));
    self->monitor(workers.back());
  }
  result.start_s = seconds_since(t0);
  auto t1 = clock_type::now();
  for (auto& w : workers)
    self->send_exit(w, caf::exit_reason::user_shutdown);
  workers.clear();
  for (size_t i = 0; i < n; ++i)
    self->receive([](caf::down_msg&) {});
  result.stop_s = seconds_since(t1);
  result.left_running = sys.registry().running() - baseline;
  return result;
}

} // namespace

int main() {
  // Every crash is a warning and every restart an info line: at 100 000/s the
  // log would be the benchmark. Errors still print.
  spdlog::set_level(spdlog::level::err);
  system_config cfg;
  caf::actor_system sys{cfg};

  auto tree = troupe_tree(sys);
  std::printf("tree_100k troupe: start %.3f s, stop %.3f s, rss %.1f MB, left running %zu\n",
              tree.start_s, tree.stop_s, tree.rss_mb, tree.left_running);
  auto raw = raw_tree(sys);
  std::printf("tree_100k raw caf: start %.3f s, stop %.3f s, left running %zu\n", raw.start_s,
              raw.stop_s, raw.left_running);

  auto restarts = troupe_restarts(sys);
  std::printf("restarts troupe: %.0f /s\n", restarts);
  auto raw_r = raw_restarts(sys);
  std::printf("restarts raw caf: %.0f /s\n", raw_r);

  std::printf("supervision restarts_per_s=%.0f start_100k_s=%.3f stop_100k_s=%.3f "
              "rss_mb_100k=%.1f\n",
              restarts, tree.start_s, tree.stop_s, tree.rss_mb);
  return 0;
}
