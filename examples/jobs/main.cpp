// troupe-jobs: the background job service's process. Serves jobs.v1.Jobs on
// a node (127.0.0.1, an ephemeral port unless --troupe.node.port says
// otherwise), under a supervisor; prints "PORT <n>" once it listens, runs
// until SIGTERM or SIGINT (bounded by --lifetime-s), stops in order, checks
// that no actor outlived the stop, and prints as its last line
//
//   jobs submitted=<n> done=<n> failed=<n> cancelled=<n> timed_out=<n>
//        cleanup_ran=<n> leaked_actors=<a>
//
// Exit code 0 only if nothing leaked. jobs_client.py (Python) drives it;
// `./scripts/run-demo jobs` runs both.

#include <cstdio>
#include <future>
#include <iostream>

#include <caf/all.hpp>

#include <troupe/services/channel.hpp>
#include <troupe/services/service_child.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/system_config.hpp>

#include "jobs_service.hpp"
#include "stop_signals.hpp" // examples/common

namespace {

using namespace std::chrono_literals;

struct jobs_system_config : troupe::transport::system_config {
  jobs_system_config() {
    opt_group{custom_options_, "global"}
      .add(max_running, "max-running", "jobs running at once")
      .add(max_jobs, "max-jobs", "jobs waiting or running at most; more are refused")
      .add(kept_ended, "kept-ended", "ended jobs whose final status is kept")
      .add(lifetime_s, "lifetime-s", "exit after this many seconds whatever happens");
  }
  uint32_t max_running = 4;
  uint32_t max_jobs = 10'000;
  uint32_t kept_ended = 10'000;
  uint32_t lifetime_s = 120;
};

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  troupe_examples::stop_signals stop_signals; // first: every thread inherits the mask
  jobs_system_config cfg;
  if (auto err = cfg.parse_args(argc, argv)) {
    std::cerr << "troupe-jobs: " << to_string(err) << "\n";
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  caf::actor_system sys{cfg};
  auto baseline = sys.registry().running();
  auto node = troupe::transport::node::start(sys);
  if (!node) {
    std::cerr << "cannot start the node: " << sys.render(node.error()) << "\n";
    return 1;
  }
  troupe::supervisors::supervisor_config sup;
  sup.name = "jobs";
  jobs::jobs_config jcfg;
  jcfg.max_running = cfg.max_running;
  jcfg.max_jobs = cfg.max_jobs;
  jcfg.kept_ended = cfg.kept_ended;
  sup.children.push_back(troupe::services::service_child<jobs::jobs_service>(
    troupe::services::service_options{}.published_on(node->handle()), jcfg));
  auto services = troupe::supervisors::spawn_supervisor(sys, sup);
  if (!services) {
    std::cerr << "cannot start the service: " << sys.render(services.error()) << "\n";
    return 1;
  }
  std::printf("PORT %u\n", static_cast<unsigned>(node->port()));
  stop_signals.wait(std::chrono::seconds{cfg.lifetime_s});

  // What the service did, asked the way any client asks.
  jobs::v1::Jobs::Stub stub{troupe::services::channel::local(sys)};
  auto summary = stub.summary(jobs::v1::SummaryRequest{}, 5s);
  if (!summary)
    std::cerr << "cannot ask for the summary: " << sys.render(summary.error()) << "\n";
  // Stop in order: the service cancels what still runs (its runners and
  // their tasks go with it), then the node.
  troupe::supervisors::stop_and_wait(sys, *services, 30s);
  node->stop();
  auto settled = std::async(std::launch::async,
                            [&] { sys.registry().await_running_count_equal(baseline); });
  long leaked = settled.wait_for(10s) == std::future_status::ready
    ? 0
    : static_cast<long>(sys.registry().running()) - static_cast<long>(baseline);
  auto s = summary ? *summary : jobs::v1::JobsSummary{};
  std::printf("jobs submitted=%llu done=%llu failed=%llu cancelled=%llu timed_out=%llu "
              "cleanup_ran=%llu leaked_actors=%ld\n",
              static_cast<unsigned long long>(s.submitted()),
              static_cast<unsigned long long>(s.done()),
              static_cast<unsigned long long>(s.failed()),
              static_cast<unsigned long long>(s.cancelled()),
              static_cast<unsigned long long>(s.timed_out()),
              static_cast<unsigned long long>(s.cleanup_ran()), leaked);
  if (leaked != 0)
    std::_Exit(1); // the waiter would block ~actor_system forever
  return summary ? 0 : 1;
}
