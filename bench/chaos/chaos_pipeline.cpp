// troupe-chaos-pipeline: a supervised source → stage → 4 consumers pipeline
// of N items on the real scheduler, with a fault injector that kills a
// member every few milliseconds (each kind at least once, then at random),
// then a graceful shutdown with a stuck consumer.
//
// What it proves, from counters (never from timing luck):
// - lost=0: every item 1..N was processed by a consumer at least once,
//   whichever members died and however often;
// - duplicates stay within the documented bound: per kill, at most twice the
//   capacity of the biggest edge (a flow output retains at most 2 x capacity
//   unacknowledged items; docs/flow-control.md);
// - the drain ends at its deadline although one consumer never finishes its
//   item (shutdown_ms <= the source's shutdown bound), and counts it;
// - leaked_actors=0: nothing outlives the supervisor.
//
// The last line is
//   chaos items=<N> processed_distinct=<n> lost=<N-n> duplicates=<d> kills=<k>
//         dead_letters=<x> leaked_actors=<a> shutdown_ms=<ms>
// and the exit code is 0 only if every check above holds.
//
// Usage: troupe-chaos-pipeline [--items=N] [--min-kills=K] [--kill-every-ms=M]
//                              [--seed=S]

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/after.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <spdlog/logger.h>

#include <troupe/actors/log.hpp>
#include <troupe/actors/progress.hpp>

#include <troupe/supervisors/pipeline.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/supervisors/system_config.hpp>

using namespace std::chrono;
using namespace troupe::supervisors;
using troupe::actors::consumer_config;
using troupe::actors::item_done;
using troupe::actors::producer_config;
using troupe::actors::pull_status;
using troupe::actors::seq_t;
using troupe::actors::stage_config;

namespace {

constexpr uint32_t consumer_capacity = 32;
constexpr uint32_t stage_capacity = 4 * consumer_capacity;
constexpr auto drain_timeout = milliseconds{500};
constexpr auto stop_timeout = milliseconds{100};
const std::vector<std::string> members{"source",   "stage",    "worker-0",
                                       "worker-1", "worker-2", "worker-3"};

struct options {
  int64_t items = 1'000'000;
  int min_kills = 50;
  int kill_every_ms = 3;
  uint64_t seed = 42;
};

/// What the consumers did, over every incarnation, from any thread.
struct ledger {
  explicit ledger(int64_t n) : items(n), seen(static_cast<size_t>(n) + 1) {
    for (auto& x : seen)
      x.store(0, std::memory_order_relaxed);
  }

  void processed(int64_t x) {
    if (seen[static_cast<size_t>(x)].fetch_add(1, std::memory_order_relaxed) == 0) {
      if (distinct.fetch_add(1) + 1 == items) {
        std::lock_guard<std::mutex> guard{mtx};
        cv.notify_all();
      }
    } else {
      ++duplicates;
    }
  }

  /// Holds the stuck item's `done` forever (until the program drops it).
  void hold(item_done done) {
    std::lock_guard<std::mutex> guard{mtx};
    held.push_back(std::move(done));
    cv.notify_all();
  }

  template <class Predicate>
  bool wait_for(seconds limit, Predicate pred) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, limit, pred);
  }

  const int64_t items;
  std::vector<std::atomic<uint8_t>> seen;
  std::atomic<int64_t> distinct{0};
  std::atomic<int64_t> duplicates{0};
  /// Set after the chaos: the source emits one more item, which a consumer
  /// holds forever (the stuck child of the shutdown).
  std::atomic<bool> stuck_phase{false};
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<item_done> held;
};

options parse(int argc, char** argv) {
  options result;
  for (int i = 1; i < argc; ++i) {
    auto arg = std::string{argv[i]};
    auto value = [&](const char* key) -> const char* {
      auto n = std::strlen(key);
      return arg.compare(0, n, key) == 0 ? arg.c_str() + n : nullptr;
    };
    if (auto v = value("--items="))
      result.items = std::stoll(v);
    else if (auto v = value("--min-kills="))
      result.min_kills = std::stoi(v);
    else if (auto v = value("--kill-every-ms="))
      result.kill_every_ms = std::stoi(v);
    else if (auto v = value("--seed="))
      result.seed = std::stoull(v);
    else {
      std::fprintf(stderr,
                   "usage: troupe-chaos-pipeline [--items=N] [--min-kills=K] "
                   "[--kill-every-ms=M] [--seed=S]\n");
      std::exit(2);
    }
  }
  return result;
}

/// Items 1..N, resumed after the committed position; then nothing (wait)
/// until the stuck phase, which adds item N+1.
auto counter(std::shared_ptr<ledger> l) {
  return [l](seq_t committed) {
    auto next = std::make_shared<int64_t>(static_cast<int64_t>(committed));
    return [l, next](size_t demand, std::vector<int64_t>& out) {
      auto last = l->stuck_phase ? l->items + 1 : l->items;
      while (out.size() < demand && *next < last)
        out.push_back(++*next);
      return pull_status::more; // `more` with nothing appended waits
    };
  };
}

/// Asks the supervisor for member `id`; invalid if it does not run within
/// 200 ms (it may be restarting).
caf::actor member(caf::scoped_actor& self, const supervisor_actor& sup,
                  const std::string& id) {
  caf::actor result;
  self
    ->request(sup, milliseconds{200}, troupe::actors::lookup_atom::value, id,
              caf::actor_addr{})
    .receive([&](caf::actor& x) { result = std::move(x); }, [](caf::error&) {});
  return result;
}

} // namespace

int main(int argc, char** argv) {
  auto opts = parse(argc, argv);
  troupe::supervisors::system_config cfg;
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  // Every kill is a warning and every restart an info line: thousands of
  // them would drown the result. Escalations (errors) still show.
  troupe::actors::logger("chaos")->set_level(spdlog::level::err);
  auto baseline = sys.registry().running();
  auto l = std::make_shared<ledger>(opts.items);
  std::atomic<uint64_t> dead_letters{0};

  pipeline_config pcfg;
  pcfg.name = "chaos";
  pcfg.intensity = {100'000, seconds{1}}; // the injector, not the pipeline, sets the pace
  pcfg.drain_timeout = drain_timeout;
  pcfg.stop_timeout = stop_timeout;
  pcfg.on_dead_letter = [&](const std::string&, const troupe::actors::dead_letter&) {
    ++dead_letters;
  };
  pipeline p{pcfg};
  p.source<int64_t>("source", counter(l), producer_config{32});
  p.stage<int64_t, int64_t>(
    "stage", "source", [](int64_t x) { return x; }, stage_config{stage_capacity, 32});
  for (int i = 0; i < 4; ++i)
    p.consumer<int64_t>(
      "worker-" + std::to_string(i), "stage",
      [l](const int64_t& x, seq_t, item_done done) {
        if (x > l->items) {
          l->hold(std::move(done)); // stuck: never finishes
          return;
        }
        l->processed(x);
        done();
      },
      consumer_config{consumer_capacity});
  auto sup = spawn_supervisor(sys, p.config());
  if (!sup) {
    std::fprintf(stderr, "chaos: %s\n", sys.render(sup.error()).c_str());
    return 1;
  }
  caf::scoped_actor self{sys};
  self->monitor(*sup);

  // -- chaos: kill members until every item was processed and enough died --
  // Progress on stderr (redrawn on a terminal, a line every 5 s in a log);
  // stdout keeps the summary lines.
  std::optional<troupe::actors::progress> shown;
  shown.emplace("chaos", static_cast<uint64_t>(opts.items), [l] {
    return static_cast<uint64_t>(l->distinct.load(std::memory_order_relaxed));
  });
  auto start = steady_clock::now();
  std::mt19937_64 rng{opts.seed};
  int kills = 0;
  std::vector<int> kills_by_member(members.size(), 0);
  auto deadline = start + seconds{300};
  while ((l->distinct < opts.items || kills < opts.min_kills)
         && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds{opts.kill_every_ms}); // the injector's pace
    // Each kind of member first, then at random.
    auto index = kills < static_cast<int>(members.size())
      ? static_cast<size_t>(kills)
      : static_cast<size_t>(rng() % members.size());
    auto victim = member(self, *sup, members[index]);
    if (!victim)
      continue;
    caf::anon_send_exit(victim, caf::exit_reason::kill);
    ++kills;
    ++kills_by_member[index];
  }
  auto chaos_ms = duration_cast<milliseconds>(steady_clock::now() - start).count();
  bool all_processed = l->wait_for(seconds{60}, [&] { return l->distinct == opts.items; });
  shown->finish();

  // -- a graceful shutdown with a stuck consumer ---------------------------
  l->stuck_phase = true;
  bool stuck = false;
  for (int attempt = 0; attempt < 50 && !stuck; ++attempt) {
    // The source may be between incarnations: ask until one takes it.
    if (auto source = member(self, *sup, "source"))
      caf::anon_send(source, troupe::actors::flow_resume_atom::value);
    stuck = l->wait_for(seconds{1}, [&] { return !l->held.empty(); });
  }
  auto shutdown_start = steady_clock::now();
  request_shutdown(*sup);
  bool down = false;
  self->receive([&](caf::down_msg&) { down = true; }, caf::after(seconds{30}) >> [] {});
  auto shutdown_ms = duration_cast<milliseconds>(steady_clock::now() - shutdown_start).count();
  {
    std::lock_guard<std::mutex> guard{l->mtx};
    l->held.clear(); // the stuck item's handle refers to a dead consumer
  }

  // -- leaks: every actor of the pipeline terminated -----------------------
  auto settled = std::async(std::launch::async, [&] {
    sys.registry().await_running_count_equal(baseline + 1); // + self
  });
  auto leaked = settled.wait_for(seconds{10}) == std::future_status::ready
    ? 0
    : static_cast<long>(sys.registry().running()) - static_cast<long>(baseline + 1);
  if (leaked != 0) {
    // The waiter would block forever: let it finish when the system dies.
    std::fprintf(stderr, "chaos: %ld actors still running\n", leaked);
  }

  auto stats = p.stats();
  auto distinct = l->distinct.load();
  auto duplicates = l->duplicates.load();
  auto bound = static_cast<int64_t>(kills) * 2 * stage_capacity;
  auto shutdown_bound = duration_cast<milliseconds>(drain_timeout + stop_timeout).count();
  std::printf("chaos: %d kills in %lld ms (source %d, stage %d, workers %d); all processed: "
              "%s\n",
              kills, static_cast<long long>(chaos_ms), kills_by_member[0], kills_by_member[1],
              kills_by_member[2] + kills_by_member[3] + kills_by_member[4]
                + kills_by_member[5],
              all_processed ? "yes" : "no");
  std::printf("chaos: duplicates %lld <= bound %lld (kills x 2 x capacity %u)\n",
              static_cast<long long>(duplicates), static_cast<long long>(bound),
              stage_capacity);
  std::printf("chaos: shutdown with a stuck consumer (%s): %lld ms <= %lld ms; "
              "unfinished at shutdown %llu, committed %llu\n",
              stuck ? "held" : "NOT HELD", static_cast<long long>(shutdown_ms),
              static_cast<long long>(shutdown_bound),
              static_cast<unsigned long long>(stats.unfinished_at_shutdown),
              static_cast<unsigned long long>(stats.committed));
  std::printf("chaos items=%lld processed_distinct=%lld lost=%lld duplicates=%lld kills=%d "
              "dead_letters=%llu leaked_actors=%ld shutdown_ms=%lld\n",
              static_cast<long long>(opts.items), static_cast<long long>(distinct),
              static_cast<long long>(opts.items - distinct),
              static_cast<long long>(duplicates), kills,
              static_cast<unsigned long long>(dead_letters.load()), leaked,
              static_cast<long long>(shutdown_ms));
  std::fflush(stdout);
  bool each_kind = kills_by_member[0] > 0 && kills_by_member[1] > 0
    && kills_by_member[2] + kills_by_member[3] + kills_by_member[4] + kills_by_member[5] > 0;
  bool ok = distinct == opts.items && kills >= opts.min_kills && each_kind
    && duplicates <= bound && stuck && down && shutdown_ms <= shutdown_bound
    && stats.unfinished_at_shutdown >= 1 && leaked == 0;
  if (leaked != 0)
    std::_Exit(1); // the settle waiter still blocks: do not join it
  return ok ? 0 : 1;
}
