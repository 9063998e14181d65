// The importing side of a remote stream, against a scripted exporter on
// CAF's deterministic scheduler: the test decides which Pull is answered
// when, and how, so orderings that are rare on a real network (an answer
// overtaken by a later failure, a session gone after the end) are exact.

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>

#include <transport_test/v1/calls.pb.h>
#include <troupe/actors/consumer.hpp>
#include <troupe/flow.pb.h>
#include <troupe/testing/deterministic_system.hpp>
#include <troupe/transport/call_options.hpp>
#include <troupe/transport/remote_stream.hpp>
#include <troupe/transport/system_config.hpp>
#include <troupe/transport/transport_errc.hpp>
#include <troupe/transport/wire_error.hpp>

using transport_test::v1::Tally;
using troupe::actors::consumer_config;
using troupe::actors::item_done;
using troupe::actors::seq_t;
using troupe::flow::Batch;
using troupe::flow::Pull;
using troupe::transport::transport_errc;

namespace {

using answer_atom = caf::atom_constant<caf::atom("answer")>;

/// Every Pull the scripted exporter got, in order, each with its promise.
struct script {
  std::vector<Pull> pulls;
  std::vector<caf::response_promise> promises;
};

/// Holds every Pull until the test answers it (`answer_atom`, index, ...).
caf::behavior scripted_exporter(caf::event_based_actor* self, std::shared_ptr<script> s) {
  return {
    [=](const troupe::transport::call_options&, const Pull& pull) -> caf::result<Batch> {
      s->pulls.push_back(pull);
      s->promises.push_back(self->make_response_promise());
      return caf::delegated<Batch>();
    },
    [=](answer_atom, size_t k, const Batch& batch) { s->promises.at(k).deliver(batch); },
    [=](answer_atom, size_t k, const caf::error& err) { s->promises.at(k).deliver(err); },
  };
}

/// Items `first`..`last` as the answer to a Pull.
Batch items(seq_t first, seq_t last, bool done) {
  Batch b;
  b.set_first_seq(first);
  b.set_item_type(Tally::descriptor()->full_name());
  for (auto i = first; i <= last; ++i) {
    Tally t;
    t.set_handled(i);
    troupe::transport::detail::append_delimited(*b.mutable_items(), t);
  }
  b.set_count(static_cast<uint32_t>(last + 1 - first));
  b.set_done(done);
  return b;
}

/// No items: the next item would be `first`.
Batch empty(seq_t first, bool done) {
  Batch b;
  b.set_first_seq(first);
  b.set_done(done);
  return b;
}

const auto session_gone = caf::make_error(transport_errc::unknown_stream, uint64_t{7},
                                          "no open session (never opened, finished or "
                                          "timed out)");

/// An importer of the scripted exporter and a consumer that finishes its
/// items only when the test says so.
struct fixture : troupe::testing::deterministic_system<troupe::transport::system_config> {
  std::shared_ptr<script> exporter_script = std::make_shared<script>();
  caf::actor exporter = sys.spawn(scripted_exporter, exporter_script);
  caf::actor importer;
  caf::actor consumer;
  std::vector<item_done> held;
  std::vector<uint64_t> handled;

  fixture() {
    troupe::transport::stream_import_config cfg;
    cfg.capacity = 8;
    cfg.batch_size = 2;
    auto i = troupe::transport::spawn_importer<Tally>(sys, exporter, cfg);
    REQUIRE(i);
    importer = *i;
    auto c = troupe::actors::spawn_consumer<Tally>(
      sys, importer, consumer_config{8, 8}, [this](const Tally& t, seq_t, item_done done) {
        handled.push_back(t.handled());
        held.push_back(std::move(done));
      });
    REQUIRE(c);
    consumer = *c;
    self->monitor(importer);
    self->monitor(consumer);
    run();
  }

  ~fixture() {
    // A failed check can leave the consumer holding items: end everything,
    // or the system would wait for it forever.
    held.clear();
    for (auto& a : {consumer, importer, exporter})
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::kill);
    run();
  }

  void answer(size_t k, const Batch& b) {
    self->send(exporter, answer_atom::value, k, b);
    run();
  }

  void answer(size_t k, const caf::error& err) {
    self->send(exporter, answer_atom::value, k, err);
    run();
  }

  /// Finishes the first `n` held items.
  void finish(size_t n) {
    for (size_t k = 0; k < n; ++k)
      held.at(k)();
    held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(n));
    run();
  }

  /// Items 1 and 2 delivered and finished: Pull 1 (the long poll) and
  /// Pull 2 (the acknowledgement and the credit) are then both in flight.
  void two_pulls_in_flight() {
    answer(0, items(1, 2, false));
    finish(2);
    REQUIRE(pulls() == 3);
    CHECK(exporter_script->pulls[2].acked_through() == 2);
  }

  size_t pulls() const {
    return exporter_script->pulls.size();
  }

  /// The exit reason of `who`, once it is down.
  std::optional<caf::error> exit_of(const caf::actor& who) {
    while (auto dm = received<caf::down_msg>())
      exits.emplace(std::get<0>(*dm).source, std::get<0>(*dm).reason);
    if (auto i = exits.find(who.address()); i != exits.end())
      return i->second;
    return std::nullopt;
  }

  /// Exit reasons seen so far, by actor.
  std::map<caf::actor_addr, caf::error> exits;
};

} // namespace

TEST_CASE_METHOD(fixture,
                 "an importer that has the stream's end completes even when the exporter "
                 "is gone before its last acknowledgements",
                 "[transport][remote_stream][import]") {
  REQUIRE(pulls() == 1); // the Pull that opens the stream
  answer(0, items(1, 4, true));
  REQUIRE(handled.size() == 4);
  // Two items finished: their acknowledgement goes out, and finds the
  // exporter's session gone (it ended, or its connection was lost).
  finish(2);
  REQUIRE(pulls() == 2);
  CHECK(exporter_script->pulls[1].acked_through() == 2);
  answer(1, session_gone);
  // The consumer still has its items and the stream ends normally for it.
  finish(2);
  for (size_t k = 2; k < pulls(); ++k)
    answer(k, session_gone);
  CHECK(handled == std::vector<uint64_t>{1, 2, 3, 4});
  auto importer_exit = exit_of(importer);
  auto consumer_exit = exit_of(consumer);
  REQUIRE(importer_exit);
  REQUIRE(consumer_exit);
  CHECK(*importer_exit == caf::error{});
  CHECK(*consumer_exit == caf::error{});
}

TEST_CASE_METHOD(fixture,
                 "a Pull that fails while an earlier one is in flight waits for that "
                 "one: its end completes the stream, anything else fails it",
                 "[transport][remote_stream][import]") {
  two_pulls_in_flight();
  // The later Pull's failure arrives first: the session ended meanwhile.
  answer(2, session_gone);
  SECTION("the earlier Pull brings the end") {
    answer(1, empty(3, true));
    auto importer_exit = exit_of(importer);
    REQUIRE(importer_exit);
    CHECK(*importer_exit == caf::error{});
    auto consumer_exit = exit_of(consumer);
    REQUIRE(consumer_exit);
    CHECK(*consumer_exit == caf::error{});
  }
  SECTION("the earlier Pull does not end the stream: the failure stands") {
    answer(1, empty(3, false));
    auto importer_exit = exit_of(importer);
    REQUIRE(importer_exit);
    CHECK(*importer_exit == caf::make_error(transport_errc::unknown_stream));
    // No Pull after the failure: its credit was lost with it.
    CHECK(pulls() == 3);
  }
}

TEST_CASE_METHOD(fixture, "a failed Pull with none other in flight fails the stream",
                 "[transport][remote_stream][import]") {
  answer(0, session_gone);
  auto importer_exit = exit_of(importer);
  REQUIRE(importer_exit);
  CHECK(*importer_exit == caf::make_error(transport_errc::unknown_stream));
  auto consumer_exit = exit_of(consumer);
  REQUIRE(consumer_exit);
  CHECK(*consumer_exit == caf::make_error(transport_errc::unknown_stream));
}

TEST_CASE_METHOD(fixture,
                 "a failed remote stream hands out the items that came before its error, "
                 "then fails",
                 "[transport][remote_stream][import]") {
  // The producer failed: its last items and its error come in one Batch.
  auto last = items(1, 3, true);
  troupe::transport::to_wire_error(caf::make_error(transport_errc::peer_lost),
                                   "the producer's source is gone", *last.mutable_error());
  answer(0, last);
  // As on a local stream, the consumer gets them before the failure.
  CHECK(handled == std::vector<uint64_t>{1, 2, 3});
  auto importer_exit = exit_of(importer);
  REQUIRE(importer_exit);
  CHECK(*importer_exit == caf::make_error(transport_errc::peer_lost));
  // The consumer finishes what it holds, then ends with the stream's error.
  finish(3);
  auto consumer_exit = exit_of(consumer);
  REQUIRE(consumer_exit);
  CHECK(*consumer_exit == caf::make_error(transport_errc::peer_lost));
}

TEST_CASE_METHOD(fixture,
                 "an end that comes after a lost Batch fails the stream: the items are not "
                 "skipped",
                 "[transport][remote_stream][import]") {
  two_pulls_in_flight();
  // Pull 1 times out; its answer (items 3 and 4, say) is dropped on arrival.
  answer(1, caf::make_error(caf::sec::request_timeout));
  // Pull 2's answer is the end, numbered after the lost items.
  answer(2, empty(5, true));
  auto importer_exit = exit_of(importer);
  REQUIRE(importer_exit);
  CHECK(*importer_exit == caf::make_error(caf::sec::request_timeout));
}

TEST_CASE_METHOD(fixture, "a Batch that skips item numbers is a stream_conflict",
                 "[transport][remote_stream][import]") {
  answer(0, items(3, 4, false)); // items 1 and 2 never came
  auto importer_exit = exit_of(importer);
  REQUIRE(importer_exit);
  CHECK(*importer_exit == caf::make_error(transport_errc::stream_conflict));
  CHECK(handled.empty());
}
