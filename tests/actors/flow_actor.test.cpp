// flow_actor: a flow actor written on the documented base
// (docs/flow-control.md, "Writing a flow actor"), between a producer and a
// consumer. The chunker below is the example of that section.

#include <catch2/catch.hpp>

#include <deque>
#include <numeric>

#include "flow_test_support.hpp"

#include <troupe/actors/flow/flow_stage.hpp>

using namespace troupe::actors;
using namespace troupe::testing;

namespace {

/// Groups its inputs into chunks of `k` (the last one may be shorter).
class chunker final : public flow_stage<int64_t, std::vector<int64_t>> {
public:
  chunker(caf::actor_config& cfg, caf::actor upstream, uint32_t capacity, size_t k)
    : flow_stage(cfg, std::move(upstream), capacity, flow_output::config{}), k_(k) {}

private:
  struct held_item {
    int64_t value;
    uint64_t ordinal; // its input batch, to mark it finished later
  };

  // Inputs arrive only under our credit: hold them, wake the output.
  void on_input(caf::span<const int64_t> items, seq_t, uint64_t ordinal) override {
    for (auto x : items)
      held_.push_back({x, ordinal});
    output().resume();
  }

  // Called only while a consumer has credit: the work happens on demand.
  caf::expected<pull_status> pull(size_t n, std::vector<std::vector<int64_t>>& out) override {
    bool last = input().upstream_ended();
    while (out.size() < n && (held_.size() >= k_ || (last && !held_.empty()))) {
      std::vector<int64_t> chunk;
      while (chunk.size() < k_ && !held_.empty()) {
        chunk.push_back(held_.front().value);
        input().finished(held_.front().ordinal); // its output leaves now
        held_.pop_front();
      }
      out.push_back(std::move(chunk));
    }
    if (last && held_.empty())
      return pull_status::done;
    return out.empty() ? pull_status::wait : pull_status::more;
  }

  size_t k_;
  std::deque<held_item> held_;
};

} // namespace

TEST_CASE_METHOD(flow_fixture,
                 "a flow actor written on flow_stage keeps its bound and finishes "
                 "like the built-in ones",
                 "[actors][flow][flow_actor]") {
  constexpr int64_t n = 1000;
  counting_source src{n};
  auto p = spawn_producer<int64_t>(sys, producer_config{16, {}}, std::ref(src));
  REQUIRE(p);
  auto chunks = sys.spawn<chunker>(*p, uint32_t{24}, size_t{10});
  std::vector<std::vector<int64_t>> got;
  caf::error outcome;
  bool done = false;
  auto sink = spawn_consumer<std::vector<int64_t>>(
    sys, chunks, consumer_config{4, 1},
    [&](const std::vector<int64_t>& chunk) { got.push_back(chunk); },
    [&](const caf::error& err) {
      outcome = err;
      done = true;
    });
  REQUIRE(sink);
  run();
  REQUIRE(done);
  CHECK(!outcome);
  REQUIRE(got.size() == n / 10);
  int64_t sum = 0;
  for (auto& chunk : got) {
    CHECK(chunk.size() == 10);
    sum = std::accumulate(chunk.begin(), chunk.end(), sum);
  }
  CHECK(sum == n * (n + 1) / 2);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "a flow_stage subclass holds at most its capacity and sends "
                 "no more than its consumer's credit",
                 "[actors][flow][flow_actor][backpressure]") {
  constexpr int64_t n = 500;
  counting_source src{n};
  auto p = spawn_producer<int64_t>(sys, producer_config{8, {}}, std::ref(src));
  REQUIRE(p);
  auto chunks = sys.spawn<chunker>(*p, uint32_t{12}, size_t{5});
  struct held_chunk {
    std::vector<int64_t> chunk;
    item_done done;
  };
  std::deque<held_chunk> held;
  auto sink = spawn_consumer<std::vector<int64_t>>(
    sys, chunks, consumer_config{3, 3},
    [&](const std::vector<int64_t>& chunk, seq_t, item_done done) {
      held.push_back({chunk, std::move(done)});
    });
  REQUIRE(sink);
  run();
  size_t finished_chunks = 0;
  while (!held.empty()) {
    auto s = stats_of(*this, chunks);
    CHECK(s.max_buffered <= 12);
    CHECK(s.max_outstanding <= 3);
    CHECK(held.size() <= 3);
    held.front().done();
    held.pop_front();
    ++finished_chunks;
    run();
  }
  CHECK(finished_chunks == n / 5);
  CHECK(src.next - 1 == n);
  CHECK(running_actors() == 0);
}
