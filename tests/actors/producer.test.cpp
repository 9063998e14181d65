// Producers: pulled only on demand, shared among consumers by demand,
// at-least-once when a consumer dies, typed errors instead of silent loss.

#include <catch2/catch.hpp>

#include "flow_test_support.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>

using namespace troupe::actors;
using namespace troupe::testing;

namespace {

/// A consumer that records every (seq, value) it handles.
struct recorder {
  std::multiset<seq_t> seqs;
  std::set<int64_t> distinct;
  size_t handled = 0;
};

caf::actor spawn_recording_consumer(flow_fixture& fx, caf::actor producer, uint32_t capacity,
                                    recorder& rec) {
  auto c = spawn_consumer<int64_t>(fx.sys, producer, consumer_config{capacity, 1},
                                   [&rec](const int64_t& x, seq_t seq) {
                                     rec.seqs.insert(seq);
                                     rec.distinct.insert(x);
                                     ++rec.handled;
                                   });
  REQUIRE(c);
  return *c;
}

} // namespace

TEST_CASE_METHOD(flow_fixture, "a producer delivers every item in order to one consumer",
                 "[actors][flow][producer]") {
  counting_source src{1000};
  auto p = spawn_producer<int64_t>(sys, producer_config{16, {}}, std::ref(src));
  REQUIRE(p);
  std::vector<int64_t> got;
  bool done_ok = false;
  auto c = spawn_consumer<int64_t>(
    sys, *p, consumer_config{64, 1}, [&](const int64_t& x) { got.push_back(x); },
    [&](const caf::error& err) { done_ok = !err; });
  REQUIRE(c);
  run();
  REQUIRE(got.size() == 1000);
  for (int64_t i = 0; i < 1000; ++i)
    REQUIRE(got[static_cast<size_t>(i)] == i + 1);
  CHECK(done_ok);
  CHECK(src.zero_demand_calls == 0);
  CHECK(src.max_demand <= 16);
  CHECK(running_actors() == 0); // producer and consumer both exited
}

TEST_CASE_METHOD(flow_fixture,
                 "with a slow consumer, items held by or in flight to it never "
                 "exceed its capacity and the source is pulled only on demand",
                 "[actors][flow][producer][backpressure]") {
  constexpr uint32_t capacity = 8;
  constexpr int64_t n = 500;
  counting_source src{n};
  auto p = spawn_producer<int64_t>(sys, producer_config{4, {}}, std::ref(src));
  REQUIRE(p);
  held_items held;
  uint64_t finished = 0;
  uint64_t max_unfinished = 0;
  auto c = spawn_consumer<int64_t>(sys, *p, consumer_config{capacity, capacity},
                                   [&](const int64_t& x, seq_t seq, item_done done) {
                                     held.items.push_back({x, seq, std::move(done)});
                                   });
  REQUIRE(c);
  run();
  // The source was pulled exactly up to the capacity and then stopped.
  CHECK(src.next - 1 == capacity);
  while (held.finish_one()) {
    ++finished;
    run();
    auto pulled = static_cast<uint64_t>(src.next - 1);
    max_unfinished = std::max(max_unfinished, pulled - finished);
    REQUIRE(pulled - finished <= capacity); // the bound at every step
  }
  CHECK(finished == n);
  CHECK(max_unfinished == capacity);
  CHECK(src.zero_demand_calls == 0);
  // Nothing left: the consumer and producer exited after `done`.
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture, "the producer's counters agree with the bound",
                 "[actors][flow][producer][backpressure]") {
  constexpr uint32_t capacity = 5;
  counting_source src{100};
  auto p = spawn_producer<int64_t>(sys, producer_config{3, {}}, std::ref(src));
  REQUIRE(p);
  held_items held;
  auto c = spawn_consumer<int64_t>(sys, *p, consumer_config{capacity, 2},
                                   [&](const int64_t& x, seq_t seq, item_done done) {
                                     held.items.push_back({x, seq, std::move(done)});
                                   });
  REQUIRE(c);
  run();
  for (int i = 0; i < 40; ++i) {
    REQUIRE(held.finish_one());
    run();
  }
  auto ps = stats_of(*this, *p);
  auto cs = stats_of(*this, *c);
  CHECK(ps.max_outstanding <= capacity);
  CHECK(ps.max_outstanding == capacity);
  CHECK(ps.pulls_without_demand == 0);
  CHECK(ps.max_pull <= 3);
  CHECK(cs.max_buffered <= capacity);
  CHECK(cs.processed == 40);
  while (held.finish_one())
    run();
}

TEST_CASE_METHOD(flow_fixture, "a producer counts the time backpressure held it back",
                 "[actors][flow][producer][backpressure]") {
  counting_source src{100};
  auto p = spawn_producer<int64_t>(sys, producer_config{4, {}}, std::ref(src));
  REQUIRE(p);
  held_items held;
  auto c = spawn_consumer<int64_t>(sys, *p, consumer_config{4, 4},
                                   [&](const int64_t& x, seq_t seq, item_done done) {
                                     held.items.push_back({x, seq, std::move(done)});
                                   });
  REQUIRE(c);
  run(); // the consumer holds all it may: the producer waits from here
  CHECK(stats_of(*this, *p).demand_wait_ns == 0);
  sched.advance_time(std::chrono::milliseconds{250});
  // A wait going on is counted up to now.
  CHECK(stats_of(*this, *p).demand_wait_ns == 250'000'000);
  for (int i = 0; i < 4; ++i) // credit comes back: the wait ends...
    REQUIRE(held.finish_one());
  run();
  REQUIRE(held.items.size() == 4);
  sched.advance_time(
    std::chrono::milliseconds{100}); // ...and starts again once the new items are held
  auto waited = stats_of(*this, *p).demand_wait_ns;
  CHECK(waited == 350'000'000);
  // Done: a finished source waits for nothing.
  while (held.finish_one())
    run();
}

TEST_CASE_METHOD(flow_fixture, "four consumers share the work by demand",
                 "[actors][flow][producer]") {
  counting_source src{4000};
  auto p = spawn_producer<int64_t>(sys, producer_config{8, {}}, std::ref(src));
  REQUIRE(p);
  std::vector<recorder> recs(4);
  for (auto& rec : recs)
    spawn_recording_consumer(*this, *p, 16, rec);
  run();
  std::set<int64_t> all;
  size_t total = 0;
  for (auto& rec : recs) {
    CHECK(rec.handled > 0); // everyone got work
    total += rec.handled;
    all.insert(rec.distinct.begin(), rec.distinct.end());
  }
  CHECK(total == 4000); // exactly once when nobody fails
  CHECK(all.size() == 4000);
}

TEST_CASE_METHOD(flow_fixture,
                 "when 1 of 4 consumers is killed mid-run, every item is still "
                 "processed at least once",
                 "[actors][flow][producer][redelivery]") {
  constexpr int64_t n = 2000;
  counting_source src{n};
  auto p = spawn_producer<int64_t>(sys, producer_config{8, {}}, std::ref(src));
  REQUIRE(p);
  std::vector<held_items> held(4);
  std::vector<std::set<int64_t>> seen(4);
  std::vector<caf::actor> consumers;
  for (size_t i = 0; i < 4; ++i) {
    auto c = spawn_consumer<int64_t>(sys, *p, consumer_config{16, 16},
                                     [&, i](const int64_t& x, seq_t seq, item_done done) {
                                       seen[i].insert(x);
                                       held[i].items.push_back({x, seq, std::move(done)});
                                     });
    REQUIRE(c);
    consumers.push_back(*c);
  }
  run();
  // Consumers 0..2 finish a few items each; consumer 3 holds 16 unfinished.
  for (int round = 0; round < 5; ++round) {
    for (size_t i = 0; i < 3; ++i)
      held[i].finish_one();
    run();
  }
  REQUIRE(held[3].items.size() == 16);
  self->send_exit(consumers[3], caf::exit_reason::kill);
  held[3].items.clear(); // its work dies with it
  run();
  bool progress = true;
  while (progress) {
    progress = false;
    for (size_t i = 0; i < 3; ++i)
      progress |= held[i].finish_one();
    run();
  }
  std::set<int64_t> processed;
  for (size_t i = 0; i < 3; ++i)
    processed.insert(seen[i].begin(), seen[i].end());
  CHECK(processed.size() == static_cast<size_t>(n)); // distinct == N
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "a producer whose consumers all died with work left fails with "
                 "no_consumers instead of losing it",
                 "[actors][flow][producer][errors]") {
  counting_source src{100};
  auto p = spawn_producer<int64_t>(sys, producer_config{4, {}}, std::ref(src));
  REQUIRE(p);
  self->monitor(*p);
  held_items held;
  auto c = spawn_consumer<int64_t>(sys, *p, consumer_config{4, 4},
                                   [&](const int64_t& x, seq_t seq, item_done done) {
                                     held.items.push_back({x, seq, std::move(done)});
                                   });
  REQUIRE(c);
  run();
  self->send_exit(*c, caf::exit_reason::kill);
  held.items.clear();
  run();
  auto reason = exit_reason(*this, p->address());
  REQUIRE(reason);
  CHECK(*reason == caf::make_error(flow_errc::no_consumers));
  CHECK(sys.render(*reason).find("4 unacknowledged items") != std::string::npos);
}

TEST_CASE_METHOD(flow_fixture,
                 "a grace period lets a replacement consumer pick up the "
                 "unacknowledged items",
                 "[actors][flow][producer][redelivery]") {
  counting_source src{10};
  auto p =
    spawn_producer<int64_t>(sys, producer_config{4, std::chrono::seconds{1}}, std::ref(src));
  REQUIRE(p);
  held_items held;
  auto c = spawn_consumer<int64_t>(sys, *p, consumer_config{4, 4},
                                   [&](const int64_t& x, seq_t seq, item_done done) {
                                     held.items.push_back({x, seq, std::move(done)});
                                   });
  REQUIRE(c);
  run();
  self->send_exit(*c, caf::exit_reason::kill);
  held.items.clear();
  advance_time(std::chrono::milliseconds{500});
  std::set<int64_t> got;
  auto replacement = spawn_consumer<int64_t>(sys, *p, consumer_config{4, 1},
                                             [&](const int64_t& x) { got.insert(x); });
  REQUIRE(replacement);
  run();
  advance_time(std::chrono::seconds{1}); // the old grace timer fires harmlessly
  CHECK(got.size() == 10);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "a source that throws ends the stream with source_failed for "
                 "the producer and its consumers",
                 "[actors][flow][producer][errors]") {
  int64_t next = 0;
  auto p = spawn_producer<int64_t>(sys, producer_config{4, {}},
                                   [&](size_t demand, std::vector<int64_t>& out) {
                                     if (next >= 8)
                                       throw std::runtime_error("disk on fire");
                                     while (out.size() < demand)
                                       out.push_back(next++);
                                     return pull_status::more;
                                   });
  REQUIRE(p);
  self->monitor(*p);
  caf::error consumer_saw;
  size_t handled = 0;
  auto c = spawn_consumer<int64_t>(
    sys, *p, consumer_config{16, 1}, [&](const int64_t&) { ++handled; },
    [&](const caf::error& err) { consumer_saw = err; });
  REQUIRE(c);
  run();
  CHECK(handled == 8); // items before the failure were delivered
  CHECK(consumer_saw == caf::make_error(flow_errc::source_failed));
  CHECK(sys.render(consumer_saw).find("disk on fire") != std::string::npos);
  auto reason = exit_reason(*this, p->address());
  REQUIRE(reason);
  CHECK(*reason == caf::make_error(flow_errc::source_failed));
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "a source that throws a typed_failure ends the stream with that error",
                 "[actors][flow][producer][errors]") {
  auto p = spawn_producer<int64_t>(
    sys, producer_config{4, {}}, [](size_t, std::vector<int64_t>&) -> pull_status {
      throw typed_failure{
        caf::make_error(flow_errc::invalid_config, "offset 7 is mid-record")};
    });
  REQUIRE(p);
  self->monitor(*p);
  caf::error consumer_saw;
  auto c = spawn_consumer<int64_t>(
    sys, *p, consumer_config{4, 1}, [](const int64_t&) {},
    [&](const caf::error& err) { consumer_saw = err; });
  REQUIRE(c);
  run();
  CHECK(consumer_saw == caf::make_error(flow_errc::invalid_config)); // not source_failed
  CHECK(sys.render(consumer_saw).find("mid-record") != std::string::npos);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture, "a waiting source is pulled again only after resume",
                 "[actors][flow][producer]") {
  std::deque<int64_t> ready;
  bool finished = false;
  size_t calls = 0;
  auto p = spawn_producer<int64_t>(
    sys, producer_config{8, {}}, [&](size_t demand, std::vector<int64_t>& out) {
      ++calls;
      while (out.size() < demand && !ready.empty()) {
        out.push_back(ready.front());
        ready.pop_front();
      }
      if (finished && ready.empty())
        return pull_status::done;
      return out.empty() ? pull_status::wait : pull_status::more;
    });
  REQUIRE(p);
  std::vector<int64_t> got;
  spawn_consumer<int64_t>(sys, *p, consumer_config{8, 1},
                          [&](const int64_t& x) { got.push_back(x); });
  run();
  auto calls_when_idle = calls;
  run();
  CHECK(calls == calls_when_idle); // no polling while waiting
  ready = {1, 2, 3};
  self->send(*p, flow_resume_atom::value);
  run();
  CHECK(got == std::vector<int64_t>{1, 2, 3});
  finished = true;
  self->send(*p, flow_resume_atom::value);
  run();
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "a consumer subscribing after the producer finished completes "
                 "without error",
                 "[actors][flow][producer]") {
  // Work sharing: a late consumer finds the work done; that is not a failure.
  counting_source src{10};
  auto p = spawn_producer<int64_t>(sys, producer_config{4, {}}, std::ref(src));
  REQUIRE(p);
  recorder first;
  spawn_recording_consumer(*this, *p, 8, first);
  run();
  REQUIRE(first.handled == 10);
  std::optional<caf::error> late_result;
  size_t late_handled = 0;
  auto late = spawn_consumer<int64_t>(
    sys, *p, consumer_config{8, 1}, [&](const int64_t&) { ++late_handled; },
    [&](const caf::error& err) { late_result = err; });
  REQUIRE(late);
  run();
  REQUIRE(late_result);
  CHECK(!*late_result);
  CHECK(late_handled == 0);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "a consumer whose producer is killed fails with the kill reason",
                 "[actors][flow][producer][errors]") {
  auto p =
    spawn_producer<int64_t>(sys, producer_config{4, {}}, [](size_t, std::vector<int64_t>&) {
      return pull_status::wait; // never produces
    });
  REQUIRE(p);
  std::optional<caf::error> result;
  auto c = spawn_consumer<int64_t>(
    sys, *p, consumer_config{8, 1}, [](const int64_t&) {},
    [&](const caf::error& err) { result = err; });
  REQUIRE(c);
  run();
  caf::anon_send_exit(*p, caf::exit_reason::kill);
  run();
  REQUIRE(result);
  CHECK(*result == caf::exit_reason::kill);
  CHECK(running_actors() == 0);
  // Both are gone from memory too: a killed producer never ran `finish`, so
  // it must still let go of its consumers, or the two would keep each other
  // alive (the consumer holds its upstream).
  auto producer_addr = p->address();
  auto consumer_addr = c->address();
  *p = nullptr;
  *c = nullptr;
  CHECK(caf::actor_cast<caf::actor>(producer_addr) == nullptr);
  CHECK(caf::actor_cast<caf::actor>(consumer_addr) == nullptr);
}

TEST_CASE_METHOD(flow_fixture, "invalid producer settings are refused",
                 "[actors][flow][producer][errors]") {
  auto src = [](size_t, std::vector<int64_t>&) { return pull_status::done; };
  CHECK(spawn_producer<int64_t>(sys, producer_config{0, {}}, src).error()
        == caf::make_error(flow_errc::invalid_config));
  CHECK(spawn_producer<int64_t>(sys, producer_config{1, std::chrono::seconds{-1}}, src).error()
        == caf::make_error(flow_errc::invalid_config));
  CHECK(spawn_producer<int64_t>(sys, producer_config{}, source_fn<int64_t>{}).error()
        == caf::make_error(flow_errc::invalid_config));
  CHECK(running_actors() == 0);
}

TEST_CASE("under the real scheduler, 4 consumers process every item exactly "
          "once and everything exits",
          "[actors][flow][producer][threads]") {
  troupe::actors::system_config cfg;
  cfg.set("scheduler.max-threads", 4);
  caf::actor_system sys{cfg};
  constexpr int64_t n = 200000;
  std::atomic<int64_t> sum{0};
  std::atomic<int64_t> count{0};
  std::mutex mtx;
  std::condition_variable cv;
  int finished = 0;
  std::vector<std::string> errors;
  int64_t next = 1;
  auto p = spawn_producer<int64_t>(sys, producer_config{32, {}},
                                   [&](size_t demand, std::vector<int64_t>& out) {
                                     while (out.size() < demand && next <= n)
                                       out.push_back(next++);
                                     return next > n ? pull_status::done : pull_status::more;
                                   });
  REQUIRE(p);
  for (int i = 0; i < 4; ++i) {
    auto c = spawn_consumer<int64_t>(
      sys, *p, consumer_config{128, 1},
      [&](const int64_t& x) {
        sum += x;
        ++count;
      },
      [&](const caf::error& err) {
        // Catch2 v2 assertions are not thread-safe: record, check below.
        std::lock_guard<std::mutex> guard{mtx};
        if (err)
          errors.push_back(sys.render(err));
        ++finished;
        cv.notify_all();
      });
    REQUIRE(c);
  }
  {
    std::unique_lock<std::mutex> guard{mtx};
    auto all_finished =
      cv.wait_for(guard, std::chrono::seconds{30}, [&] { return finished == 4; });
    INFO("finished " << finished << ", processed " << count << " of " << n);
    REQUIRE(all_finished);
    for (auto& err : errors)
      FAIL_CHECK("a consumer failed: " << err);
  }
  CHECK(count == n);
  CHECK(sum == n * (n + 1) / 2);
  sys.await_all_actors_done(); // bounded: every actor exits after `done`
}
