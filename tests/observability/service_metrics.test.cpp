// The series beyond the supervision tree, over real HTTP and real TCP: a
// service's per-method latency histogram and answers by status, the
// transport's connections, frames and bytes, and the cluster's members —
// parsed by Prometheus's own Python parser and checked against a known
// workload.

#include <catch2/catch.hpp>

#include <future>
#include <map>
#include <optional>
#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <troupe/cluster/cluster.hpp>
#include <troupe/cluster/in_process_membership.hpp>
#include <troupe/observability/endpoint.hpp>
#include <troupe/observability/system_config.hpp>
#include <troupe/services/service_child.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/node.hpp>

#include "run_process.hpp"
#include "support/greeter.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using services_test::v1::Greeter;
using services_test::v1::Hello;
using troupe::observability::endpoint;
using troupe::observability::endpoint_config;

namespace {

constexpr const char* greet = "/services_test.v1.Greeter/Greet";

Hello hello(std::string mode) {
  Hello result;
  result.set_name("ann");
  result.set_mode(std::move(mode));
  return result;
}

/// Node `a` calls the greeter that node `b` runs under a supervisor; both
/// are members of one in-process cluster; `b` serves the endpoint.
struct service_nodes {
  troupe::observability::system_config cfg;
  caf::actor_system sys{cfg};
  troupe::cluster::in_process_membership store{sys, 10s};
  std::optional<troupe::transport::node> a;
  std::optional<troupe::transport::node> b;
  std::optional<troupe::cluster::cluster> ca;
  std::optional<troupe::cluster::cluster> cb;
  troupe::supervisors::supervisor_actor services;
  std::unique_ptr<endpoint> ep;

  service_nodes() {
    auto na = troupe::transport::node::start(sys, troupe::transport::node_config{});
    auto nb = troupe::transport::node::start(sys, troupe::transport::node_config{});
    REQUIRE(na);
    REQUIRE(nb);
    a.emplace(std::move(*na));
    b.emplace(std::move(*nb));
    troupe::supervisors::supervisor_config sup;
    sup.name = "b-services";
    sup.children.push_back(troupe::services::service_child<troupe::testing::greeter>(
      troupe::services::service_options{}.published_on(b->handle())));
    auto spawned = troupe::supervisors::spawn_supervisor(sys, sup);
    REQUIRE(spawned);
    services = *spawned;
    auto joined_a = troupe::cluster::cluster::start(sys, *a, troupe::cluster::cluster_config{},
                                                    store.provider());
    auto joined_b = troupe::cluster::cluster::start(sys, *b, troupe::cluster::cluster_config{},
                                                    store.provider());
    REQUIRE(joined_a);
    REQUIRE(joined_b);
    ca.emplace(std::move(*joined_a));
    cb.emplace(std::move(*joined_b));
    REQUIRE_FALSE(ca->wait_joined(10s));
    REQUIRE_FALSE(cb->wait_joined(10s));
    auto started = endpoint::start(
      sys, endpoint_config{}, {{caf::actor_cast<caf::actor>(services)}, &*b, cb->handle()});
    REQUIRE(started);
    ep = std::move(*started);
  }

  ~service_nodes() {
    ep.reset();
    ca.reset();
    cb.reset();
    caf::anon_send_exit(services, caf::exit_reason::user_shutdown);
    a.reset();
    b.reset();
  }

  Greeter::Stub remote_greeter() {
    return Greeter::Stub{
      troupe::services::channel::remote(a->handle(), "127.0.0.1", b->port())};
  }

  /// Every sample of /metrics as Prometheus's parser read it:
  /// "name {labels as sorted JSON}" -> value.
  std::map<std::string, double> scrape() {
    auto r = troupe::testing::run_process(
      {TROUPE_PYTHON3, TROUPE_PARSE_METRICS, ep->url() + "/metrics"}, 60s);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    std::map<std::string, double> result;
    std::istringstream in{r.output};
    std::string line;
    while (std::getline(in, line)) {
      auto x = line.find('\t');
      auto y = x == std::string::npos ? x : line.find('\t', x + 1);
      if (y != std::string::npos)
        result[line.substr(0, x) + " " + line.substr(x + 1, y - x - 1)] =
          std::stod(line.substr(y + 1));
    }
    return result;
  }
};

/// The labels of the greeter's per-method series, as the parser prints
/// them (keys sorted: `le` comes before `method`, `status` last).
std::string greet_labels(const std::string& status = "", const std::string& le = "") {
  return std::string{"{\"actor\":\"b-services/services_test.v1.Greeter\","}
  + (le.empty() ? "" : "\"le\":\"" + le + "\",") + "\"method\":\"" + greet
    + "\",\"service\":\"services_test.v1.Greeter\""
    + (status.empty() ? "" : ",\"status\":\"" + status + "\"") + "}";
}

} // namespace

TEST_CASE_METHOD(service_nodes,
                 "a service's calls are counted by method and status, with their latency",
                 "[observability][metrics][services]") {
  auto stub = remote_greeter();
  for (int i = 0; i < 3; ++i)
    REQUIRE(stub.greet(hello(""), 5s));
  REQUIRE(stub.greet(hello("defer"), 5s));         // answered later: counted then
  REQUIRE_FALSE(stub.greet(hello("fail:5"), 5s));  // not_found
  REQUIRE_FALSE(stub.greet(hello("hold"), 300ms)); // the service answers at the deadline
  REQUIRE(stub.shout(hello(""), 5s));
  // The caller gave up at its deadline; the service answers at its own
  // (measured from arrival, a moment later): scrape until it did (bounded).
  auto held_out = "troupe_service_handled_total " + greet_labels("deadline_exceeded");
  auto s = scrape();
  for (int i = 0; i < 50 && s.count(held_out) == 0; ++i)
    s = scrape();
  CHECK(s["troupe_service_calls_total {\"actor\":\"b-services/services_test.v1.Greeter\","
          "\"service\":\"services_test.v1.Greeter\"}"]
        == 7);
  CHECK(s["troupe_service_handled_total " + greet_labels("ok")] == 4);
  CHECK(s["troupe_service_handled_total " + greet_labels("not_found")] == 1);
  CHECK(s["troupe_service_handled_total " + greet_labels("deadline_exceeded")] == 1);
  CHECK(s["troupe_service_handling_seconds_count " + greet_labels()] == 6);
  // The held call took its whole deadline (minus the trip): its bucket is
  // above 100 ms, the others far below.
  CHECK(s["troupe_service_handling_seconds_bucket " + greet_labels("", "0.1")] == 5);
  CHECK(s["troupe_service_handling_seconds_bucket " + greet_labels("", "+Inf")] == 6);
  CHECK(s["troupe_service_handling_seconds_sum " + greet_labels()] > 0.1);
  // A method of its own.
  CHECK(s["troupe_service_handling_seconds_count {\"actor\":\"b-services/"
          "services_test.v1.Greeter\",\"method\":\"/services_test.v1.Greeter/Shout\","
          "\"service\":\"services_test.v1.Greeter\"}"]
        == 1);
  // /api/tree shows the same.
  httplib::Client c{"127.0.0.1", ep->port()};
  c.set_read_timeout(10, 0);
  auto res = c.Get("/api/tree");
  REQUIRE(res);
  auto tree = json::parse(res->body);
  auto& service = tree["supervisors"][0]["children"][0]["service"];
  CHECK(service["service"] == "services_test.v1.Greeter");
  CHECK(service["calls"] == 7);
}

TEST_CASE_METHOD(service_nodes, "the transport's connections, frames and bytes are counted",
                 "[observability][metrics][transport]") {
  auto before = scrape();
  auto stub = remote_greeter();
  constexpr int calls = 20;
  for (int i = 0; i < calls; ++i)
    REQUIRE(stub.greet(hello(""), 5s));
  auto after = scrape();
  // a and b are connected (by the cluster, then by the calls).
  CHECK(after["troupe_transport_connections {\"state\":\"up\"}"] >= 1);
  CHECK(after.at("troupe_transport_reconnects_pending {}") == 0);
  // Each call is at least one frame each way, of at least a request's bytes.
  auto grew = [&](const std::string& series) { return after[series] - before[series]; };
  CHECK(grew("troupe_transport_receive_frames_total {}") >= calls);
  CHECK(grew("troupe_transport_transmit_frames_total {}") >= calls);
  CHECK(grew("troupe_transport_receive_bytes_total {}") >= calls * 20);
  CHECK(grew("troupe_transport_transmit_bytes_total {}") >= calls * 20);
}

TEST_CASE_METHOD(service_nodes, "the cluster's members are counted by state",
                 "[observability][metrics][cluster]") {
  auto s = scrape();
  CHECK(s["troupe_cluster_members {\"state\":\"up\"}"] == 2);
  CHECK(s.at("troupe_cluster_members {\"state\":\"down\"}") == 0);
  // b hears of a's leaving as a member event: wait for it (bounded).
  auto removed = std::make_shared<std::promise<void>>();
  auto watcher = sys.spawn([removed, id = ca->id()]() -> caf::behavior {
    auto told = std::make_shared<bool>(false);
    return {[removed, id, told](const troupe::cluster::member_event& ev) {
      if (!*told && ev.who.id == id
          && ev.who.state == troupe::cluster::member_state::removed) {
        *told = true;
        removed->set_value();
      }
    }};
  });
  auto gone = removed->get_future();
  cb->subscribe(watcher);
  ca->stop(); // leaves: removed, not down
  REQUIRE(gone.wait_for(10s) == std::future_status::ready);
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
  auto after = scrape();
  CHECK(after["troupe_cluster_members {\"state\":\"up\"}"] == 1);
  CHECK(after.at("troupe_cluster_members {\"state\":\"down\"}") == 0);
}
