// bench/pipeline: Troupe's bounded producer → 4 consumers pipeline next to a
// raw CAF credit pipeline written here, in one process and one run.
//
//   troupe per-item   batch_size 1: one CAF message per item
//   raw    per-item   the same protocol by hand: one message per item,
//                     consumers re-grant credit every capacity/2 items
//   troupe batched    batch_size 256, capacity 1024 per consumer, a batch
//                     handler (the consumer form made for throughput)
//   troupe batched/i  the same with a per-item handler (printed, not in the
//                     ratio)
//   raw    batched    std::vector<int64_t> batches of 256, same credit rule
//
// Each consumer sums what it gets; the sums are checked so no run can cheat.
// RSS is the process's high-water mark (VmHWM) after the 1 M and after the
// 10 M batched Troupe runs: flat memory means the second stays close to
// the first. Prints numbers only; asserts nothing.
//
// Every ratio is the median of the ratios of --rounds rounds (default 5),
// each round running the pair side by side, odd rounds in reverse order.
//
// Usage: troupe-bench-pipeline [--items=N] [--rounds=R] [--per-item-only] [--only=troupe|raw]
//   --items: items of the per-item runs (default 1 M); batched runs use 1 M and 10 M
//   --only: one per-item run alone, in a process of its own (to profile it:
//           `perf stat` shows each one's CPU time and context switches)

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include <troupe/actors/consumer.hpp>
#include <troupe/actors/producer.hpp>
#include <troupe/supervisors/pipeline.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/supervisors/system_config.hpp>

using namespace std::chrono;
using troupe::actors::seq_t;

namespace {

constexpr int consumers = 4;

/// Counts finished consumers; the main thread waits on it.
struct finish_line {
  std::mutex mtx;
  std::condition_variable cv;
  int finished = 0;
  std::atomic<int64_t> sum{0};

  void arrive(int64_t partial) {
    sum += partial;
    std::lock_guard<std::mutex> guard{mtx};
    ++finished;
    cv.notify_all();
  }

  void wait(int expected) {
    std::unique_lock<std::mutex> guard{mtx};
    cv.wait(guard, [&] { return finished == expected; });
  }
};

double seconds_since(steady_clock::time_point t0) {
  return duration<double>(steady_clock::now() - t0).count();
}

double rss_high_water_mb() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

/// Appends the next `k` numbers to `out`: every run makes its items with
/// this same loop, so the ratios compare the pipelines, not the loops.
void append_numbers(std::vector<int64_t>& out, int64_t& next, size_t k) {
  auto first = out.size();
  out.resize(first + k);
  for (auto i = first; i < out.size(); ++i)
    out[i] = next++;
}

// -- Troupe ------------------------------------------------------------------

enum class handler_form { per_item, per_batch };

double run_troupe(caf::actor_system& sys, int64_t n, uint32_t batch, uint32_t capacity,
                  handler_form form) {
  using namespace troupe::actors;
  finish_line line;
  int64_t next = 1;
  auto t0 = steady_clock::now();
  auto p = spawn_producer<int64_t>(
    sys, producer_config{batch, {}}, [&next, n](size_t demand, std::vector<int64_t>& out) {
      append_numbers(out, next,
                     static_cast<size_t>(std::min<int64_t>(int64_t(demand), n - next + 1)));
      return next > n ? pull_status::done : pull_status::more;
    });
  for (int i = 0; i < consumers; ++i) {
    auto partial = std::make_shared<int64_t>(0);
    auto on_done = [partial, &line](const caf::error&) { line.arrive(*partial); };
    if (form == handler_form::per_item)
      spawn_consumer<int64_t>(
        sys, *p, consumer_config{capacity, 1}, [partial](const int64_t& x) { *partial += x; },
        on_done);
    else
      spawn_consumer<int64_t>(
        sys, *p, consumer_config{capacity, 1},
        [partial](caf::span<const int64_t> xs, seq_t) {
          for (auto x : xs)
            *partial += x;
        },
        on_done);
  }
  line.wait(consumers);
  auto elapsed = seconds_since(t0);
  sys.await_all_actors_done();
  if (line.sum != n * (n + 1) / 2)
    std::fprintf(stderr, "troupe: wrong sum\n");
  return elapsed;
}

/// The per-item run as a supervised pipeline: the same source, capacity and
/// handler, declared as children of one supervisor that ends by itself once
/// the stream is done.
double run_supervised(caf::actor_system& sys, int64_t n, uint32_t capacity) {
  using namespace troupe::actors;
  using namespace troupe::supervisors;
  std::vector<std::shared_ptr<int64_t>> partials;
  pipeline p{pipeline_config{"bench"}};
  p.source<int64_t>(
    "source",
    [n](seq_t committed) {
      return [next = static_cast<int64_t>(committed) + 1,
              n](size_t demand, std::vector<int64_t>& out) mutable {
        append_numbers(out, next,
                       static_cast<size_t>(std::min<int64_t>(int64_t(demand), n - next + 1)));
        return next > n ? pull_status::done : pull_status::more;
      };
    },
    producer_config{1, {}});
  for (int i = 0; i < consumers; ++i) {
    auto partial = std::make_shared<int64_t>(0);
    partials.push_back(partial);
    p.consumer<int64_t>(
      "worker-" + std::to_string(i), "source", [partial](const int64_t& x) { *partial += x; },
      consumer_config{capacity, 1});
  }
  caf::scoped_actor self{sys};
  auto t0 = steady_clock::now();
  auto sup = spawn_supervisor(sys, p.config());
  if (!sup) {
    std::fprintf(stderr, "supervised: %s\n", sys.render(sup.error()).c_str());
    return 1;
  }
  self->monitor(*sup);
  self->receive([](caf::down_msg&) {});
  auto elapsed = seconds_since(t0);
  int64_t sum = 0;
  for (auto& x : partials)
    sum += *x;
  if (sum != n * (n + 1) / 2)
    std::fprintf(stderr, "supervised: wrong sum\n");
  return elapsed;
}

// -- raw CAF baseline ---------------------------------------------------------

using raw_demand_atom = caf::atom_constant<caf::atom("rdemand")>;
using raw_done_atom = caf::atom_constant<caf::atom("rdone")>;

struct raw_producer_state {
  struct link {
    caf::actor consumer;
    uint64_t credit = 0;
  };
  std::vector<link> links;
  int64_t next = 1;
  bool done_sent = false;
};

caf::behavior raw_producer(caf::stateful_actor<raw_producer_state>* self, int64_t n,
                           uint32_t batch) {
  auto push = [=] {
    auto& st = self->state;
    for (auto& l : st.links) {
      while (l.credit > 0 && st.next <= n) {
        if (batch == 1) {
          self->send(l.consumer, st.next++);
          --l.credit;
        } else {
          auto k = std::min<uint64_t>({l.credit, batch, uint64_t(n - st.next + 1)});
          std::vector<int64_t> xs;
          append_numbers(xs, st.next, k);
          l.credit -= k;
          self->send(l.consumer, std::move(xs));
        }
      }
    }
    if (st.next > n && !st.done_sent && st.links.size() == consumers) {
      st.done_sent = true;
      for (auto& l : st.links)
        self->send(l.consumer, raw_done_atom::value);
      self->quit();
    }
  };
  return {
    [=](raw_demand_atom, uint32_t credit) {
      auto sender = caf::actor_cast<caf::actor>(self->current_sender());
      auto& links = self->state.links;
      auto i = std::find_if(links.begin(), links.end(),
                            [&](auto& l) { return l.consumer == sender; });
      if (i == links.end())
        links.push_back({sender, credit});
      else
        i->credit += credit;
      push();
    },
  };
}

caf::behavior raw_consumer(caf::event_based_actor* self, caf::actor producer,
                           uint32_t capacity, finish_line* line) {
  auto sum = std::make_shared<int64_t>(0);
  auto unpaid = std::make_shared<uint32_t>(0);
  auto pay = [=](uint32_t k) {
    *unpaid += k;
    if (*unpaid >= capacity / 2) {
      self->send<caf::message_priority::high>(producer, raw_demand_atom::value, *unpaid);
      *unpaid = 0;
    }
  };
  self->send(producer, raw_demand_atom::value, capacity);
  return {
    [=](int64_t x) {
      *sum += x;
      pay(1);
    },
    [=](const std::vector<int64_t>& xs) {
      for (auto x : xs)
        *sum += x;
      pay(static_cast<uint32_t>(xs.size()));
    },
    [=](raw_done_atom) {
      line->arrive(*sum);
      self->quit();
    },
  };
}

double run_raw(caf::actor_system& sys, int64_t n, uint32_t batch, uint32_t capacity) {
  finish_line line;
  auto t0 = steady_clock::now();
  auto p = sys.spawn(raw_producer, n, batch);
  for (int i = 0; i < consumers; ++i)
    sys.spawn(raw_consumer, p, capacity, &line);
  line.wait(consumers);
  auto elapsed = seconds_since(t0);
  sys.await_all_actors_done();
  if (line.sum != n * (n + 1) / 2)
    std::fprintf(stderr, "raw: wrong sum\n");
  return elapsed;
}

/// The median of `xs` (taken by value: sorted here).
double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  auto n = xs.size();
  return n % 2 == 1 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

} // namespace

int main(int argc, char** argv) {
  int64_t per_item_n = 1'000'000;
  int rounds = 5;
  bool per_item_only = false; // for profiling the per-item path
  std::string only;           // "troupe" or "raw": that per-item run alone
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--items=", 8) == 0)
      per_item_n = std::stoll(argv[i] + 8);
    else if (std::strncmp(argv[i], "--rounds=", 9) == 0)
      rounds = std::max(1, std::atoi(argv[i] + 9));
    else if (std::strcmp(argv[i], "--per-item-only") == 0)
      per_item_only = true;
    else if (std::strncmp(argv[i], "--only=", 7) == 0)
      only = argv[i] + 7;
  }
  troupe::supervisors::system_config cfg;
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};

  constexpr uint32_t item_capacity = 64;
  if (!only.empty()) {
    auto t = only == "raw"
      ? run_raw(sys, per_item_n, 1, item_capacity)
      : run_troupe(sys, per_item_n, 1, item_capacity, handler_form::per_item);
    std::printf("per-item %s %.2f M/s\n", only.c_str(), per_item_n / t / 1e6);
    return 0;
  }
  // Each pair runs side by side in alternating rounds, and a ratio is the
  // median of the rounds' ratios: the machine's pace drifts over seconds,
  // and a ratio of two runs far apart in time measures the drift.
  std::vector<double> item_ratios, supervised_ratios, troupe_rates, raw_rates, sup_rates;
  for (int r = 0; r < rounds; ++r) {
    // Odd rounds run the pair in the other order, so whatever the first
    // run of a round pays (or gains) is shared.
    double troupe_item = 0, raw_item = 0, supervised_item = 0;
    if (r % 2 == 0) {
      troupe_item = run_troupe(sys, per_item_n, 1, item_capacity, handler_form::per_item);
      raw_item = run_raw(sys, per_item_n, 1, item_capacity);
      supervised_item = run_supervised(sys, per_item_n, item_capacity);
    } else {
      supervised_item = run_supervised(sys, per_item_n, item_capacity);
      raw_item = run_raw(sys, per_item_n, 1, item_capacity);
      troupe_item = run_troupe(sys, per_item_n, 1, item_capacity, handler_form::per_item);
    }
    item_ratios.push_back(raw_item / troupe_item);
    supervised_ratios.push_back(troupe_item / supervised_item);
    troupe_rates.push_back(per_item_n / troupe_item / 1e6);
    raw_rates.push_back(per_item_n / raw_item / 1e6);
    sup_rates.push_back(per_item_n / supervised_item / 1e6);
  }
  std::printf("per-item   n=%lld  troupe %.2f M/s  raw %.2f M/s  supervised %.2f M/s "
              "(medians of %d rounds)\n",
              static_cast<long long>(per_item_n), median(troupe_rates), median(raw_rates),
              median(sup_rates), rounds);
  if (per_item_only)
    return 0;

  constexpr uint32_t batch = 256;
  constexpr uint32_t capacity = 1024;
  auto troupe_1m = run_troupe(sys, 1'000'000, batch, capacity, handler_form::per_batch);
  auto rss_1m = rss_high_water_mb();
  auto raw_1m = run_raw(sys, 1'000'000, batch, capacity);
  // The high-water mark after the first 10 M Troupe run, before any raw
  // 10 M run: Troupe's memory, as at 1 M.
  auto rss_10m = 0.0;
  std::vector<double> batched_ratios, troupe_10m_rates, raw_10m_rates;
  for (int r = 0; r < rounds; ++r) {
    double troupe_10m = 0, raw_10m = 0;
    if (r % 2 == 0) {
      troupe_10m = run_troupe(sys, 10'000'000, batch, capacity, handler_form::per_batch);
      if (r == 0)
        rss_10m = rss_high_water_mb();
      raw_10m = run_raw(sys, 10'000'000, batch, capacity);
    } else {
      raw_10m = run_raw(sys, 10'000'000, batch, capacity);
      troupe_10m = run_troupe(sys, 10'000'000, batch, capacity, handler_form::per_batch);
    }
    batched_ratios.push_back(raw_10m / troupe_10m);
    troupe_10m_rates.push_back(10e6 / troupe_10m);
    raw_10m_rates.push_back(10e6 / raw_10m);
  }
  auto troupe_10m_items = run_troupe(sys, 10'000'000, batch, capacity, handler_form::per_item);
  std::printf("batched/i  n=10M  troupe %.1f M/s (per-item handler)\n",
              10.0 / troupe_10m_items);
  std::printf("batched    n=1M   troupe %.1f M/s  raw %.1f M/s\n", 1.0 / troupe_1m,
              1.0 / raw_1m);
  std::printf("batched    n=10M  troupe %.1f M/s  raw %.1f M/s (medians of %d rounds)\n",
              median(troupe_10m_rates) / 1e6, median(raw_10m_rates) / 1e6, rounds);
  std::printf("pipeline per_item_ratio=%.2f batched_items_per_s=%.0f batched_ratio=%.2f "
              "supervised_ratio=%.2f rss_mb_1M=%.1f rss_mb_10M=%.1f\n",
              median(item_ratios), median(troupe_10m_rates), median(batched_ratios),
              median(supervised_ratios), rss_1m, rss_10m);
  return 0;
}
