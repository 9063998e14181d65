// The file pipeline's feed: chunks cut at fixed points, a bounded number in
// flight and waiting, handed out in file order whatever order they were
// totalled in, and the chunks before a failed one handed out before the
// failure.

#include <catch2/catch.hpp>

#include <chunk_feed.hpp>

#include <troupe/actors/flow/flow_actor.hpp>
#include <troupe/services/rpc_errc.hpp>

using namespace files;
using troupe::actors::pull_status;

namespace {

v1::ChunkTotals totals(uint64_t offset, uint64_t end) {
  v1::ChunkTotals t;
  t.set_offset(offset);
  t.set_end(end);
  return t;
}

std::vector<uint64_t> offsets(const std::vector<v1::ChunkTotals>& xs) {
  std::vector<uint64_t> result;
  for (auto& x : xs)
    result.push_back(x.offset());
  return result;
}

} // namespace

TEST_CASE("the feed cuts at fixed points and hands chunks out in file order",
          "[examples][files]") {
  // 10 bytes from offset 1, cut every 4: [1,4) exact, then 4, 8.
  chunk_feed feed{1, 10, 4, 2, 3};
  auto a = feed.take_job();
  REQUIRE(a);
  CHECK(a->index == 0);
  CHECK(a->from == 1);
  CHECK(a->exact);
  CHECK(a->to == 4);
  auto b = feed.take_job();
  REQUIRE(b);
  CHECK(b->index == 1);
  CHECK(b->from == 4);
  CHECK_FALSE(b->exact);
  CHECK(b->to == 8);
  CHECK_FALSE(feed.take_job()); // two in flight at most
  std::vector<v1::ChunkTotals> out;
  // The second one is done first: it waits for the first.
  feed.push(1, totals(4, 8));
  CHECK(feed.pull(10, out) == pull_status::wait);
  CHECK(out.empty());
  feed.push(0, totals(1, 4));
  CHECK(feed.pull(10, out) == pull_status::wait); // both, and nothing more yet
  CHECK(offsets(out) == std::vector<uint64_t>{1, 4});
  auto c = feed.take_job();
  REQUIRE(c);
  CHECK(c->from == 8);
  CHECK(c->to == 10); // the end of the file
  CHECK_FALSE(feed.take_job());
  out.clear();
  CHECK(feed.pull(10, out) == pull_status::wait);
  feed.push(2, totals(8, 10));
  CHECK(feed.pull(1, out) == pull_status::done);
  CHECK(offsets(out) == std::vector<uint64_t>{8});
}

TEST_CASE("the feed holds at most read_ahead chunks, in flight or waiting",
          "[examples][files]") {
  chunk_feed feed{0, 100, 10, 1, 2};
  auto a = feed.take_job();
  REQUIRE(a);
  feed.push(a->index, totals(0, 10));
  auto b = feed.take_job();
  REQUIRE(b);
  feed.push(b->index, totals(10, 20));
  CHECK_FALSE(feed.take_job()); // two wait: no room until they are pulled
  std::vector<v1::ChunkTotals> out;
  CHECK(feed.pull(1, out) == pull_status::more);
  CHECK(offsets(out) == std::vector<uint64_t>{0});
  CHECK(feed.take_job());
}

TEST_CASE("the chunks before a failed one go out before the failure", "[examples][files]") {
  chunk_feed feed{0, 100, 10, 2, 4};
  auto a = feed.take_job();
  auto b = feed.take_job();
  REQUIRE(a);
  REQUIRE(b);
  feed.fail(b->index,
            caf::make_error(troupe::services::rpc_errc::invalid_argument, "bad record"));
  feed.push(a->index, totals(0, 10));
  CHECK_FALSE(feed.take_job()); // no more jobs after a failure
  std::vector<v1::ChunkTotals> out;
  // `more`, not `wait`: the producer must pull again to learn of the
  // failure (a `wait` would wait for a wake-up that already came).
  CHECK(feed.pull(10, out) == pull_status::more);
  CHECK(offsets(out) == std::vector<uint64_t>{0});
  out.clear();
  try {
    feed.pull(10, out);
    FAIL("the failure was not reported");
  } catch (const troupe::actors::typed_failure& e) {
    CHECK(e.error() == caf::make_error(troupe::services::rpc_errc::invalid_argument));
  }
}

TEST_CASE("the earliest failure in file order is the one reported, whichever job failed "
          "first",
          "[examples][files]") {
  using troupe::services::rpc_errc;
  chunk_feed feed{0, 100, 10, 4, 4};
  auto a = feed.take_job();
  auto b = feed.take_job();
  auto c = feed.take_job();
  auto d = feed.take_job();
  REQUIRE(d);
  // The last chunk totals first, then the third fails, then the second.
  feed.push(d->index, totals(30, 40));
  feed.fail(c->index, caf::make_error(rpc_errc::out_of_range, "a later bad record"));
  std::vector<v1::ChunkTotals> out;
  // The first chunk is still in flight: wait for it, no failure yet.
  CHECK(feed.pull(10, out) == pull_status::wait);
  CHECK(out.empty());
  feed.fail(b->index, caf::make_error(rpc_errc::invalid_argument, "the first bad record"));
  CHECK(feed.pull(10, out) == pull_status::wait);
  feed.push(a->index, totals(0, 10));
  CHECK(feed.pull(10, out) == pull_status::more);
  CHECK(offsets(out) == std::vector<uint64_t>{0}); // not the fourth: after the failure
  out.clear();
  try {
    feed.pull(10, out);
    FAIL("the failure was not reported");
  } catch (const troupe::actors::typed_failure& e) {
    CHECK(e.error() == caf::make_error(rpc_errc::invalid_argument));
  }
}
