// pipeline: a supervised source → stage → 4 consumers, on virtual time. Each
// kind of member killed mid-stream; a restarted source resuming from its
// committed position; a finished stream ending the pipeline without a
// restart; drain on shutdown (with and without a stuck consumer); a poison
// item dead-lettered after max_deliveries.

#include <catch2/catch.hpp>

#include "probe.hpp"

#include <troupe/actors/flow_stats.hpp>
#include <troupe/supervisors/pipeline.hpp>

using namespace std::chrono_literals;
using namespace troupe::supervisors;
using probe::fixture;
using troupe::actors::consumer_config;
using troupe::actors::flow_stats;
using troupe::actors::flow_stats_atom;
using troupe::actors::item_done;
using troupe::actors::lookup_atom;
using troupe::actors::producer_config;
using troupe::actors::pull_status;
using troupe::actors::seq_t;
using troupe::actors::stage_config;

namespace {

constexpr int64_t item_count = 2000;
constexpr uint32_t consumer_capacity = 16;
constexpr uint32_t stage_capacity = 4 * consumer_capacity;
const std::vector<std::string> members{"source",   "stage",    "worker-0",
                                       "worker-1", "worker-2", "worker-3"};

/// What the members did, over every incarnation. The deterministic
/// scheduler runs every actor on the test's thread: no locks needed.
struct ledger {
  /// Item → times a consumer processed it.
  std::map<int64_t, int> seen;
  /// The committed position handed to each start of the source.
  std::vector<seq_t> starts;
  /// Items the source produced, over all its incarnations.
  int64_t pulled = 0;
  std::vector<troupe::actors::dead_letter> dead_letters;

  int64_t duplicates() const {
    int64_t n = 0;
    for (auto& kvp : seen)
      n += kvp.second - 1;
    return n;
  }

  /// Items in [1, n] never processed.
  int64_t missing(int64_t n) const {
    int64_t result = 0;
    for (int64_t i = 1; i <= n; ++i)
      result += seen.count(i) == 0 ? 1 : 0;
    return result;
  }
};

/// A replayable source: item i has sequence number i.
auto counter(std::shared_ptr<ledger> l) {
  return [l](seq_t committed) {
    l->starts.push_back(committed);
    auto next = std::make_shared<int64_t>(static_cast<int64_t>(committed));
    return [l, next](size_t demand, std::vector<int64_t>& out) {
      while (out.size() < demand && *next < item_count) {
        out.push_back(++*next);
        ++l->pulled;
      }
      return *next < item_count ? pull_status::more : pull_status::done;
    };
  };
}

/// source → stage (identity) → worker-0..3; `handler` is the consumers'.
template <class Handler>
pipeline make_pipeline(std::shared_ptr<ledger> l, Handler handler, pipeline_config cfg = {},
                       uint32_t batch_size = 16) {
  cfg.name = "p";
  cfg.intensity = {100, 1s};
  cfg.on_dead_letter = [l](const std::string&, const troupe::actors::dead_letter& letter) {
    l->dead_letters.push_back(letter);
  };
  pipeline p{cfg};
  p.source<int64_t>("source", counter(l), producer_config{batch_size});
  p.stage<int64_t, int64_t>(
    "stage", "source", [](int64_t x) { return x; }, stage_config{stage_capacity, batch_size});
  for (int i = 0; i < 4; ++i)
    p.consumer<int64_t>("worker-" + std::to_string(i), "stage", handler,
                        consumer_config{consumer_capacity});
  return p;
}

auto recording(std::shared_ptr<ledger> l) {
  return [l](const int64_t& x) { ++l->seen[x]; };
}

/// Runs `n` jobs at most: a pipeline in mid-stream.
void run_jobs(fixture& f, int n) {
  for (int i = 0; i < n && f.run_once(); ++i) {
    // one job each
  }
}

/// Asks the supervisor for member `id` without running anyone else.
caf::actor member(fixture& f, const supervisor_actor& sup, const std::string& id) {
  auto h = f.self->request(sup, caf::infinite, lookup_atom::value, id, caf::actor_addr{});
  f.run_only(sup);
  caf::actor result;
  h.receive([&](caf::actor& x) { result = x; },
            [&](caf::error& err) { FAIL(troupe::messages::describe(err)); });
  return result;
}

/// Asks a member for its counters without running anyone else.
flow_stats stats_of(fixture& f, const caf::actor& who) {
  auto h = f.self->request(who, caf::infinite, flow_stats_atom::value);
  f.run_only(who);
  flow_stats result;
  h.receive([&](flow_stats& x) { result = x; },
            [&](caf::error& err) { FAIL(troupe::messages::describe(err)); });
  return result;
}

/// Checks every bound from the members' own counters.
void check_bounds(fixture& f, const supervisor_actor& sup) {
  for (auto& id : members) {
    auto who = member(f, sup, id);
    if (!who)
      continue;
    auto st = stats_of(f, who);
    CAPTURE(id);
    if (id == "stage")
      CHECK(st.max_buffered <= stage_capacity);
    else if (id != "source")
      CHECK(st.max_buffered <= consumer_capacity);
    CHECK(st.max_outstanding <= stage_capacity);
    CHECK(st.pulls_without_demand == 0);
  }
}

int restarts(const std::vector<std::string>& events, const std::string& id) {
  return static_cast<int>(std::count(events.begin(), events.end(), id + ":restarting"));
}

supervisor_actor spawn_observed(fixture& f, const pipeline& p) {
  auto cfg = p.config();
  cfg.observers = {f.tester()};
  auto sup = spawn_supervisor(f.sys, cfg);
  REQUIRE(sup);
  f.watch(*sup);
  return *sup;
}

} // namespace

TEST_CASE_METHOD(fixture, "a supervised pipeline processes every item and ends when done",
                 "[supervisors][pipeline]") {
  auto l = std::make_shared<ledger>();
  auto p = make_pipeline(l, recording(l));
  auto sup = spawn_observed(*this, p);
  run();
  auto reason = down_reason(sup);
  REQUIRE(reason);
  CHECK(is_normal_stop(*reason));
  CHECK(l->missing(item_count) == 0);
  CHECK(l->duplicates() == 0);
  CHECK(p.stats().committed == static_cast<seq_t>(item_count));
  auto events = take_events();
  for (auto& id : members) {
    CAPTURE(id);
    CHECK(restarts(events, id) == 0); // `done` is not a crash: no restart loop
  }
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture,
                 "any member killed mid-stream: every item is processed at least once",
                 "[supervisors][pipeline]") {
  auto victim = GENERATE(as<std::string>{}, "source", "stage", "worker-2");
  auto batch_size = GENERATE(uint32_t{16}, uint32_t{1}); // shared messages; typed copies
  CAPTURE(victim, batch_size);
  auto l = std::make_shared<ledger>();
  auto p = make_pipeline(l, recording(l), {}, batch_size);
  auto sup = spawn_observed(*this, p);
  run_jobs(*this, 100);
  REQUIRE(!l->seen.empty());
  REQUIRE(static_cast<int64_t>(l->seen.size()) < item_count / 2);
  check_bounds(*this, sup);
  auto committed_before = p.stats().committed;
  caf::anon_send_exit(member(*this, sup, victim), caf::exit_reason::kill);
  run_jobs(*this, 100);
  check_bounds(*this, sup); // the new incarnation and its neighbours too
  run();
  auto reason = down_reason(sup);
  REQUIRE(reason);
  CHECK(is_normal_stop(*reason));
  CHECK(l->missing(item_count) == 0);
  // Duplicates are bounded by what was in flight (docs/flow-control.md): an
  // output retains at most twice its consumer's capacity, and the stage's
  // capacity covers the consumers' (it acknowledges end to end). Batches of
  // one show the factor 2: items finished out of order return credit before
  // the items ahead of them are acknowledged.
  CHECK(l->duplicates() <= 2 * stage_capacity);
  CHECK(p.stats().committed == static_cast<seq_t>(item_count));
  auto events = take_events();
  CHECK(restarts(events, victim) == 1);
  for (auto& id : members)
    if (id != victim)
      CHECK(restarts(events, id) == 0); // neighbours re-bound by themselves
  if (victim == "source") {
    // The second start resumed after what was processed end to end, not at 0.
    REQUIRE(l->starts.size() == 2);
    CHECK(l->starts[0] == 0);
    CHECK(l->starts[1] >= committed_before);
    CHECK(l->starts[1] > 0);
    CHECK(l->pulled - item_count <= 2 * stage_capacity); // re-pulled: in flight only
  }
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "a shutdown drains the pipeline: in-flight items finish",
                 "[supervisors][pipeline]") {
  auto l = std::make_shared<ledger>();
  auto p = make_pipeline(l, recording(l));
  auto sup = spawn_observed(*this, p);
  run_jobs(*this, 100);
  REQUIRE(static_cast<int64_t>(l->seen.size()) < item_count / 2);
  auto before = now();
  request_shutdown(sup);
  run();
  auto reason = down_reason(sup);
  REQUIRE(reason);
  CHECK(is_normal_stop(*reason));
  CHECK(now() == before); // no timeout was needed
  auto st = p.stats();
  CHECK(st.drains == 1);
  CHECK(st.unfinished_at_shutdown == 0);
  // Everything pulled was processed, and the source pulled nothing after the
  // shutdown beyond what was in flight: the committed position is the end.
  CHECK(st.committed == static_cast<seq_t>(l->pulled));
  CHECK(l->missing(static_cast<int64_t>(st.committed)) == 0);
  CHECK(static_cast<int64_t>(st.committed) < item_count);
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture,
                 "a drain with a stuck consumer ends at its deadline and counts the rest",
                 "[supervisors][pipeline]") {
  auto l = std::make_shared<ledger>();
  // Every consumer holds item 10 forever (never calls done); the rest flows.
  auto held = std::make_shared<std::vector<item_done>>();
  auto handler = [l, held](const int64_t& x, seq_t, item_done done) {
    if (x == 10) {
      held->push_back(std::move(done));
      return;
    }
    ++l->seen[x];
    done();
  };
  pipeline_config cfg;
  cfg.drain_timeout = 2s;
  cfg.stop_timeout = 100ms;
  auto p = make_pipeline(l, handler, cfg);
  auto sup = spawn_observed(*this, p);
  run_jobs(*this, 600);
  request_shutdown(sup);
  advance_time(2s - 1ms);
  CHECK_FALSE(down_reason(sup)); // the drain waits for the stuck item...
  advance_time(1ms);
  auto reason = down_reason(sup); // ...until its deadline, and not longer
  REQUIRE(reason);
  auto st = p.stats();
  CHECK(st.drains == 1);
  CHECK(st.unfinished_at_shutdown >= 1); // item 10 at least, reported
  CHECK(st.committed < 10);              // and a next run resumes before it
  held->clear();
  CHECK(alive() == 0);
}

TEST_CASE_METHOD(fixture, "a poison item goes to a dead letter after max_deliveries",
                 "[supervisors][pipeline]") {
  // Batches of 16, and batches of one: a lone small item is kept typed and
  // sent as a copy (flow_source::copy_single), a batch as a shared message.
  auto batch_size = GENERATE(uint32_t{16}, uint32_t{1});
  CAPTURE(batch_size);
  auto l = std::make_shared<ledger>();
  auto handler = [l](const int64_t& x) {
    if (x == 77)
      throw std::runtime_error("cannot handle 77");
    ++l->seen[x];
  };
  pipeline_config cfg;
  cfg.max_deliveries = 3;
  auto p = make_pipeline(l, handler, cfg, batch_size);
  auto sup = spawn_observed(*this, p);
  run();
  auto reason = down_reason(sup);
  REQUIRE(reason);
  CHECK(is_normal_stop(*reason)); // not intensity_exceeded
  REQUIRE(l->dead_letters.size() == 1);
  CHECK(l->dead_letters[0].item<int64_t>() == 77);
  CHECK(l->dead_letters[0].failures == 3);
  CHECK(is(l->dead_letters[0].error, troupe::actors::flow_errc::handler_failed));
  CHECK(p.stats().dead_letters == 1);
  CHECK(l->seen.count(77) == 0);
  CHECK(l->missing(item_count) == 1); // only the poison
  CHECK(p.stats().committed == static_cast<seq_t>(item_count));
  auto events = take_events();
  int worker_restarts = 0;
  for (int i = 0; i < 4; ++i)
    worker_restarts += restarts(events, "worker-" + std::to_string(i));
  CHECK(worker_restarts == 3); // one per failed delivery, then no more
  CHECK(alive() == 0);
}
