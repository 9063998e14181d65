// take_snapshot on a live system: supervisors answer report_atom, flow actors
// their flow_stats; restarts and the restart budget are counted.

#include <catch2/catch.hpp>

#include <future>

#include <troupe/actors/bounded_mailbox.hpp>
#include <troupe/actors/fetcher.hpp>
#include <troupe/actors/producer.hpp>
#include <troupe/observability/tree_snapshot.hpp>
#include <troupe/supervisors/atoms.hpp>

#include "observed_tree.hpp"

using namespace std::chrono_literals;
using troupe::observability::child_view;
using troupe::observability::supervisor_view;
using troupe::observability::take_snapshot;
using troupe::supervisors::child_status;

namespace {

const child_view* find(const supervisor_view& v, const std::string& id) {
  for (auto& c : v.children)
    if (c.info.id == id)
      return &c;
  return nullptr;
}

} // namespace

TEST_CASE_METHOD(troupe::testing::observed_tree,
                 "a snapshot shows every supervisor and child, restarts and flow counters",
                 "[observability][tree]") {
  REQUIRE(drained());
  crash_worker(3);
  std::vector<caf::actor> answered;
  auto snap = take_snapshot(sys, {root, node->supervisor()}, 2s, &answered);
  REQUIRE(snap.roots.size() == 2);
  auto& demo = snap.roots[0];
  REQUIRE(demo.answered);
  CHECK(demo.report.path == "demo");
  CHECK(demo.report.strategy == "one_for_one");
  CHECK(demo.report.restarts_total == 3);
  CHECK(demo.report.restarts_in_window == 3);
  CHECK(demo.report.max_restarts == 10);
  auto* worker = find(demo, "worker");
  REQUIRE(worker != nullptr);
  CHECK(worker->info.restarts == 3);
  CHECK(worker->info.status == child_status::running);
  CHECK(worker->path == "demo/worker");
  CHECK_FALSE(worker->flow);
  auto* orders = find(demo, "orders");
  REQUIRE(orders != nullptr);
  CHECK(orders->type == "troupe.supervisor");
  REQUIRE(orders->supervisor.size() == 1);
  auto& pipeline = orders->supervisor.front();
  CHECK(pipeline.report.path == "demo/orders");
  auto* source = find(pipeline, "source");
  auto* sink = find(pipeline, "sink");
  REQUIRE(source != nullptr);
  REQUIRE(sink != nullptr);
  REQUIRE(source->flow);
  REQUIRE(sink->flow);
  CHECK(source->type == "troupe.flow");
  CHECK(source->flow->pulled == static_cast<uint64_t>(items));
  CHECK(source->flow->consumers == 1);
  CHECK(source->flow->consumers_capacity == 16);
  CHECK(sink->flow->processed == static_cast<uint64_t>(items));
  CHECK(sink->flow->capacity == 16);
  CHECK(sink->flow->buffered == 0);
  // The node's own tree: its listener and connections supervisor.
  CHECK(snap.roots[1].answered);
  CHECK_FALSE(snap.roots[1].children.empty());
  // Every supervisor that answered, for subscribing to their events.
  CHECK(answered.size() == 4); // demo, demo/orders, the node's root, its connections
  // A snapshot holds no actor alive.
  CHECK(worker->info.handle == nullptr);
}

TEST_CASE_METHOD(troupe::testing::observed_tree,
                 "a supervisor that does not answer in time is shown as not answering",
                 "[observability][tree]") {
  auto mute = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    return {[self](troupe::supervisors::report_atom) {
      return self->make_response_promise<troupe::supervisors::supervisor_report>();
    }};
  });
  auto snap = take_snapshot(sys, {mute, root}, 200ms);
  REQUIRE(snap.roots.size() == 2);
  CHECK_FALSE(snap.roots[0].answered);
  CHECK(snap.roots[1].answered); // the rest is still collected
  caf::anon_send_exit(mute, caf::exit_reason::user_shutdown);
}

TEST_CASE("a bounded mailbox under a supervisor shows its depth and refusals",
          "[observability][tree][mailbox]") {
  troupe::supervisors::system_config cfg;
  caf::actor_system sys{cfg};
  // The worker holds its first message until the test lets go: the mailbox
  // (capacity 1, reject) is full meanwhile.
  auto release = std::make_shared<std::promise<void>>();
  auto released = release->get_future().share();
  auto entered = std::make_shared<std::promise<void>>();
  troupe::supervisors::supervisor_config scfg;
  scfg.name = "gated";
  scfg.children = {troupe::supervisors::child_spec{
    "worker",
    [released,
     entered](const troupe::supervisors::start_context& ctx) -> caf::expected<caf::actor> {
      troupe::actors::mailbox_config mcfg;
      mcfg.capacity = 1;
      mcfg.policy = troupe::actors::overflow::reject();
      return troupe::actors::spawn_bounded(
        ctx.system, mcfg, [released, entered](caf::event_based_actor*) -> caf::behavior {
          return {[released, entered](int) {
            entered->set_value();
            released.wait(); // bounded: the test releases it below
          }};
        });
    }}};
  auto sup = troupe::supervisors::spawn_supervisor(sys, scfg);
  REQUIRE(sup);
  auto root = caf::actor_cast<caf::actor>(*sup);
  auto first = take_snapshot(sys, {root}, 2s);
  REQUIRE(first.roots.size() == 1);
  auto* before = find(first.roots[0], "worker");
  REQUIRE(before != nullptr);
  CHECK(before->type == "troupe.mailbox");
  // The snapshot holds no handles: ask the supervisor for the gate.
  caf::scoped_actor self{sys};
  caf::actor worker;
  self->request(root, 2s, troupe::supervisors::report_atom::value)
    .receive(
      [&](troupe::supervisors::supervisor_report& r) { worker = r.children.front().handle; },
      [](caf::error&) {});
  REQUIRE(worker);
  self->send(worker, 1);
  REQUIRE(entered->get_future().wait_for(10s) == std::future_status::ready);
  self->send(worker, 2); // refused: the mailbox holds one
  self->send(worker, 3); // refused
  auto snap = take_snapshot(sys, {root}, 2s);
  release->set_value();
  auto* c = find(snap.roots[0], "worker");
  REQUIRE(c != nullptr);
  CHECK(c->type == "troupe.mailbox");
  REQUIRE(c->mailbox);
  CHECK(c->mailbox->capacity == 1);
  CHECK(c->mailbox->held == 1);
  CHECK(c->mailbox->accepted == 1);
  CHECK(c->mailbox->rejected == 2);
  troupe::supervisors::request_shutdown(root);
}

namespace {

/// Starts attempts and never finishes them: the fetcher stays busy.
class stalled_operation : public troupe::actors::async_operation<int64_t, int64_t> {
public:
  explicit stalled_operation(std::shared_ptr<std::promise<void>> three)
    : three_(std::move(three)) {}

  void start(uint64_t, const int64_t&, troupe::actors::completion<int64_t>) override {
    if (++started_ == 3)
      three_->set_value();
  }

  void cancel(uint64_t) override {}

private:
  std::shared_ptr<std::promise<void>> three_;
  int started_ = 0;
};

} // namespace

TEST_CASE("a fetcher under a supervisor shows its attempts in flight and its breaker",
          "[observability][tree][fetcher]") {
  troupe::supervisors::system_config cfg;
  caf::actor_system sys{cfg};
  auto next = std::make_shared<int64_t>(1);
  auto producer = troupe::actors::spawn_producer<int64_t>(
    sys, troupe::actors::producer_config{}, [next](size_t demand, std::vector<int64_t>& out) {
      while (out.size() < demand && *next <= 10)
        out.push_back((*next)++);
      return *next <= 10 ? troupe::actors::pull_status::more
                         : troupe::actors::pull_status::done;
    });
  REQUIRE(producer);
  auto three = std::make_shared<std::promise<void>>();
  auto started = three->get_future();
  troupe::supervisors::supervisor_config scfg;
  scfg.name = "fetching";
  scfg.children = {troupe::supervisors::child_spec{
    "fetcher",
    [up = *producer,
     three](const troupe::supervisors::start_context& ctx) -> caf::expected<caf::actor> {
      troupe::actors::fetcher_config fcfg;
      fcfg.max_in_flight = 3;
      fcfg.attempt_timeout = std::chrono::minutes{1};
      return troupe::actors::spawn_fetcher<int64_t, int64_t>(
        ctx.system, up, fcfg, std::make_unique<stalled_operation>(three));
    }}};
  auto sup = troupe::supervisors::spawn_supervisor(sys, scfg);
  REQUIRE(sup);
  auto root = caf::actor_cast<caf::actor>(*sup);
  REQUIRE(started.wait_for(10s) == std::future_status::ready);
  auto snap = take_snapshot(sys, {root}, 2s);
  REQUIRE(snap.roots.size() == 1);
  auto* c = find(snap.roots[0], "fetcher");
  REQUIRE(c != nullptr);
  CHECK(c->type == "troupe.fetcher");
  REQUIRE(c->flow); // a flow actor too
  REQUIRE(c->fetch);
  CHECK(c->fetch->attempts == 3);
  CHECK(c->fetch->in_flight == 3);
  CHECK(c->fetch->breaker == "closed");
  troupe::supervisors::request_shutdown(root);
  caf::anon_send_exit(*producer, caf::exit_reason::user_shutdown);
}
