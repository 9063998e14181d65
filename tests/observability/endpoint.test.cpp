// The endpoint over real HTTP on 127.0.0.1: /metrics parsed by Prometheus's
// own Python parser, /api/tree as JSON, /api/events as server-sent events,
// the dashboard page, and the troupe.http.* keys.

#include <catch2/catch.hpp>

#include <map>
#include <sstream>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <troupe/observability/endpoint.hpp>
#include <troupe/transport/transport_errc.hpp>

#include "observed_tree.hpp"
#include "run_process.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using troupe::observability::endpoint;
using troupe::observability::endpoint_config;

namespace {

struct served : troupe::testing::observed_tree {
  std::unique_ptr<endpoint> ep;

  served() {
    REQUIRE(drained());
    crash_worker(3);
    auto started =
      endpoint::start(sys, endpoint_config{}, {{root, node->supervisor()}, &*node, {}});
    REQUIRE(started);
    ep = std::move(*started);
    REQUIRE(ep->port() != 0);
  }

  httplib::Client client() {
    httplib::Client c{"127.0.0.1", ep->port()};
    c.set_read_timeout(10, 0);
    c.set_connection_timeout(5, 0);
    return c;
  }
};

/// "name {labels}" -> value, from parse_metrics.py's lines
/// "name<TAB>labels<TAB>value" (label values may hold spaces).
std::map<std::string, double> samples_of(const std::string& output) {
  std::map<std::string, double> result;
  std::istringstream in{output};
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find('\t');
    auto b = a == std::string::npos ? a : line.find('\t', a + 1);
    if (b == std::string::npos)
      continue;
    result[line.substr(0, a) + " " + line.substr(a + 1, b - a - 1)] =
      std::stod(line.substr(b + 1));
  }
  return result;
}

} // namespace

TEST_CASE_METHOD(served, "/metrics parses with Prometheus's parser and counts the restarts",
                 "[observability][metrics]") {
  auto r = troupe::testing::run_process(
    {TROUPE_PYTHON3, TROUPE_PARSE_METRICS, ep->url() + "/metrics"}, 60s);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto s = samples_of(r.output);
  CHECK(s["troupe_supervisor_restarts_total {\"supervisor\":\"demo\"}"] == 3);
  CHECK(s["troupe_child_restarts_total {\"child\":\"worker\",\"supervisor\":\"demo\"}"] == 3);
  CHECK(s["troupe_supervisor_restart_budget {\"supervisor\":\"demo\"}"] == 7);
  CHECK(s["troupe_supervisor_children {\"status\":\"running\",\"supervisor\":\"demo\"}"] == 2);
  CHECK(s["troupe_supervisor_up {\"supervisor\":\"demo/orders\"}"] == 1);
  CHECK(s["troupe_flow_items_processed_total {\"actor\":\"demo/orders/sink\"}"] == items);
  CHECK(s["troupe_flow_input_capacity {\"actor\":\"demo/orders/sink\"}"] == 16);
  CHECK(s["troupe_flow_output_capacity {\"actor\":\"demo/orders/source\"}"] == 16);
  CHECK(s.count("troupe_transport_peers_up {}") == 1);
  CHECK(s.count("troupe_observability_collect_seconds {}") == 1);
}

TEST_CASE_METHOD(served, "a dynamic supervisor's children get no series of their own",
                 "[observability][metrics]") {
  // A second node connects: the first node's connections supervisor
  // (strategy dynamic) gets a child with a never-reused id.
  auto other = troupe::transport::node::start(sys);
  REQUIRE(other);
  REQUIRE(other->connect("127.0.0.1", node->port()));
  auto tree = json::parse(client().Get("/api/tree")->body);
  auto& connections = tree["supervisors"][1]["children"][0]["supervisor"];
  REQUIRE(connections["strategy"] == "dynamic");
  CHECK_FALSE(connections["children"].empty()); // shown in the tree
  auto r = troupe::testing::run_process(
    {TROUPE_PYTHON3, TROUPE_PARSE_METRICS, ep->url() + "/metrics"}, 60s);
  REQUIRE(r.exit_code == 0);
  for (auto& [series, value] : samples_of(r.output))
    if (series.rfind("troupe_child_restarts_total", 0) == 0)
      CHECK(series.find("/connections") == std::string::npos);
  other->stop();
}

TEST_CASE_METHOD(served, "an error text that is not UTF-8 does not stop the event feed",
                 "[observability][events]") {
  (void)client().Get("/api/tree"); // the hub subscribes to the supervisors
  crash_worker(1, std::string{"bad bytes \xff\xfe here"});
  crash_worker(1); // a later event still arrives
  auto res = client().Get("/api/events?recent");
  REQUIRE(res);
  auto events = json::parse(res->body);
  int restarting = 0;
  for (auto& e : events)
    if (e["event"]["kind"] == "restarting")
      ++restarting;
  CHECK(restarting == 2);
  CHECK(res->body.find("bad bytes") != std::string::npos);
}

TEST_CASE_METHOD(served, "/api/tree is the live tree as JSON", "[observability][tree]") {
  auto c = client();
  auto res = c.Get("/api/tree");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  auto tree = json::parse(res->body);
  CHECK(tree["node"] == node->id());
  auto& demo = tree["supervisors"][0];
  CHECK(demo["path"] == "demo");
  CHECK(demo["restarts_total"] == 3);
  CHECK(demo["restart_budget"] == 7);
  auto& worker = demo["children"][0];
  CHECK(worker["id"] == "worker");
  CHECK(worker["restarts"] == 3);
  CHECK(worker["status"] == "running");
  auto& orders = demo["children"][1];
  CHECK(orders["supervisor"]["path"] == "demo/orders");
  auto& sink = orders["supervisor"]["children"][1];
  CHECK(sink["id"] == "sink");
  CHECK(sink["flow"]["processed"] == items);
  CHECK(sink["flow"]["capacity"] == 16);
}

TEST_CASE_METHOD(served, "/api/events streams recent and new supervision events",
                 "[observability][events]") {
  // The hub subscribes while the tree is walked: the restarts before that
  // are not in the feed, the ones after are. One more restart while the
  // stream is open:
  std::string seen;
  std::thread crasher;
  auto c = client();
  auto give_up = std::chrono::steady_clock::now() + troupe::testing::stream_bound;
  auto res = c.Get("/api/events", [&](const char* data, size_t n) {
    seen.append(data, n);
    if (!crasher.joinable())
      crasher = std::thread{[this] { crash_worker(1); }};
    // Done once the new restart arrived (or give up: a bug, not slowness).
    return seen.find("\"kind\":\"restarting\"") == std::string::npos
      && std::chrono::steady_clock::now() < give_up;
  });
  if (crasher.joinable())
    crasher.join();
  CHECK(seen.find("id: ") != std::string::npos);
  CHECK(seen.find("data: {") != std::string::npos);
  CHECK(seen.find("\"kind\":\"restarting\"") != std::string::npos);
  CHECK(seen.find("\"supervisor\":\"demo\"") != std::string::npos);
  CHECK(seen.find("\"child\":\"worker\"") != std::string::npos);
}

TEST_CASE_METHOD(served, "/ serves the dashboard page", "[observability][dashboard]") {
  auto c = client();
  auto res = c.Get("/");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body.find("<title>Troupe</title>") != std::string::npos);
  CHECK(res->body.find("EventSource") != std::string::npos);
}

TEST_CASE("the endpoint is off unless troupe.http.port is set", "[observability][config]") {
  troupe::observability::system_config off;
  CHECK_FALSE(endpoint_config::from(off));
  troupe::observability::system_config on;
  std::string port = "--troupe.http.port=0";
  std::string host = "--troupe.http.host=127.0.0.2";
  std::vector<char*> argv{const_cast<char*>("t"), port.data(), host.data()};
  REQUIRE_FALSE(on.parse(static_cast<int>(argv.size()), argv.data()));
  auto cfg = endpoint_config::from(on);
  REQUIRE(cfg);
  CHECK(cfg->port == 0);
  CHECK(cfg->host == "127.0.0.2");
  auto help = on.help_text();
  CHECK(help.find("--troupe.http.port") != std::string::npos);
}

TEST_CASE("an endpoint that cannot listen is a typed listen_failed",
          "[observability][config]") {
  troupe::observability::system_config cfg;
  caf::actor_system sys{cfg};
  endpoint_config bad;
  bad.host = "203.0.113.1"; // not an address of this host
  auto ep = endpoint::start(sys, bad, {});
  REQUIRE_FALSE(ep);
  CHECK(ep.error() == troupe::transport::transport_errc::listen_failed);
}

TEST_CASE("an endpoint stopped right after it started stops", "[observability][config]") {
  // cpp-httplib ignores a stop before its loop runs: start waits for the
  // loop, so this returns (a hang here is the bug).
  troupe::observability::system_config cfg;
  caf::actor_system sys{cfg};
  for (int i = 0; i < 20; ++i) {
    auto ep = endpoint::start(sys, endpoint_config{}, {});
    REQUIRE(ep);
    (*ep)->stop();
  }
}
