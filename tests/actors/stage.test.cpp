// Stages: producer → stage → consumer with the bound holding end to end.

#include <catch2/catch.hpp>

#include <numeric>

#include "flow_test_support.hpp"

#include <troupe/actors/stage.hpp>

using namespace troupe::actors;
using namespace troupe::testing;

TEST_CASE_METHOD(flow_fixture,
                 "a three-stage pipeline with a slow sink keeps every stage "
                 "within its capacity for the whole run",
                 "[actors][flow][stage][backpressure]") {
  constexpr int64_t n = 300;
  counting_source src{n};
  auto p = spawn_producer<int64_t>(sys, producer_config{8, {}}, std::ref(src));
  REQUIRE(p);
  auto doubled = spawn_stage<int64_t, int64_t>(sys, *p, stage_config{10, 4, {}},
                                               [](const int64_t& x) { return 2 * x; });
  REQUIRE(doubled);
  auto split = spawn_stage<int64_t, int64_t>(
    sys, *doubled, stage_config{6, 4, {}}, [](const int64_t& x, std::vector<int64_t>& out) {
      out.push_back(x); // two outputs per input: the leftover path is exercised
      out.push_back(-x);
    });
  REQUIRE(split);
  held_items held;
  auto sink = spawn_consumer<int64_t>(sys, *split, consumer_config{5, 5},
                                      [&](const int64_t& x, seq_t seq, item_done done) {
                                        held.items.push_back({x, seq, std::move(done)});
                                      });
  REQUIRE(sink);
  run();
  std::vector<int64_t> got;
  uint64_t max_in_pipeline = 0;
  while (!held.items.empty()) {
    got.push_back(held.items.front().value);
    held.finish_one();
    run();
    // Whatever the producer released and the sink has not finished is inside
    // the pipeline: bounded by the sum of the capacities, however long it runs.
    auto released = static_cast<uint64_t>(src.next - 1);
    auto finished_inputs = got.size() / 2;
    max_in_pipeline = std::max(max_in_pipeline, released - finished_inputs);
    REQUIRE(released - finished_inputs <= 10 + 6 + 5 + 1);
    if (got.size() % 50 == 0 && got.size() < 2 * n) {
      for (auto& who : {*doubled, *split}) {
        auto s = stats_of(*this, who);
        CHECK(s.max_outstanding <= 10);
      }
    }
  }
  REQUIRE(got.size() == 2 * n);
  std::multiset<int64_t> expected;
  for (int64_t i = 1; i <= n; ++i) {
    expected.insert(2 * i);
    expected.insert(-2 * i);
  }
  CHECK(std::multiset<int64_t>(got.begin(), got.end()) == expected);
  CHECK(src.next - 1 == n);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture, "every stage's buffered count stays within its capacity",
                 "[actors][flow][stage][backpressure]") {
  counting_source src{200};
  auto p = spawn_producer<int64_t>(sys, producer_config{16, {}}, std::ref(src));
  REQUIRE(p);
  auto s1 = spawn_stage<int64_t, int64_t>(sys, *p, stage_config{12, 8, {}},
                                          [](const int64_t& x) { return x + 1; });
  REQUIRE(s1);
  auto s2 = spawn_stage<int64_t, std::string>(
    sys, *s1, stage_config{7, 3, {}}, [](const int64_t& x) { return std::to_string(x); });
  REQUIRE(s2);
  std::vector<std::pair<std::string, troupe::actors::item_done>> held;
  auto sink = spawn_consumer<std::string>(sys, *s2, consumer_config{4, 4},
                                          [&](const std::string& x, seq_t, item_done done) {
                                            held.emplace_back(x, std::move(done));
                                          });
  REQUIRE(sink);
  run();
  size_t total = 0;
  size_t samples = 0;
  while (!held.empty()) {
    auto batch = std::move(held);
    held.clear();
    for (auto& h : batch) {
      h.second();
      ++total;
    }
    run();
    // Upstream stages exit once their outputs are acknowledged, so sample
    // whoever is still alive.
    for (auto [who, capacity] : {std::pair{*s1, 12u}, {*s2, 7u}, {*sink, 4u}}) {
      if (auto s = maybe_stats_of(*this, who)) {
        ++samples;
        CHECK(s->max_buffered <= capacity);
        CHECK(s->max_buffered > 0);
      }
    }
  }
  CHECK(total == 200);
  CHECK(samples > 50);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "a failing stage transform ends the stream with handler_failed "
                 "downstream",
                 "[actors][flow][stage][errors]") {
  counting_source src{100};
  auto p = spawn_producer<int64_t>(sys, producer_config{4, {}}, std::ref(src));
  REQUIRE(p);
  auto s = spawn_stage<int64_t, int64_t>(sys, *p, stage_config{8, 4, {}},
                                         [](const int64_t& x) -> int64_t {
                                           if (x == 10)
                                             throw std::runtime_error("bad");
                                           return x;
                                         });
  REQUIRE(s);
  caf::error sink_saw;
  size_t handled = 0;
  auto sink = spawn_consumer<int64_t>(
    sys, *s, consumer_config{8, 1}, [&](const int64_t&) { ++handled; },
    [&](const caf::error& err) { sink_saw = err; });
  REQUIRE(sink);
  run();
  CHECK(sink_saw == caf::make_error(flow_errc::handler_failed));
  CHECK(handled < 10);
  run();
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "a stage keeps the values of one-item batches it transforms later",
                 "[actors][flow][stage]") {
  // Batch size 1 upstream: each input is its own mailbox element, gone by
  // the time the stage transforms it for a consumer that was slow to ask.
  counting_source src{40};
  auto p = spawn_producer<int64_t>(sys, producer_config{1, {}}, std::ref(src));
  REQUIRE(p);
  auto same = spawn_stage<int64_t, int64_t>(sys, *p, stage_config{16, 1, {}},
                                            [](const int64_t& x) { return x; });
  REQUIRE(same);
  held_items held;
  auto sink = spawn_consumer<int64_t>(sys, *same, consumer_config{1, 1},
                                      [&](const int64_t& x, seq_t seq, item_done done) {
                                        held.items.push_back({x, seq, std::move(done)});
                                      });
  REQUIRE(sink);
  run();
  std::vector<int64_t> values;
  while (!held.items.empty()) {
    values.push_back(held.items.front().value);
    held.finish_one();
    run();
  }
  std::vector<int64_t> expected(40);
  std::iota(expected.begin(), expected.end(), 1);
  CHECK(values == expected);
  CHECK(running_actors() == 0);
}
