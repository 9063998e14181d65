// The exporting side of a remote stream (the hub and its sessions), driven
// by Pulls the test sends on CAF's deterministic scheduler: timers and the
// producer's end happen exactly when the test says.

#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <vector>

#include <transport_test/v1/calls.pb.h>
#include <troupe/actors/credit.hpp>
#include <troupe/actors/producer.hpp>
#include <troupe/flow.pb.h>
#include <troupe/testing/deterministic_system.hpp>
#include <troupe/transport/remote_stream.hpp>
#include <troupe/transport/system_config.hpp>

using namespace std::chrono_literals;
using transport_test::v1::Tally;
using troupe::actors::pull_status;
using troupe::flow::Batch;
using troupe::flow::Pull;

namespace {

Pull make_pull(bool open, uint32_t credit, uint64_t acked_through) {
  Pull p;
  p.set_stream_id(7);
  p.set_open(open);
  p.set_capacity(4);
  p.set_credit(credit);
  p.set_acked_through(acked_through);
  return p;
}

struct fixture : troupe::testing::deterministic_system<troupe::transport::system_config> {
  troupe::transport::stream_export_config ecfg;
  caf::actor producer;
  caf::actor hub;
  /// What the source has for the producer: nothing yet (wait), or its end.
  std::shared_ptr<std::atomic<bool>> ended = std::make_shared<std::atomic<bool>>(false);

  fixture() {
    ecfg.poll_interval = 1s;
    auto p = troupe::actors::spawn_producer<Tally>(
      sys, troupe::actors::producer_config{}, [ended = ended](size_t, std::vector<Tally>&) {
        return ended->load() ? pull_status::done : pull_status::wait;
      });
    REQUIRE(p);
    producer = *p;
    auto h = troupe::transport::spawn_export_hub<Tally>(sys, producer, ecfg);
    REQUIRE(h);
    hub = *h;
    run();
  }

  std::optional<Batch> answer() {
    if (auto b = received<Batch>())
      return std::get<0>(*b);
    return std::nullopt;
  }
};

} // namespace

TEST_CASE_METHOD(fixture,
                 "a producer that ends while no Pull waits has its end told to the next "
                 "Pull",
                 "[transport][remote_stream][export]") {
  self->send(hub, make_pull(true, 4, 0));
  run();
  CHECK_FALSE(answer()); // nothing to say yet: the Pull waits
  // The poll answers it empty, so for a moment no Pull waits at the session.
  advance_time(ecfg.poll_interval);
  auto polled = answer();
  REQUIRE(polled);
  CHECK(polled->count() == 0);
  CHECK_FALSE(polled->done());
  // Just then the producer ends.
  *ended = true;
  self->send(producer, troupe::actors::flow_resume_atom::value);
  run();
  // The importer's next Pull learns the end; the session did not go
  // without a word (over a network, the importer's Pull then found no hub:
  // trp_net:unknown_actor).
  self->send(hub, make_pull(false, 4, 0));
  run();
  auto last = answer();
  REQUIRE(last);
  CHECK(last->done());
  CHECK(last->count() == 0);
  CHECK_FALSE(last->has_error());
  // Told and nothing unacknowledged: session, hub and producer are gone.
  advance_time(ecfg.idle_timeout);
  CHECK(running_actors() == 0);
}
