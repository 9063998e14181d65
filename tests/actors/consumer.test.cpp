// Consumers: capacity, handler forms, errors and cancellation.

#include <catch2/catch.hpp>

#include <algorithm>

#include <memory>
#include <numeric>

#include "flow_test_support.hpp"

namespace {

/// An item whose lifetime a test can watch (through `token`).
struct tracked_item {
  std::shared_ptr<int> token;
};

} // namespace

// Local only: the token is a pointer.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tracked_item)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<tracked_item>)

using namespace troupe::actors;
using namespace troupe::testing;

TEST_CASE_METHOD(flow_fixture, "invalid consumer settings are refused with the field named",
                 "[actors][flow][consumer][errors]") {
  counting_source src{1};
  auto p = spawn_producer<int64_t>(sys, producer_config{}, std::ref(src));
  REQUIRE(p);
  auto handler = [](const int64_t&) {};
  auto zero = spawn_consumer<int64_t>(sys, *p, consumer_config{0, 1}, handler);
  REQUIRE_FALSE(zero);
  CHECK(zero.error() == caf::make_error(flow_errc::invalid_config));
  CHECK(sys.render(zero.error()).find("capacity") != std::string::npos);
  CHECK(spawn_consumer<int64_t>(sys, *p, consumer_config{4, 8},
                                [](const int64_t&, seq_t, item_done) {})
          .error()
        == caf::make_error(flow_errc::invalid_config));
  CHECK(spawn_consumer<int64_t>(sys, *p, consumer_config{4, 2}, handler).error()
        == caf::make_error(flow_errc::invalid_config)); // concurrency needs async
  CHECK(spawn_consumer<int64_t>(sys, caf::actor{}, consumer_config{}, handler).error()
        == caf::make_error(flow_errc::invalid_config));
  self->send_exit(*p, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE_METHOD(flow_fixture,
                 "a handler that throws stops the consumer with handler_failed "
                 "and the producer reports the items as unprocessed",
                 "[actors][flow][consumer][errors]") {
  counting_source src{50};
  auto p = spawn_producer<int64_t>(sys, producer_config{4, {}}, std::ref(src));
  REQUIRE(p);
  self->monitor(*p);
  auto c = spawn_consumer<int64_t>(sys, *p, consumer_config{8, 1}, [](const int64_t& x) {
    if (x == 7)
      throw std::logic_error("bad item");
  });
  REQUIRE(c);
  self->monitor(*c);
  run();
  std::map<caf::actor_addr, caf::error> reasons;
  for (int i = 0; i < 2; ++i)
    self->receive([&](caf::down_msg& dm) { reasons[dm.source] = dm.reason; },
                  caf::after(std::chrono::seconds{0}) >> [] {});
  CHECK(reasons[c->address()] == caf::make_error(flow_errc::handler_failed));
  CHECK(sys.render(reasons[c->address()]).find("seq 7") != std::string::npos);
  CHECK(reasons[p->address()] == caf::make_error(flow_errc::no_consumers));
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "an asynchronous handler runs at most `concurrency` items at once",
                 "[actors][flow][consumer]") {
  counting_source src{40};
  auto p = spawn_producer<int64_t>(sys, producer_config{8, {}}, std::ref(src));
  REQUIRE(p);
  held_items held;
  size_t max_in_flight = 0;
  auto c = spawn_consumer<int64_t>(
    sys, *p, consumer_config{16, 3}, [&](const int64_t& x, seq_t seq, item_done done) {
      held.items.push_back({x, seq, std::move(done)});
      max_in_flight = std::max(max_in_flight, held.items.size());
    });
  REQUIRE(c);
  run();
  CHECK(held.items.size() == 3);
  size_t finished = 0;
  while (held.finish_one()) {
    ++finished;
    run();
  }
  CHECK(finished == 40);
  CHECK(max_in_flight == 3);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "an asynchronous handler that reports an error stops the consumer",
                 "[actors][flow][consumer][errors]") {
  counting_source src{10};
  auto p = spawn_producer<int64_t>(sys, producer_config{4, {}}, std::ref(src));
  REQUIRE(p);
  auto c = spawn_consumer<int64_t>(sys, *p, consumer_config{4, 2},
                                   [](const int64_t&, seq_t, item_done done) {
                                     done(caf::make_error(caf::sec::runtime_error, "nope"));
                                   });
  REQUIRE(c);
  self->monitor(*c);
  run();
  auto reason = exit_reason(*this, c->address());
  REQUIRE(reason);
  CHECK(*reason == caf::make_error(flow_errc::handler_failed));
  run();
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "cancelling the only consumer cancels the producer, and both exit",
                 "[actors][flow][consumer][cancel]") {
  counting_source src{1000000};
  auto p = spawn_producer<int64_t>(sys, producer_config{4, {}}, std::ref(src));
  REQUIRE(p);
  self->monitor(*p);
  held_items held;
  caf::error seen;
  auto c = spawn_consumer<int64_t>(
    sys, *p, consumer_config{4, 4},
    [&](const int64_t& x, seq_t seq, item_done done) {
      held.items.push_back({x, seq, std::move(done)});
    },
    [&](const caf::error& err) { seen = err; });
  REQUIRE(c);
  run();
  self->send(*c, flow_cancel_atom::value);
  run();
  CHECK(seen == caf::make_error(flow_errc::cancelled)); // the cleanup hook saw why
  auto reason = exit_reason(*this, p->address());
  REQUIRE(reason);
  CHECK(!*reason);           // cancellation is not a failure
  CHECK(src.next - 1 < 100); // the source stopped being pulled
  held.items.clear();
  run();
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "one-item batches an asynchronous handler starts later keep their values",
                 "[actors][flow][consumer]") {
  // Batch size 1: every item travels as values in its own mailbox element,
  // which is gone by the time a waiting item starts. (A consumer that kept
  // pointers into the element read freed memory: the chaos run lost items.)
  counting_source src{40};
  auto p = spawn_producer<int64_t>(sys, producer_config{1, {}}, std::ref(src));
  REQUIRE(p);
  held_items held;
  auto c = spawn_consumer<int64_t>(sys, *p, consumer_config{16, 1},
                                   [&](const int64_t& x, seq_t seq, item_done done) {
                                     held.items.push_back({x, seq, std::move(done)});
                                   });
  REQUIRE(c);
  run();
  std::vector<int64_t> values;
  std::vector<seq_t> seqs;
  for (;;) {
    if (held.items.empty())
      break;
    values.push_back(held.items.front().value);
    seqs.push_back(held.items.front().seq);
    held.finish_one();
    run();
  }
  std::vector<int64_t> expected(40);
  std::iota(expected.begin(), expected.end(), 1);
  CHECK(values == expected);
  for (size_t i = 0; i < seqs.size(); ++i)
    CHECK(seqs[i] == static_cast<seq_t>(values[i]));
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture, "one item a handler holds does not stall the items behind it",
                 "[actors][flow][consumer][out-of-order]") {
  // Before out-of-order acknowledgements, the producer kept every batch
  // behind the held item unacknowledged and stopped at 2 x capacity items
  // (8 here): a fetcher's one hanging request stalled its whole stream.
  // Now it stops only at 16 x capacity batches retained (128 items here).
  counting_source src{100};
  auto p = spawn_producer<int64_t>(sys, producer_config{2, {}}, std::ref(src));
  REQUIRE(p);
  held_items held;
  size_t handled = 0;
  auto c = spawn_consumer<int64_t>(sys, *p, consumer_config{4, 4}, held.hold_only(1, handled));
  REQUIRE(c);
  run();
  CHECK(handled == 100); // all of them went past the held one
  REQUIRE(held.items.size() == 1);
  held.finish_one();
  run();
  CHECK(running_actors() == 0); // then the stream ended
}

TEST_CASE_METHOD(
  flow_fixture,
  "a source that commits its position keeps its in-order window behind a held item",
  "[actors][flow][consumer][out-of-order]") {
  // A restart replays everything after the committed position, finished or
  // not: its window stays 2 x capacity items, the bound on duplicates.
  counting_source src{100};
  producer_config pcfg{2, {}};
  seq_t committed = 0;
  pcfg.on_commit = [&](seq_t c) { committed = c; };
  auto p = spawn_producer<int64_t>(sys, pcfg, std::ref(src));
  REQUIRE(p);
  held_items held;
  size_t handled = 0;
  auto c = spawn_consumer<int64_t>(sys, *p, consumer_config{4, 4}, held.hold_only(1, handled));
  REQUIRE(c);
  run();
  CHECK(handled == 8);
  CHECK(committed == 0); // item 1 is not done: nothing is committed
  held.finish_one();
  run();
  CHECK(handled == 100);
  CHECK(committed == 100);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "items finished out of order are not redelivered when their consumer dies",
                 "[actors][flow][consumer][out-of-order]") {
  // One item per batch, and 8 finished: the consumer (capacity 8) returns
  // credit, with what it finished, in chunks of 4, so all 8 are told.
  counting_source src{40};
  auto p = spawn_producer<int64_t>(sys, producer_config{1, {}}, std::ref(src));
  REQUIRE(p);
  held_items first_held;
  std::vector<int64_t> first_done;
  auto first = spawn_consumer<int64_t>(
    sys, *p, consumer_config{8, 8}, [&](const int64_t& x, seq_t seq, item_done done) {
      if (x != 1 && first_done.size() < 8) {
        first_done.push_back(x);
        done();
      } else {
        first_held.items.push_back({x, seq, std::move(done)}); // item 1, and after 9
      }
    });
  REQUIRE(first);
  run();
  REQUIRE(first_done.size() == 8);
  // A second consumer joins, and the first dies holding item 1 and more.
  std::vector<int64_t> second_saw;
  auto second = spawn_consumer<int64_t>(sys, *p, consumer_config{8, 1},
                                        [&](const int64_t& x) { second_saw.push_back(x); });
  REQUIRE(second);
  run();
  self->send_exit(*first, caf::exit_reason::kill);
  first_held.items.clear();
  run();
  // Every item was handled to its end exactly once between the two: what
  // the first finished behind item 1 did not come again.
  std::vector<int64_t> all = first_done;
  all.insert(all.end(), second_saw.begin(), second_saw.end());
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
  CHECK(all.size() == 40);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "behind a held item, finished batches are retained up to 16 x capacity",
                 "[actors][flow][consumer][out-of-order]") {
  // Each finished batch behind the held one costs a small record until the
  // held one is done: 16 x capacity (4) batches of 2 items, then it waits.
  counting_source src{1000};
  auto p = spawn_producer<int64_t>(sys, producer_config{2, {}}, std::ref(src));
  REQUIRE(p);
  held_items held;
  size_t handled = 0;
  auto c = spawn_consumer<int64_t>(sys, *p, consumer_config{4, 4}, held.hold_only(1, handled));
  REQUIRE(c);
  run();
  CHECK(handled == 16 * 4 * 2);
  held.finish_one();
  run();
  CHECK(handled == 1000);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "a consumer that cancels tells what it finished out of order first",
                 "[actors][flow][consumer][out-of-order]") {
  // Capacity 8 returns credit in chunks of 4: items the first consumer
  // finished (2 of them) are not yet told when it cancels. The source has
  // more, and the second consumer holds its 8, so nothing asks for a flush
  // meanwhile. The finished two must not come again.
  counting_source src{40};
  auto p = spawn_producer<int64_t>(sys, producer_config{1, {}}, std::ref(src));
  REQUIRE(p);
  held_items first_held;
  std::vector<int64_t> first_done;
  auto first = spawn_consumer<int64_t>(
    sys, *p, consumer_config{8, 8}, [&](const int64_t& x, seq_t seq, item_done done) {
      if (first_done.size() < 2 && x != 1) {
        first_done.push_back(x);
        done();
      } else {
        first_held.items.push_back({x, seq, std::move(done)});
      }
    });
  REQUIRE(first);
  held_items second_held;
  std::vector<int64_t> second_saw;
  auto second = spawn_consumer<int64_t>(
    sys, *p, consumer_config{8, 8}, [&](const int64_t& x, seq_t seq, item_done done) {
      second_saw.push_back(x);
      second_held.items.push_back({x, seq, std::move(done)});
    });
  REQUIRE(second);
  run();
  REQUIRE(first_done.size() == 2);
  self->send(*first, flow_cancel_atom::value);
  run();
  first_held.items.clear();
  while (second_held.finish_one())
    run();
  for (auto x : first_done)
    CHECK(std::count(second_saw.begin(), second_saw.end(), x) == 0);
  CHECK(second_saw.size() + first_done.size() == 40);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(
  flow_fixture,
  "a committing source commits batches finished out of order by a consumer that "
  "died",
  "[actors][flow][consumer][out-of-order]") {
  counting_source src{30};
  producer_config pcfg{1, {}};
  seq_t committed = 0;
  pcfg.on_commit = [&](seq_t c) { committed = c; };
  auto p = spawn_producer<int64_t>(sys, pcfg, std::ref(src));
  REQUIRE(p);
  held_items first_held;
  std::vector<int64_t> first_done;
  auto first = spawn_consumer<int64_t>(
    sys, *p, consumer_config{8, 8}, [&](const int64_t& x, seq_t seq, item_done done) {
      if (x != 1 && first_done.size() < 4) {
        first_done.push_back(x);
        done();
      } else {
        first_held.items.push_back({x, seq, std::move(done)});
      }
    });
  REQUIRE(first);
  run();
  REQUIRE(first_done.size() == 4);
  CHECK(committed == 0); // item 1 is held
  std::vector<int64_t> second_saw;
  auto second = spawn_consumer<int64_t>(sys, *p, consumer_config{8, 1},
                                        [&](const int64_t& x) { second_saw.push_back(x); });
  REQUIRE(second);
  self->send_exit(*first, caf::exit_reason::kill);
  first_held.items.clear();
  run();
  CHECK(committed == 30); // the position passed the batches the first one finished
  for (auto x : first_done)
    CHECK(std::count(second_saw.begin(), second_saw.end(), x) == 0);
  CHECK(second_saw.size() + first_done.size() == 30);
  CHECK(running_actors() == 0);
}

TEST_CASE_METHOD(flow_fixture,
                 "an asynchronous handler's item lives as long as its item_done, "
                 "so work elsewhere can read it without a copy",
                 "[actors][flow][consumer]") {
  std::vector<std::weak_ptr<int>> made;
  int next = 0;
  auto p = spawn_producer<tracked_item>(
    sys, producer_config{1, {}}, [&](size_t demand, std::vector<tracked_item>& out) {
      while (out.size() < demand && next < 4) {
        out.push_back({std::make_shared<int>(next++)});
        made.push_back(out.back().token);
      }
      return next < 4 ? pull_status::more : pull_status::done;
    });
  REQUIRE(p);
  std::vector<std::pair<const tracked_item*, item_done>> held;
  auto c = spawn_consumer<tracked_item>(sys, *p, consumer_config{4, 4},
                                        [&](const tracked_item& x, seq_t, item_done done) {
                                          held.emplace_back(&x, std::move(done));
                                        });
  REQUIRE(c);
  run();
  REQUIRE(held.size() == 4);
  // The producer, which kept them for redelivery, is gone; so is every
  // message that carried them. The items live on.
  caf::anon_send_exit(*p, caf::exit_reason::kill);
  run();
  for (size_t i = 0; i < held.size(); ++i) {
    CHECK_FALSE(made[i].expired());
    CHECK(*held[i].first->token == static_cast<int>(i));
  }
  held.erase(held.begin() + 1);
  CHECK(made[1].expired()); // its item_done is gone: so is the item
  CHECK_FALSE(made[0].expired());
  held.clear();
  for (auto& token : made)
    CHECK(token.expired());
  run();
  CHECK(running_actors() == 0);
}
