// Remote streams: a consumer on node B bounds a producer on node A exactly
// as a local consumer would. Two nodes in one process, real sockets on
// 127.0.0.1, bounded waits.

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>

#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/delimited_message_util.h>

#include <troupe/actors/consumer.hpp>
#include <troupe/actors/producer.hpp>
#include <troupe/flow.pb.h>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/remote_stream.hpp>
#include <troupe/transport/transport_errc.hpp>

#include "support/node_fixture.hpp"

using namespace std::chrono_literals;
using namespace troupe::actors;
using troupe::testing::fast_config;
using troupe::testing::node_fixture;
using troupe::testing::Tally;
using troupe::transport::export_stream;
using troupe::transport::import_stream;
using troupe::transport::node;
using troupe::transport::stream_export_config;
using troupe::transport::stream_import_config;

namespace {

struct streaming_nodes : node_fixture {
  std::optional<node> a;
  std::optional<node> b;

  streaming_nodes() {
    auto na = node::start(sys, fast_config());
    auto nb = node::start(sys, fast_config());
    REQUIRE(na);
    REQUIRE(nb);
    a.emplace(std::move(*na));
    b.emplace(std::move(*nb));
  }

  std::string address(const std::string& name) const {
    return name + "@127.0.0.1:" + std::to_string(a->port());
  }
};

/// Waits (bounded) until `pred` holds.
struct waiter {
  std::mutex mtx;
  std::condition_variable cv;

  void notify() {
    std::lock_guard<std::mutex> guard{mtx};
    cv.notify_all();
  }

  template <class Pred>
  bool wait(Pred pred, std::chrono::seconds limit = 60s) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, limit, pred);
  }
};

/// What a test's consumer records. Shared (std::make_shared) with the
/// consumer's callbacks: they may outlive a failed test.
struct consumer_run {
  std::atomic<uint64_t> processed{0};
  std::atomic<bool> done{false};
  caf::error outcome;
  waiter w;

  /// The consumer's on-done callback.
  void finish(const caf::error& err) {
    outcome = err;
    done = true;
    w.notify();
  }

  /// Waits (bounded) for `finish`.
  bool wait_done() {
    return w.wait([this] { return done.load(); });
  }
};

using counter = std::shared_ptr<std::atomic<uint64_t>>;

counter make_counter() {
  return std::make_shared<std::atomic<uint64_t>>(0);
}

/// A producer of Tally{1..n} that records how many items its source gave out.
/// Shares its counter (never a reference into the test's stack: when a check
/// fails, actors outlive the test body).
caf::actor tally_producer(caf::actor_system& sys, uint64_t n, counter pulled,
                          std::function<void(uint64_t)> hook = {}) {
  auto next = std::make_shared<uint64_t>(1);
  auto p =
    spawn_producer<Tally>(sys, producer_config{64, 5s},
                          [next, n, pulled, hook](size_t demand, std::vector<Tally>& out) {
                            while (out.size() < demand && *next <= n) {
                              if (hook)
                                hook(*next);
                              Tally t;
                              t.set_handled((*next)++);
                              out.push_back(std::move(t));
                            }
                            *pulled = *next - 1;
                            return *next > n ? pull_status::done : pull_status::more;
                          });
  REQUIRE(p);
  return *p;
}

} // namespace

TEST_CASE_METHOD(streaming_nodes,
                 "a remote consumer of capacity C keeps the producer within C "
                 "outstanding items over 100 000 items",
                 "[transport][remote_stream][backpressure]") {
  constexpr uint64_t n = 100'000;
  constexpr uint32_t capacity = 256;
  auto pulled = make_counter();
  auto producer = tally_producer(sys, n, pulled);
  auto hub = export_stream<Tally>(*a, producer, "tallies");
  REQUIRE(hub);
  stream_import_config icfg;
  icfg.capacity = capacity;
  auto items = import_stream<Tally>(sys, *b, address("tallies"), icfg);
  REQUIRE(items);
  struct run : consumer_run {
    std::atomic<uint64_t> worst{0};
    std::atomic<uint64_t> checksum{0};
  };
  auto st = std::make_shared<run>();
  auto consumer = spawn_consumer<Tally>(
    sys, *items, consumer_config{32, 1},
    [st, pulled](const Tally& t) {
      // A slow consumer: some work per item.
      volatile uint64_t spin = 0;
      for (int i = 0; i < 300; ++i)
        spin = spin + static_cast<uint64_t>(i);
      auto k = ++st->processed;
      st->checksum += t.handled();
      // Everything the source gave out and we have not finished is held
      // somewhere between the two nodes: never more than the capacity.
      auto in_between = pulled->load() - k + 1;
      if (in_between > st->worst)
        st->worst = in_between;
    },
    [st](const caf::error& err) { st->finish(err); });
  REQUIRE(consumer);
  REQUIRE(st->wait_done());
  CHECK(!st->outcome);
  CHECK(st->processed == n);
  CHECK(st->checksum == n * (n + 1) / 2);
  CHECK(st->worst <= capacity);
  CHECK(st->worst > capacity / 4); // the pipe was really used, not trickled
}

TEST_CASE_METHOD(streaming_nodes,
                 "a failing remote producer ends the remote consumer's stream "
                 "with a typed error",
                 "[transport][remote_stream][errors]") {
  auto pulled = make_counter();
  auto producer = tally_producer(sys, 1000, pulled, [](uint64_t i) {
    if (i == 500)
      throw std::runtime_error("sensor unplugged");
  });
  REQUIRE(export_stream<Tally>(*a, producer, "fragile"));
  auto items = import_stream<Tally>(sys, *b, address("fragile"));
  REQUIRE(items);
  auto st = std::make_shared<consumer_run>();
  auto consumer = spawn_consumer<Tally>(
    sys, *items, consumer_config{32, 1}, [st](const Tally&) { ++st->processed; },
    [st](const caf::error& err) { st->finish(err); });
  REQUIRE(consumer);
  REQUIRE(st->wait_done());
  INFO("outcome: " << sys.render(st->outcome));
  CHECK(st->outcome == caf::make_error(flow_errc::source_failed));
  CHECK(sys.render(st->outcome).find("sensor unplugged") != std::string::npos);
  CHECK(st->processed < 500);
}

TEST_CASE_METHOD(streaming_nodes,
                 "when a remote importer goes silent its items go back to the "
                 "producer for its other consumers",
                 "[transport][remote_stream][redelivery]") {
  constexpr uint64_t n = 2000;
  auto pulled = make_counter();
  auto producer = tally_producer(sys, n, pulled);
  stream_export_config ecfg;
  ecfg.poll_interval = 100ms;
  ecfg.idle_timeout = 300ms;
  REQUIRE(export_stream<Tally>(*a, producer, "shared", ecfg));
  stream_import_config icfg;
  icfg.capacity = 64;
  auto items = import_stream<Tally>(sys, *b, address("shared"), icfg);
  REQUIRE(items);
  // The remote consumer takes its first items and then dies with them.
  struct run : consumer_run {
    std::mutex mtx;
    std::set<uint64_t> seen;
  };
  auto st = std::make_shared<run>();
  auto remote = spawn_consumer<Tally>(sys, *items, consumer_config{64, 64},
                                      [st](const Tally&, seq_t, item_done) {
                                        // Never finishes: holds its items.
                                        st->w.notify();
                                      });
  REQUIRE(remote);
  REQUIRE(st->w.wait([&] { return pulled->load() >= 64; }));
  caf::anon_send_exit(*items, caf::exit_reason::kill); // the importer dies
  caf::anon_send_exit(*remote, caf::exit_reason::kill);
  // A local consumer on node A gets everything, the dead importer's share
  // included, once its export session gives up.
  auto local = spawn_consumer<Tally>(
    sys, producer, consumer_config{32, 1},
    [st](const Tally& t) {
      std::lock_guard<std::mutex> guard{st->mtx};
      st->seen.insert(t.handled());
    },
    [st](const caf::error& err) { st->finish(err); });
  REQUIRE(local);
  REQUIRE(st->wait_done());
  std::lock_guard<std::mutex> guard{st->mtx};
  CHECK(st->seen.size() == n); // at-least-once: nothing the importer held is lost
}

TEST_CASE_METHOD(streaming_nodes, "invalid remote stream settings are refused",
                 "[transport][remote_stream][errors]") {
  auto pulled = make_counter();
  auto producer = tally_producer(sys, 1, pulled);
  stream_export_config ecfg;
  ecfg.idle_timeout = ecfg.poll_interval;
  CHECK(export_stream<Tally>(*a, producer, "x", ecfg).error()
        == caf::make_error(troupe::transport::transport_errc::invalid_config));
  stream_import_config icfg;
  icfg.capacity = 0;
  CHECK(import_stream<Tally>(sys, *b, address("x"), icfg).error()
        == caf::make_error(troupe::transport::transport_errc::invalid_config));
  caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
}

TEST_CASE("stream items are length-delimited on the wire and truncation is detected",
          "[transport][remote_stream][errors]") {
  using troupe::transport::detail::append_delimited;
  using troupe::transport::detail::delimited_reader;
  std::string bytes;
  std::vector<Tally> sent(3);
  sent[0].set_handled(1);
  sent[1].set_handled(300); // a multi-byte varint inside
  // sent[2] stays empty: a zero-length item
  for (auto& x : sent)
    append_delimited(bytes, x);
  // The standard delimited encoding: what protobuf's own writer produces.
  std::string reference;
  for (auto& x : sent) {
    google::protobuf::io::StringOutputStream raw{&reference};
    REQUIRE(google::protobuf::util::SerializeDelimitedToZeroCopyStream(x, &raw));
  }
  CHECK(bytes == reference);
  SECTION("read back, to the last byte") {
    delimited_reader in{bytes};
    for (auto& expected : sent) {
      Tally got;
      REQUIRE(in.next(got));
      CHECK(got.handled() == expected.handled());
    }
    CHECK(in.at_end());
    Tally extra;
    CHECK_FALSE(in.next(extra));
  }
  SECTION("many items: past the parser's 16-byte look-ahead and its buffer's end") {
    std::string many;
    for (int i = 1; i <= 1000; ++i) {
      Tally x;
      x.set_handled(static_cast<uint64_t>(i) * 1'000'003);
      append_delimited(many, x);
    }
    delimited_reader in{many};
    for (int i = 1; i <= 1000; ++i) {
      Tally got;
      REQUIRE(in.next(got));
      REQUIRE(got.handled() == static_cast<uint64_t>(i) * 1'000'003);
    }
    CHECK(in.at_end());
  }
  SECTION("a truncated item") {
    auto cut = bytes.substr(0, bytes.size() - 1 - 1); // into the second item
    delimited_reader in{cut};
    Tally got;
    CHECK(in.next(got));
    CHECK_FALSE(in.next(got));
    CHECK_FALSE(in.at_end());
  }
  SECTION("trailing bytes after the items") {
    auto longer = bytes + "\x01";
    delimited_reader in{longer};
    for (size_t i = 0; i < sent.size(); ++i) {
      Tally got;
      REQUIRE(in.next(got));
    }
    CHECK_FALSE(in.at_end());
  }
  SECTION("a length prefix longer than five bytes") {
    std::string bad(6, '\xff');
    delimited_reader in{bad};
    Tally got;
    CHECK_FALSE(in.next(got));
  }
  SECTION("an item whose bytes are not its type's") {
    // A field whose declared length (5) overruns the item (2 bytes), and a
    // tag of 0: neither parses.
    std::string bad{"\x02\x0a\x05", 3};
    delimited_reader in{bad};
    Tally got;
    CHECK_FALSE(in.next(got));
    std::string zero_tag{"\x02\x00\x00", 3};
    delimited_reader in2{zero_tag};
    CHECK_FALSE(in2.next(got));
  }
}

namespace {

troupe::flow::Pull make_pull(uint64_t stream_id, uint32_t credit, uint64_t acked_through,
                             bool open) {
  troupe::flow::Pull pull;
  pull.set_stream_id(stream_id);
  pull.set_credit(credit);
  pull.set_acked_through(acked_through);
  pull.set_capacity(open ? credit : 0);
  pull.set_open(open);
  return pull;
}

/// A third node, for a second connection to node A.
struct three_nodes : streaming_nodes {
  std::optional<node> c;

  three_nodes() {
    auto nc = node::start(sys, fast_config());
    REQUIRE(nc);
    c.emplace(std::move(*nc));
  }

  /// One Pull through `via`'s connection to the stream `name` on node A.
  outcome<troupe::flow::Batch> pull_via(node& via, const std::string& name,
                                        const troupe::flow::Pull& pull) {
    auto hub = via.remote_actor(address(name));
    REQUIRE(hub);
    return call<troupe::flow::Batch>(*hub, 5000ms,
                                     troupe::transport::call_options{3s, "", "", 1}, pull);
  }
};

/// A local consumer of `producer` that records every item it sees.
struct recording_run : consumer_run {
  std::mutex mtx;
  std::set<uint64_t> seen;
};

caf::actor record_all(caf::actor_system& sys, caf::actor producer,
                      std::shared_ptr<recording_run> st) {
  auto local = spawn_consumer<Tally>(
    sys, producer, consumer_config{32, 1},
    [st](const Tally& t) {
      std::lock_guard<std::mutex> guard{st->mtx};
      st->seen.insert(t.handled());
    },
    [st](const caf::error& err) { st->finish(err); });
  REQUIRE(local);
  return *local;
}

} // namespace

TEST_CASE_METHOD(three_nodes,
                 "another connection cannot acknowledge a remote-stream session's "
                 "items: it gets a typed stream_conflict and nothing is lost",
                 "[transport][remote_stream][sessions]") {
  constexpr uint64_t n = 500;
  auto pulled = make_counter();
  auto producer = tally_producer(sys, n, pulled);
  stream_export_config ecfg;
  ecfg.poll_interval = 50ms;
  ecfg.idle_timeout = 30s; // the owner's connection closing must end it, not silence
  REQUIRE(export_stream<Tally>(*a, producer, "owned", ecfg));
  // B opens stream 77 and receives items 1..8.
  auto first = pull_via(*b, "owned", make_pull(77, 8, 0, true));
  REQUIRE(first.value);
  REQUIRE(first.value->count() == 8);
  // C, another connection, tries to acknowledge them.
  auto stray = pull_via(*c, "owned", make_pull(77, 0, 8, false));
  CHECK_FALSE(stray.value);
  CHECK(stray.error == caf::make_error(troupe::transport::transport_errc::stream_conflict));
  // B's connection closes without acknowledging: the items go back to the
  // producer at once (well before the 30 s idle timeout), and a local
  // consumer gets every item.
  b->stop();
  auto st = std::make_shared<recording_run>();
  record_all(sys, producer, st);
  REQUIRE(st->w.wait([&] { return st->done.load(); }, 15s));
  CHECK(!st->outcome);
  std::lock_guard<std::mutex> guard{st->mtx};
  CHECK(st->seen.size() == n);
}

TEST_CASE_METHOD(three_nodes,
                 "reopening a stream id that is open, or acknowledging items never "
                 "sent, is a typed stream_conflict",
                 "[transport][remote_stream][sessions]") {
  auto pulled = make_counter();
  auto producer = tally_producer(sys, 100, pulled);
  stream_export_config ecfg;
  ecfg.poll_interval = 50ms;
  REQUIRE(export_stream<Tally>(*a, producer, "reused", ecfg));
  auto first = pull_via(*b, "reused", make_pull(5, 4, 0, true));
  REQUIRE(first.value);
  CHECK(first.value->count() == 4);
  // An importer restarted on the same connection reuses the id.
  auto again = pull_via(*b, "reused", make_pull(5, 4, 0, true));
  CHECK_FALSE(again.value);
  CHECK(again.error == caf::make_error(troupe::transport::transport_errc::stream_conflict));
  // Its numbering does not match the session's: acknowledging beyond what
  // was sent is refused too.
  auto beyond = pull_via(*b, "reused", make_pull(5, 0, 9, false));
  CHECK_FALSE(beyond.value);
  CHECK(beyond.error == caf::make_error(troupe::transport::transport_errc::stream_conflict));
  // The owner itself can still acknowledge what it got.
  auto ack = pull_via(*b, "reused", make_pull(5, 0, 4, false));
  CHECK(ack.value);
  caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(streaming_nodes,
                 "a Pull that does not open a stream, for an id with no session, is "
                 "a typed unknown_stream",
                 "[transport][remote_stream][sessions]") {
  auto pulled = make_counter();
  auto producer = tally_producer(sys, 10, pulled);
  REQUIRE(export_stream<Tally>(*a, producer, "nosession"));
  auto hub = b->remote_actor(address("nosession"));
  REQUIRE(hub);
  auto r =
    call<troupe::flow::Batch>(*hub, 5000ms, troupe::transport::call_options{3s, "", "", 1},
                              make_pull(1234, 8, 0, false));
  CHECK_FALSE(r.value);
  CHECK(r.error == caf::make_error(troupe::transport::transport_errc::unknown_stream));
  caf::anon_send_exit(producer, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(streaming_nodes,
                 "an exported supervised producer survives its restarts: the remote "
                 "consumer gets every item",
                 "[transport][remote_stream][supervised]") {
  constexpr uint64_t n = 5000;
  // The producer resumes after the committed position, so a restart repeats
  // only what was in flight.
  struct source_state {
    std::atomic<seq_t> committed{0};
    std::atomic<int> starts{0};
    std::mutex mtx;
    caf::actor_addr current; // weak: the producer's hooks hold this state
  };
  auto src = std::make_shared<source_state>();
  troupe::supervisors::supervisor_config scfg;
  scfg.name = "exporter";
  scfg.intensity = {5, 10s};
  troupe::supervisors::child_spec spec{
    "tallies",
    [src](const troupe::supervisors::start_context& ctx) -> caf::expected<caf::actor> {
      ++src->starts;
      auto from = src->committed.load();
      producer_config pcfg{64, 10s};
      pcfg.first_seq = from + 1;
      pcfg.on_commit = [src](seq_t at) { src->committed = at; };
      auto p = spawn_producer<Tally>(
        ctx.system, pcfg, [next = from + 1](size_t demand, std::vector<Tally>& out) mutable {
          while (out.size() < demand && next <= n) {
            Tally t;
            t.set_handled(next++);
            out.push_back(std::move(t));
          }
          return next > n ? pull_status::done : pull_status::more;
        });
      if (p) {
        std::lock_guard<std::mutex> guard{src->mtx};
        src->current = p->address();
      }
      return p;
    }};
  spec.restart = troupe::supervisors::restart_type::transient;
  scfg.children = {spec};
  auto sup = troupe::supervisors::spawn_supervisor(sys, scfg);
  REQUIRE(sup);
  auto by_name = upstream_ref::lookup(caf::actor_cast<caf::actor>(*sup), "tallies");
  REQUIRE(export_stream<Tally>(*a, by_name, "supervised"));
  auto items = import_stream<Tally>(sys, *b, address("supervised"));
  REQUIRE(items);
  struct run : consumer_run {
    std::mutex mtx;
    std::set<uint64_t> seen;
  };
  auto st = std::make_shared<run>();
  auto consumer = spawn_consumer<Tally>(
    sys, *items, consumer_config{32, 1},
    [st](const Tally& t) {
      {
        std::lock_guard<std::mutex> guard{st->mtx};
        st->seen.insert(t.handled());
      }
      if (++st->processed == 1000)
        st->w.notify();
    },
    [st](const caf::error& err) { st->finish(err); });
  REQUIRE(consumer);
  REQUIRE(st->w.wait([&] { return st->processed.load() >= 1000; }));
  {
    std::lock_guard<std::mutex> guard{src->mtx};
    caf::anon_send_exit(caf::actor_cast<caf::actor>(src->current),
                        caf::exit_reason::kill); // mid-stream
  }
  REQUIRE(st->wait_done());
  INFO("outcome: " << sys.render(st->outcome));
  CHECK_FALSE(st->outcome);
  CHECK(src->starts == 2);
  std::lock_guard<std::mutex> guard{st->mtx};
  CHECK(st->seen.size() == n); // nothing lost across the restart
  // Repeated: only what was in flight, bounded by the importer's capacity
  // (the export session retains at most twice it).
  CHECK(st->processed - n <= 2 * stream_import_config{}.capacity);
  troupe::supervisors::request_shutdown(*sup);
}

TEST_CASE_METHOD(streaming_nodes,
                 "an importer refuses a batch with more items than it granted",
                 "[transport][remote_stream][errors]") {
  // A broken (or hostile) exporter: every Pull gets five items more than its
  // credit. Taking them would break the importer's capacity.
  auto liar = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](const troupe::flow::Pull& pull) {
      troupe::flow::Batch batch;
      batch.set_stream_id(pull.stream_id());
      batch.set_first_seq(1);
      batch.set_item_type(Tally::descriptor()->full_name());
      uint32_t n = pull.credit() + 5;
      for (uint32_t i = 0; i < n; ++i) {
        Tally t;
        t.set_handled(i + 1);
        troupe::transport::detail::append_delimited(*batch.mutable_items(), t);
      }
      batch.set_count(n);
      return batch;
    }};
  });
  REQUIRE_FALSE(a->publish(liar, "liar"));
  stream_import_config icfg;
  icfg.capacity = 16;
  auto items = import_stream<Tally>(sys, *b, address("liar"), icfg);
  REQUIRE(items);
  auto st = std::make_shared<consumer_run>();
  auto consumer = spawn_consumer<Tally>(
    sys, *items, consumer_config{16, 1}, [st](const Tally&) { ++st->processed; },
    [st](const caf::error& err) { st->finish(err); });
  REQUIRE(consumer);
  REQUIRE(st->wait_done());
  INFO("outcome: " << sys.render(st->outcome));
  CHECK(st->outcome == troupe::transport::transport_errc::stream_conflict);
  CHECK(st->processed == 0); // nothing of the oversized batch was taken
  caf::anon_send_exit(liar, caf::exit_reason::user_shutdown);
}
