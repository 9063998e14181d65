// The cookbook's recipes (docs/cookbook.md), compiled and run: each recipe
// is a function between `// [cookbook:<name>]` and `// [/cookbook:<name>]`
// markers, which the cookbook quotes verbatim (scripts/check-cookbook checks
// it in ctest). main() runs every recipe, each bounded in time, and prints
// one line per recipe, then "cookbook: <n> recipes OK". A recipe that does
// not do what the cookbook says exits non-zero.

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include <troupe/actors/blocking_pool.hpp>
#include <troupe/actors/caller.hpp>
#include <troupe/actors/consumer.hpp>
#include <troupe/actors/fan_out.hpp>
#include <troupe/actors/producer.hpp>
#include <troupe/actors/system_config.hpp>
#include <troupe/supervisors/scope.hpp>
#include <troupe/supervisors/spawn_with.hpp>

using namespace std::chrono_literals;
using namespace troupe;

namespace {

using ask_atom = caf::atom_constant<caf::atom("ask")>;

int failures = 0;

void expect(bool ok, const char* recipe, const std::string& what) {
  std::printf("recipe %-16s %s %s\n", recipe, ok ? "ok  " : "FAIL", what.c_str());
  if (!ok)
    ++failures;
}

/// Waits (bounded) for what a recipe hands back from its actors.
template <class T>
T await(std::future<T>& f, const char* recipe) {
  if (f.wait_for(10s) != std::future_status::ready) {
    expect(false, recipe, "no outcome within 10 s");
    std::fflush(stdout);
    std::_Exit(1);
  }
  return f.get();
}

// -- asyncio.Queue(maxsize=n): a producer slowed to its consumer's pace ------

// [cookbook:bounded_queue]
/// Sums 1..n through a queue of 64 items; `done(sum, error)` at the end.
caf::expected<caf::actor> sum_through_queue(caf::actor_system& sys, int64_t n,
                                            std::function<void(int64_t, caf::error)> done) {
  // The source is pulled only while the consumer has credit: at most 64
  // items exist between the two, however fast the source could go.
  auto next = std::make_shared<int64_t>(0);
  auto producer = actors::spawn_producer<int64_t>(
    sys, actors::producer_config{}, [next, n](size_t demand, std::vector<int64_t>& out) {
      while (out.size() < demand && *next < n)
        out.push_back(++*next);
      return *next < n ? actors::pull_status::more : actors::pull_status::done;
    });
  if (!producer)
    return producer.error();
  auto sum = std::make_shared<int64_t>(0);
  return actors::spawn_consumer<int64_t>(
    sys, *producer, actors::consumer_config{64}, [sum](const int64_t& x) { *sum += x; },
    [sum, done](const caf::error& err) { done(*sum, err); });
}
// [/cookbook:bounded_queue]

void bounded_queue(caf::actor_system& sys) {
  auto outcome = std::make_shared<std::promise<std::pair<int64_t, caf::error>>>();
  auto consumer = sum_through_queue(sys, 100'000, [outcome](int64_t sum, caf::error err) {
    outcome->set_value({sum, std::move(err)});
  });
  if (!consumer) {
    expect(false, "bounded_queue", sys.render(consumer.error()));
    return;
  }
  auto f = outcome->get_future();
  auto [sum, err] = await(f, "bounded_queue");
  expect(!err && sum == 100'000LL * 100'001 / 2, "bounded_queue",
         "100 000 items through a capacity of 64");
}

// -- retry with jitter, a breaker, a Semaphore, one deadline ------------------

/// Fails the first two attempts of every call, as a flaky service would.
caf::behavior flaky(caf::event_based_actor*) {
  return {[](ask_atom, uint32_t attempt) -> caf::result<uint32_t> {
    if (attempt < 3)
      return caf::make_error(caf::sec::request_timeout, "busy");
    return attempt;
  }};
}

// [cookbook:resilient_call]
struct client_state {
  actors::caller calls;
};

caf::behavior client(caf::stateful_actor<client_state>* self, caf::actor service,
                     std::function<void(caf::expected<uint32_t>)> done) {
  actors::call_policy policy;
  policy.deadline = 2s;                       // the whole call, retries included
  policy.retry = actors::retry_policy::up_to( // 4 attempts, full jitter
    4, actors::backoff::exponential(10ms, 200ms).with_jitter(actors::jitter::full));
  policy.breaker = actors::circuit_breaker::config{}; // per target
  policy.max_in_flight = 8;                           // asyncio.Semaphore(8)
  self->state.calls = actors::caller{self, policy};
  self->state.calls.call<uint32_t>(
    service,
    [](uint32_t attempt, caf::timespan) {
      return caf::make_message(ask_atom::value, attempt);
    },
    std::move(done)); // runs in this actor, exactly once
  return {[](caf::ok_atom) {}};
}
// [/cookbook:resilient_call]

void resilient_call(caf::actor_system& sys) {
  auto service = sys.spawn(flaky);
  auto outcome = std::make_shared<std::promise<caf::expected<uint32_t>>>();
  auto c = sys.spawn(client, service, [outcome](caf::expected<uint32_t> x) {
    outcome->set_value(std::move(x));
  });
  auto f = outcome->get_future();
  auto x = await(f, "resilient_call");
  expect(x && *x == 3, "resilient_call", "answered by attempt 3 after two failures");
  caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
}

// -- asyncio.gather(..., return_exceptions=True) with a bound ---------------

void gather_bounded(caf::actor_system& sys) {
  std::vector<caf::actor> replicas;
  for (int i = 0; i < 6; ++i)
    replicas.push_back(sys.spawn([i]() -> caf::behavior {
      return {[i](ask_atom, uint32_t) -> caf::result<uint32_t> {
        if (i == 4)
          return caf::make_error(caf::sec::runtime_error, "replica 4 is down");
        return static_cast<uint32_t>(i * 10);
      }};
    }));
  auto outcome = std::make_shared<std::promise<std::vector<caf::expected<uint32_t>>>>();
  sys.spawn([replicas, outcome](caf::event_based_actor* self) {
    // [cookbook:gather]
    // Every answer and every error, in target order; at most 2 requests in
    // flight at once; each bounded by 200 ms.
    actors::gather<uint32_t>(self, replicas, 200ms,
                             caf::make_message(ask_atom::value, uint32_t{1}), 2,
                             [outcome](std::vector<caf::expected<uint32_t>> results) {
                               outcome->set_value(std::move(results));
                             });
    // [/cookbook:gather]
  });
  auto f = outcome->get_future();
  auto results = await(f, "gather");
  bool ok = results.size() == 6 && !results[4] && results[5] && *results[5] == 50;
  expect(ok, "gather", "6 answers in order, replica 4's error among them");
  for (auto& r : replicas)
    caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
}

// -- a TaskGroup under asyncio.timeout() --------------------------------------

caf::behavior sleeper(caf::event_based_actor* self, caf::timespan work) {
  self->delayed_send(self, work, caf::ok_atom::value);
  return {[self](caf::ok_atom) { self->quit(); }};
}

void task_group(caf::actor_system& sys) {
  std::promise<supervisors::scope_report> outcome;
  caf::scoped_actor self{sys};
  // [cookbook:task_group]
  supervisors::scope_config group;
  group.name = "fetch-all";
  group.deadline = 300ms; // asyncio.timeout(0.3) around the TaskGroup
  group.owner = self;     // its death would cancel every task
  group.tasks.push_back({"fast", supervisors::spawn_with(sleeper, caf::timespan{10ms})});
  group.tasks.push_back({"slow", supervisors::spawn_with(sleeper, caf::timespan{10s})});
  auto scope = supervisors::spawn_scope(sys, group);
  // The report: every task's outcome; "slow" was cancelled at the deadline.
  // [/cookbook:task_group]
  if (!scope) {
    expect(false, "task_group", sys.render(scope.error()));
    return;
  }
  self->receive([&](const supervisors::scope_report& r) { outcome.set_value(r); },
                caf::after(10s) >> [] {});
  auto f = outcome.get_future();
  auto r = await(f, "task_group");
  auto* slow = r.find("slow");
  expect(r.count(supervisors::task_status::succeeded) == 1 && slow != nullptr
           && slow->status == supervisors::task_status::cancelled,
         "task_group", "\"fast\" succeeded, \"slow\" cancelled by the deadline");
}

// -- run_in_executor / asyncio.to_thread ---------------------------------------

void offload(caf::actor_system& sys) {
  // One thread: the recipe runs one job.
  auto pool = actors::spawn_blocking_pool(sys, 1);
  if (!pool) {
    expect(false, "offload", sys.render(pool.error()));
    return;
  }
  auto outcome = std::make_shared<std::promise<std::string>>();
  sys.spawn([pool = *pool, outcome](caf::event_based_actor* self) {
    // [cookbook:offload]
    // Blocking work (a file, a C library) runs on the pool's own threads,
    // never on the scheduler's; the actor gets the result as a reply.
    actors::run_blocking(self, pool, 5s,
                         [] {
                           std::this_thread::sleep_for(20ms); // stands for blocking I/O
                           return std::string{"parsed"};
                         })
      .then([outcome](std::string& s) { outcome->set_value(s); },
            [outcome](caf::error& err) { outcome->set_value(to_string(err)); });
    // [/cookbook:offload]
  });
  auto f = outcome->get_future();
  expect(await(f, "offload") == "parsed", "offload", "the blocking job's result came back");
  caf::anon_send_exit(*pool, caf::exit_reason::user_shutdown);
}

} // namespace

int main() {
  actors::system_config cfg;
  caf::actor_system sys{cfg};
  bounded_queue(sys);
  resilient_call(sys);
  gather_bounded(sys);
  task_group(sys);
  offload(sys);
  if (failures > 0) {
    std::printf("cookbook: %d recipes FAILED\n", failures);
    return 1;
  }
  std::printf("cookbook: 5 recipes OK\n");
  return 0;
}
