// Membership on a real etcd (started by each test on 127.0.0.1 with free
// ports and a throwaway data directory) between real nodes on 127.0.0.1:
// registration and watch, a graceful leave, a lease lost and renewed, a
// foreign value under the prefix, etcd unreachable at start and lost
// mid-run, a duplicate identity.

#include <optional>
#include <sstream>

#include <catch2/catch.hpp>

#include <spdlog/sinks/ostream_sink.h>

#include <troupe/actors/log.hpp>
#include <troupe/cluster/cluster.hpp>
#include <troupe/cluster/cluster_errc.hpp>
#include <troupe/cluster/etcd_provider.hpp>
#include <troupe/services/service_child.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/testing/etcd_server.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/system_config.hpp>

#include "support/greeter.hpp"
#include <troupe/testing/member_watch.hpp>

using namespace std::chrono_literals;
using namespace troupe::cluster;
using services_test::v1::Greeter;
using troupe::messages::is;
using troupe::testing::member_watch;
using troupe::transport::node;
using S = member_state;

namespace {

struct etcd_fixture {
  troupe::transport::system_config cfg;
  caf::actor_system sys{cfg};
  std::unique_ptr<troupe::testing::etcd_server> etcd;

  /// One node and its cluster member.
  struct test_member {
    std::optional<node> n;
    std::optional<cluster> c;
    std::unique_ptr<member_watch> watch;
  };
  std::vector<std::unique_ptr<test_member>> members;

  etcd_fixture() {
    auto started = troupe::testing::etcd_server::start();
    if (!started)
      FAIL("cannot start etcd: " << troupe::messages::describe(started.error()));
    etcd = std::move(*started);
  }

  ~etcd_fixture() {
    stop_all();
  }

  /// Stops every member: no provider thread logs after this.
  void stop_all() {
    for (auto& m : members) {
      m->watch.reset();
      m->c.reset();
      m->n.reset();
    }
  }

  etcd_config etcd_cfg() const {
    etcd_config result;
    result.endpoints = {etcd->endpoint()};
    result.prefix = "/troupe-test/members/";
    result.lease_ttl = 2s;
    result.request_timeout = 1s;
    result.retry = troupe::actors::backoff::constant(50ms);
    return result;
  }

  test_member& add(etcd_config ec, troupe::transport::node_config nc = {}) {
    auto m = std::make_unique<test_member>();
    auto n = node::start(sys, nc);
    REQUIRE(n);
    m->n.emplace(std::move(*n));
    auto c = cluster::start(sys, *m->n, cluster_config{}, etcd_provider(ec));
    REQUIRE(c);
    m->c.emplace(std::move(*c));
    m->watch = std::make_unique<member_watch>(sys, *m->c);
    members.push_back(std::move(m));
    return *members.back();
  }

  test_member& add() {
    return add(etcd_cfg());
  }
};

} // namespace

TEST_CASE_METHOD(
  etcd_fixture,
  "members registered in etcd see each other up and one that leaves is removed without being down",
  "[cluster][etcd]") {
  auto& a = add();
  auto& b = add();
  REQUIRE_FALSE(a.c->wait_joined(10s));
  REQUIRE_FALSE(b.c->wait_joined(10s));
  REQUIRE(a.watch->await_state(b.c->id(), S::up));
  REQUIRE(b.watch->await_state(a.c->id(), S::up));
  // The record in etcd is this member's, under its id.
  auto listed = etcd->etcdctl({"get", "--prefix", "--keys-only", "/troupe-test/members/"});
  REQUIRE(listed);
  CHECK(listed->find(a.c->id()) != std::string::npos);
  auto b_id = b.c->id();
  b.c->stop();
  REQUIRE(a.watch->await_state(b_id, S::removed));
  CHECK_FALSE(a.watch->when(b_id, S::down));
  CHECK(a.watch->when(b_id, S::leaving));
}

TEST_CASE_METHOD(etcd_fixture,
                 "a member whose lease is lost goes down for the others and registers again",
                 "[cluster][etcd]") {
  auto& a = add();
  auto& b = add();
  REQUIRE_FALSE(a.c->wait_joined(10s));
  REQUIRE_FALSE(b.c->wait_joined(10s));
  REQUIRE(a.watch->await_state(b.c->id(), S::up));
  // Revoking b's lease is what etcd does when b's keep-alives stop: its key
  // is deleted.
  auto since = a.watch->size();
  auto leases = etcd->etcdctl({"lease", "list"});
  REQUIRE(leases);
  std::istringstream in{*leases};
  std::string line;
  int revoked = 0;
  auto b_key = "/troupe-test/members/" + b.c->id();
  while (std::getline(in, line)) {
    auto id = line.substr(line.find_last_of(' ') + 1);
    auto keys = etcd->etcdctl({"lease", "timetolive", id, "--keys"});
    if (keys && keys->find(b_key) != std::string::npos) {
      REQUIRE(etcd->etcdctl({"lease", "revoke", id}));
      ++revoked;
    }
  }
  REQUIRE(revoked == 1);
  REQUIRE(a.watch->await_state(b.c->id(), S::removed, 10s, since));
  auto events = a.watch->events();
  CHECK(is(events[since].event.reason, cluster_errc::member_expired));
  // b's next keep-alive finds its lease gone: it registers again.
  REQUIRE(a.watch->await_state(b.c->id(), S::up, 10s, since));
  REQUIRE(b.watch->await_state(b.c->id(), S::down));
  for (auto& x : b.watch->events())
    if (x.event.who.id == b.c->id() && x.event.who.state == S::down)
      CHECK(is(x.event.reason, cluster_errc::lease_lost));
  CHECK(b.watch->await_state(b.c->id(), S::up, 10s, b.watch->size() - 1));
}

TEST_CASE_METHOD(
  etcd_fixture,
  "a foreign value under the prefix is skipped with a log line and the watch goes on",
  "[cluster][etcd]") {
  std::ostringstream lines;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(lines);
  auto log = troupe::actors::logger("troupe.cluster");
  // spdlog's sink list is not guarded: change it only while no member's
  // threads log (none yet here; all stopped before the sink goes, even when
  // a REQUIRE ends the test early).
  log->sinks().push_back(sink);
  struct detach {
    etcd_fixture* f;
    std::shared_ptr<spdlog::logger> log;
    ~detach() {
      f->stop_all();
      log->sinks().pop_back();
    }
  } detach_sink{this, log};
  auto& a = add();
  REQUIRE_FALSE(a.c->wait_joined(10s));
  REQUIRE(etcd->etcdctl({"put", "/troupe-test/members/bogus", "not a member record"}));
  REQUIRE(etcd->etcdctl({"put", "/troupe-test/members/", "empty id"}));
  auto& b = add();
  REQUIRE(a.watch->await_state(b.c->id(), S::up));
  auto ids = a.c->members();
  REQUIRE(ids);
  CHECK(ids->size() == 2);
  for (auto& m : *ids)
    CHECK(m.id != "bogus");
  stop_all();
  CHECK(lines.str().find("skipping /troupe-test/members/bogus: not a member record")
        != std::string::npos);
}

TEST_CASE_METHOD(
  etcd_fixture,
  "etcd unreachable at start gives membership_unreachable after the bounded attempts and the member registers once etcd is up",
  "[cluster][etcd]") {
  auto port = etcd->client_port();
  etcd->stop();
  auto ec = etcd_cfg();
  ec.start_attempts = 3;
  // A service on the node still answers locally meanwhile.
  auto probe = std::make_shared<troupe::testing::greeter_probe>();
  auto& a = add(ec);
  auto service =
    troupe::services::spawn_service(sys, std::make_unique<troupe::testing::greeter>(probe));
  troupe::services::register_service(sys, Greeter::full_name, service);
  REQUIRE_FALSE(a.c->advertise(Greeter::full_name));
  auto err = a.c->wait_joined(10s);
  CHECK(is(err, cluster_errc::membership_unreachable));
  // By name, through the cluster that is not registered: this member's own
  // instance answers.
  services_test::v1::Hello hello;
  hello.set_name("local");
  Greeter::Stub by_name{a.c->channel()};
  CHECK(by_name.greet(hello, 2s));
  CHECK(probe->calls == 1);
  REQUIRE_FALSE(etcd->restart());
  REQUIRE(etcd->client_port() == port);
  REQUIRE(a.watch->await_state(a.c->id(), S::up, 20s));
  CHECK_FALSE(a.c->wait_joined(1s));
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(
  etcd_fixture,
  "etcd lost mid-run leaves known members up and the watch resumes when it returns",
  "[cluster][etcd]") {
  auto& a = add();
  auto& b = add();
  REQUIRE_FALSE(a.c->wait_joined(10s));
  REQUIRE(a.watch->await_state(b.c->id(), S::up));
  etcd->stop();
  // Members known so far stay as they are.
  auto known = a.c->members();
  REQUIRE(known);
  REQUIRE(known->size() == 2);
  CHECK((*known)[1].state == S::up);
  REQUIRE_FALSE(etcd->restart());
  // A member joining after etcd returned is seen: the watch resumed.
  auto& c = add();
  REQUIRE_FALSE(c.c->wait_joined(10s));
  CHECK(a.watch->await_state(c.c->id(), S::up));
  CHECK_FALSE(a.watch->when(b.c->id(), S::down));
}

TEST_CASE_METHOD(etcd_fixture,
                 "a second node claiming a live member's identity gets duplicate_member",
                 "[cluster][etcd]") {
  troupe::transport::node_config nc;
  nc.node_id = "twin";
  auto& a = add(etcd_cfg(), nc);
  REQUIRE_FALSE(a.c->wait_joined(10s));
  auto& b = add(etcd_cfg(), nc);
  CHECK(is(b.c->wait_joined(10s), cluster_errc::duplicate_member));
  auto known = a.c->members();
  REQUIRE(known);
  CHECK(known->size() == 1);
}
