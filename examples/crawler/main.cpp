// troupe-crawler: a distributed web crawler in three kinds of processes.
//
//   troupe-crawler                the coordinator: starts the site server
//                                 (troupe-crawl-site), serves the frontier
//                                 (crawler.v1.Frontier) on a node, starts
//                                 --fetchers fetcher processes, kills one
//                                 with SIGKILL once --kill-at pages are done,
//                                 shows progress and ends with
//
//   crawler pages=<site size> crawled=<n> failed_typed=<n> duplicates_fetched=<n>
//           max_in_flight_seen=<k> peak_rss_mb=<m> seconds=<s>
//
// max_in_flight_seen: the most HTTP attempts one fetcher process ran at
// once (its fetcher's high-water mark; bounded by --max-in-flight).
// peak_rss_mb: the largest peak RSS of the coordinator and the fetchers
// that lived to report it.
//
//   troupe-crawler --role=fetcher --frontier-port=<p>
//                                 one fetcher process (crawl_fetcher.hpp)
//
// Exit code 0 only if every page was crawled or failed with a typed error,
// none was fetched twice, no fetcher exceeded its bound, and no actor
// outlived the crawl.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <future>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include <troupe/services/service_child.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/system_config.hpp>

#include "child_process.hpp" // examples/common
#include "crawl_fetcher.hpp"
#include "crawl_frontier.hpp"
#include "frontier_service.hpp"
#include "process_tools.hpp" // examples/common
#include "stop_signals.hpp"  // examples/common

namespace {

using namespace std::chrono_literals;
using troupe_examples::child_process;
using troupe_examples::peak_rss_kb;
using troupe_examples::word_value;

struct crawler_system_config : troupe::transport::system_config {
  crawler_system_config() {
    opt_group{custom_options_, "global"}
      .add(role, "role", "coordinator (default) or fetcher")
      .add(pages, "pages", "pages of the generated site")
      .add(hosts, "hosts", "hosts (ports) of the generated site")
      .add(fetchers, "fetchers", "fetcher processes")
      .add(kill_at, "kill-at",
           "SIGKILL the first fetcher once this many pages are done (0: never)")
      .add(slow_ms, "slow-ms", "the site's slow pages answer after this long")
      .add(hang_ms, "hang-ms", "the site's hanging pages answer after this long")
      .add(capacity, "capacity", "URLs one fetcher process holds at most")
      .add(max_in_flight, "max-in-flight", "HTTP attempts per fetcher process at once")
      .add(per_host, "per-host", "HTTP attempts per fetcher process and host at once")
      .add(attempt_timeout_ms, "attempt-timeout-ms", "limit of one HTTP attempt")
      .add(attempts, "attempts", "HTTP attempts per page, the first included")
      .add(frontier_port, "frontier-port", "fetcher: the coordinator's node port")
      .add(fetcher_id, "fetcher-id", "fetcher: its name")
      .add(lifetime_s, "lifetime-s", "exit after this many seconds whatever happens");
  }
  std::string role = "coordinator";
  uint32_t pages = 2000;
  uint32_t hosts = 4;
  uint32_t fetchers = 3;
  uint32_t kill_at = 0;
  uint32_t slow_ms = 20;
  uint32_t hang_ms = 1500;
  uint32_t capacity = 64;
  uint32_t max_in_flight = 32;
  uint32_t per_host = 8;
  uint32_t attempt_timeout_ms = 300;
  uint32_t attempts = 3;
  uint16_t frontier_port = 0;
  std::string fetcher_id = "fetcher";
  uint32_t lifetime_s = 300;
};

int run_fetcher_process(caf::actor_system& sys, const crawler_system_config& cfg,
                        const troupe_examples::stop_signals& stop_signals) {
  auto baseline = sys.registry().running();
  auto node = troupe::transport::node::start(sys);
  if (!node) {
    std::cerr << cfg.fetcher_id << ": cannot start the node: " << sys.render(node.error())
              << "\n";
    return 1;
  }
  crawler::fetcher_settings settings;
  settings.id = cfg.fetcher_id;
  settings.capacity = cfg.capacity;
  settings.max_in_flight = cfg.max_in_flight;
  settings.per_host = cfg.per_host;
  settings.attempt_timeout = std::chrono::milliseconds{cfg.attempt_timeout_ms};
  settings.attempts = cfg.attempts;
  settings.lifetime = std::chrono::seconds{cfg.lifetime_s};
  settings.stop_requested = [&stop_signals] { return stop_signals.pending(); };
  auto outcome = crawler::run_fetcher(sys, *node, "127.0.0.1", cfg.frontier_port, settings);
  node->stop();
  auto leaked = troupe_examples::leaked_actors(sys, baseline);
  std::printf("fetcher %s ok=%llu failed=%llu deferred=%llu max_in_flight_seen=%llu "
              "peak_rss_kb=%ld leaked_actors=%ld error=%s\n",
              cfg.fetcher_id.c_str(), static_cast<unsigned long long>(outcome.ok),
              static_cast<unsigned long long>(outcome.failed),
              static_cast<unsigned long long>(outcome.deferred),
              static_cast<unsigned long long>(outcome.max_in_flight_seen), peak_rss_kb(),
              leaked, outcome.error ? "yes" : "none");
  if (outcome.error)
    std::cerr << cfg.fetcher_id << ": " << sys.render(outcome.error) << "\n";
  if (leaked != 0)
    std::_Exit(1); // ~actor_system would wait for the leaked actors forever
  return outcome.error ? 1 : 0;
}

int run_coordinator(caf::actor_system& sys, const crawler_system_config& cfg,
                    const troupe_examples::stop_signals& stop_signals) {
  auto started_at = std::chrono::steady_clock::now();
  auto deadline = started_at + std::chrono::seconds{cfg.lifetime_s};
  auto baseline = sys.registry().running();
  auto me = troupe_examples::this_program();
  auto dir = me.substr(0, me.rfind('/') + 1);
  auto site = child_process::start(
    {dir + "troupe-crawl-site", "--pages=" + std::to_string(cfg.pages),
     "--hosts=" + std::to_string(cfg.hosts), "--slow-ms=" + std::to_string(cfg.slow_ms),
     "--hang-ms=" + std::to_string(cfg.hang_ms),
     "--lifetime-s=" + std::to_string(cfg.lifetime_s + 30)});
  if (!site) {
    std::cerr << "crawler: " << sys.render(site.error()) << "\n";
    return 1;
  }
  auto ports_line = site->read_line(10s);
  if (!ports_line || ports_line->rfind("PORTS ", 0) != 0) {
    std::cerr << "crawler: the site server did not start\n";
    return 1;
  }
  crawler::frontier_config fcfg;
  std::istringstream ports{ports_line->substr(6)};
  std::vector<std::string> origins;
  for (std::string p; ports >> p;)
    origins.push_back("http://127.0.0.1:" + p);
  fcfg.origins.insert(origins.begin(), origins.end());
  auto frontier = std::make_shared<crawler::crawl_frontier>(fcfg);
  frontier->seed(origins.front() + "/p/0");

  auto node = troupe::transport::node::start(sys);
  if (!node) {
    std::cerr << "crawler: cannot start the node: " << sys.render(node.error()) << "\n";
    return 1;
  }
  troupe::supervisors::supervisor_config sup;
  sup.name = "crawler";
  sup.children.push_back(troupe::services::service_child<crawler::frontier_service>(
    troupe::services::service_options{}.published_on(node->handle()), frontier));
  auto services = troupe::supervisors::spawn_supervisor(sys, sup);
  if (!services) {
    std::cerr << "crawler: cannot start the frontier: " << sys.render(services.error())
              << "\n";
    node->stop();
    return 1;
  }
  // Stops the frontier (its Work streams end, so the fetchers do) and the
  // node, once, on every way out.
  bool stopped = false;
  auto stop_services = [&] {
    if (stopped)
      return;
    stopped = true;
    troupe::supervisors::stop_and_wait(sys, *services, 30s);
  };
  auto start_fetcher = [&](uint32_t k) {
    return child_process::start(
      {me, "--role=fetcher", "--frontier-port=" + std::to_string(node->port()),
       "--fetcher-id=fetcher-" + std::to_string(k),
       "--capacity=" + std::to_string(cfg.capacity),
       "--max-in-flight=" + std::to_string(cfg.max_in_flight),
       "--per-host=" + std::to_string(cfg.per_host),
       "--attempt-timeout-ms=" + std::to_string(cfg.attempt_timeout_ms),
       "--attempts=" + std::to_string(cfg.attempts),
       "--lifetime-s=" + std::to_string(cfg.lifetime_s)});
  };
  std::vector<child_process> fetchers;
  for (uint32_t k = 0; k < cfg.fetchers; ++k) {
    auto f = start_fetcher(k);
    if (!f) {
      std::cerr << "crawler: " << sys.render(f.error()) << "\n";
      stop_services();
      node->stop();
      return 1;
    }
    fetchers.push_back(std::move(*f));
  }
  std::printf("crawl: site on %zu hosts, frontier on port %u, %u fetcher processes\n",
              origins.size(), static_cast<unsigned>(node->port()), cfg.fetchers);

  // Progress until the crawl is over, a stop signal, or the lifetime ends.
  // A fetcher that dies is replaced (a process-level one_for_one), at most
  // twice per fetcher: what it held goes to the others meanwhile.
  long peak_rss = peak_rss_kb();
  uint64_t max_in_flight_seen = 0;
  bool fetchers_ok = true;
  auto read_fetcher_lines = [&](child_process& f, std::chrono::milliseconds wait) {
    while (auto line = f.read_line(wait)) {
      if (line->rfind("fetcher ", 0) != 0)
        continue;
      std::printf("crawl: %s\n", line->c_str());
      peak_rss = std::max<long>(peak_rss, static_cast<long>(word_value(*line, "peak_rss_kb")));
      max_in_flight_seen =
        std::max(max_in_flight_seen, word_value(*line, "max_in_flight_seen"));
      if (line->find("leaked_actors=0 ") == std::string::npos)
        fetchers_ok = false;
    }
  };
  uint32_t restarts = 0;
  bool killed = false;
  bool finished = false;
  uint64_t last_done = 0;
  auto last_at = started_at;
  while (!finished && std::chrono::steady_clock::now() < deadline) {
    // Short ticks for the kill; a progress line every second.
    finished = frontier->wait_finished(100ms);
    auto p = frontier->progress();
    auto done = p.crawled + p.failed;
    if (!finished && cfg.kill_at > 0 && !killed && done >= cfg.kill_at && !fetchers.empty()) {
      fetchers.front().signal(SIGKILL);
      killed = true;
      std::printf("crawl: killed fetcher-0 (SIGKILL) with %llu pages done\n",
                  static_cast<unsigned long long>(done));
    }
    for (uint32_t k = 0; !finished && k < fetchers.size(); ++k) {
      auto code = fetchers[k].wait(0ms);
      if (!code)
        continue;
      read_fetcher_lines(fetchers[k], 0ms);
      if (restarts >= 2 * cfg.fetchers) {
        std::printf("crawl: fetcher-%u exited (%d); no restarts left\n", k, *code);
        continue;
      }
      auto f = start_fetcher(k);
      if (!f)
        continue;
      ++restarts;
      std::printf("crawl: fetcher-%u exited (%d); restarted\n", k, *code);
      fetchers[k] = std::move(*f);
    }
    auto now = std::chrono::steady_clock::now();
    if (finished || now - last_at >= 1s) {
      auto rate = static_cast<double>(done - last_done)
        / std::max(1e-3, std::chrono::duration<double>(now - last_at).count());
      last_done = done;
      last_at = now;
      auto left = p.known - done;
      std::printf("crawl: %llu/%llu pages done (%llu failed), %.0f pages/s, %llu leased, "
                  "%llu waiting, ETA %.0f s\n",
                  static_cast<unsigned long long>(done),
                  static_cast<unsigned long long>(p.known),
                  static_cast<unsigned long long>(p.failed), rate,
                  static_cast<unsigned long long>(p.leased),
                  static_cast<unsigned long long>(p.waiting), rate > 0 ? left / rate : 0.0);
    }
    if (stop_signals.pending()) {
      std::printf("crawl: stopped by a signal\n");
      break;
    }
  }
  auto seconds =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();

  // A finished crawl's Work streams end by themselves, each once its
  // fetcher's last acknowledgements reach the frontier, which can be after
  // its last report did: stopping the services first would cut a stream
  // short (a TSan run's fetcher saw request_receiver_down). So the fetchers
  // end first, each printing its line, then the services. An unfinished
  // crawl (lifetime, signal) stops the services first; the streams, and
  // the fetchers, end with them.
  // Bounded as a whole: 30 s for every fetcher of a finished crawl to end,
  // then 10 s after the services stopped; a fetcher still running after
  // that fails the run (the child_process destructor kills it).
  std::vector<bool> reaped(fetchers.size(), false);
  auto reap_fetchers = [&](std::chrono::steady_clock::time_point by) {
    auto left = [by] {
      return std::max(std::chrono::milliseconds{0},
                      std::chrono::duration_cast<std::chrono::milliseconds>(
                        by - std::chrono::steady_clock::now()));
    };
    for (size_t k = 0; k < fetchers.size(); ++k) {
      if (reaped[k])
        continue;
      read_fetcher_lines(fetchers[k], left());
      auto code = fetchers[k].wait(left());
      if (!code)
        continue; // still running
      reaped[k] = true;
      // A fetcher of a finished crawl ends normally (the killed one was
      // replaced and reaped above).
      if (finished && *code != 0)
        fetchers_ok = false;
    }
  };
  if (finished)
    reap_fetchers(std::chrono::steady_clock::now() + 30s);
  stop_services();
  reap_fetchers(std::chrono::steady_clock::now() + 10s);
  if (std::find(reaped.begin(), reaped.end(), false) != reaped.end())
    fetchers_ok = false;
  site->signal(SIGTERM);
  std::string site_stats;
  while (auto line = site->read_line(10s))
    if (line->rfind("site ", 0) == 0)
      site_stats = *line;
  site->wait(10s);
  node->stop();
  auto leaked = troupe_examples::leaked_actors(sys, baseline);
  auto p = frontier->progress();
  auto pages = word_value(site_stats, "pages");
  std::printf("crawl: %s; frontier requeued=%llu dead_letters=%llu deferred=%llu "
              "out_of_scope_links=%llu over_budget=%llu restarts=%u crawl_seconds=%.2f "
              "leaked_actors=%ld\n",
              site_stats.c_str(), static_cast<unsigned long long>(p.requeued),
              static_cast<unsigned long long>(p.dead_letters),
              static_cast<unsigned long long>(p.deferred),
              static_cast<unsigned long long>(p.out_of_scope),
              static_cast<unsigned long long>(p.over_budget), restarts,
              frontier->crawl_seconds(), leaked);
  std::string reasons;
  for (auto& [reason, n] : p.failed_by_reason)
    reasons += (reasons.empty() ? "" : ", ") + reason + "=" + std::to_string(n);
  if (p.dead_letters > 0)
    reasons += (reasons.empty() ? "" : ", ") + std::string{"dead_letter="}
      + std::to_string(p.dead_letters);
  std::printf("crawl: failed by reason: %s\n", reasons.empty() ? "none" : reasons.c_str());
  std::printf(
    "crawler pages=%llu crawled=%llu failed_typed=%llu duplicates_fetched=%llu "
    "max_in_flight_seen=%llu peak_rss_mb=%.1f seconds=%.1f\n",
    static_cast<unsigned long long>(pages), static_cast<unsigned long long>(p.crawled),
    static_cast<unsigned long long>(p.failed), static_cast<unsigned long long>(p.duplicates),
    static_cast<unsigned long long>(max_in_flight_seen), peak_rss / 1024.0, seconds);
  if (leaked != 0)
    std::_Exit(1);
  bool complete = finished && pages > 0 && p.crawled + p.failed == pages && p.duplicates == 0
    && max_in_flight_seen <= cfg.max_in_flight && fetchers_ok;
  return complete ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  troupe_examples::stop_signals stop_signals; // first: every thread inherits the mask
  crawler_system_config cfg;
  if (auto err = cfg.parse_args(argc, argv)) {
    std::cerr << "troupe-crawler: " << to_string(err) << "\n";
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.role != "coordinator" && cfg.role != "fetcher") {
    std::cerr << "troupe-crawler: --role must be coordinator or fetcher\n";
    return 2;
  }
  caf::actor_system sys{cfg};
  return cfg.role == "fetcher" ? run_fetcher_process(sys, cfg, stop_signals)
                               : run_coordinator(sys, cfg, stop_signals);
}
