// service_mailbox: work posted to a service from outside its handlers runs
// in its actor after the calls already in its mailbox, and exactly once even
// when the actor stopped first (deterministic scheduler).

#include <catch2/catch.hpp>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <troupe/actors/actor_path.hpp>
#include <troupe/services/service.hpp>
#include <troupe/services/service_directory.hpp>
#include <troupe/services/service_mailbox.hpp>
#include <troupe/services/stub.hpp>
#include <troupe/testing/deterministic_system.hpp>
#include <troupe/transport/system_config.hpp>

#include "services_test/v1/greeter.pb.h"
#include "support/outcome.hpp"

using namespace troupe::services;
using services_test::v1::Greeter;
using services_test::v1::Greeting;
using services_test::v1::Hello;
using troupe::testing::report_to;
using troupe::testing::spawn_client;

namespace {

/// What the test service did, in order; shared with the test (it outlives
/// the service).
struct journal {
  std::mutex mtx;
  std::vector<std::string> events;
  /// How many posted functions ran inside the service's actor.
  int ran_in_actor = 0;
  service_mailbox mailbox;

  void add(std::string event) {
    std::lock_guard<std::mutex> guard{mtx};
    events.push_back(std::move(event));
  }
};

/// Greets; for a name starting with "post" it posts work to itself, and for
/// "quit" its actor stops.
class recorder final : public Greeter::Service {
public:
  explicit recorder(std::shared_ptr<journal> log) : log_(std::move(log)) {
    // nop
  }

  void on_start() override {
    log_->mailbox = mailbox();
  }

  reply<Greeting> greet(server_call&, const Hello& req) override {
    log_->add("greet " + req.name());
    if (req.name().rfind("post", 0) == 0)
      mailbox().post([log = log_, name = req.name()] {
        if (troupe::actors::current_actor_path() != nullptr)
          ++log->ran_in_actor;
        log->add("posted " + name);
      });
    if (req.name() == "quit")
      self()->quit(caf::exit_reason::user_shutdown);
    Greeting g;
    g.set_text("hello, " + req.name());
    return g;
  }

private:
  std::shared_ptr<journal> log_;
};

struct fixture : troupe::testing::deterministic_system<troupe::transport::system_config> {
  std::shared_ptr<journal> log = std::make_shared<journal>();
  caf::actor service;

  fixture() {
    service = spawn_service(sys, std::make_unique<recorder>(log));
    register_service(sys, std::string{Greeter::full_name}, service);
    run();
  }

  ~fixture() {
    if (service)
      caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
    run();
  }

  void greet(const std::string& name) {
    auto test = caf::actor_cast<caf::actor>(self);
    Greeter::Stub stub{channel::local(sys)};
    Hello req;
    req.set_name(name);
    spawn_client(sys, [=](caf::event_based_actor* c) {
      auto [ok, fail] = report_to<Greeting>(test);
      stub.greet(c, req).then(ok, fail);
    });
  }
};

} // namespace

TEST_CASE_METHOD(fixture,
                 "work posted to a service runs in its actor after the calls before it",
                 "[services][service_mailbox]") {
  // Both calls are in the service's mailbox before it handles the first,
  // which posts: the posted work comes after the second call.
  greet("post-a");
  greet("b");
  run();
  CHECK(log->events == std::vector<std::string>{"greet post-a", "greet b", "posted post-a"});
  CHECK(log->ran_in_actor == 1);
}

TEST_CASE_METHOD(fixture, "work posted to a stopped service runs once, where it is found gone",
                 "[services][service_mailbox]") {
  int runs = 0;
  REQUIRE(log->mailbox.address() == service.address());
  SECTION("the actor stopped before the post: on the caller's thread") {
    caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
    run();
    service = nullptr; // the test's own reference, too
    log->mailbox.post([&] { ++runs; });
    CHECK(runs == 1);
  }
  SECTION("what the work throws where it is found gone is logged, not thrown") {
    caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
    run();
    CHECK_NOTHROW(log->mailbox.post([&] {
      ++runs;
      throw std::runtime_error("posted work failed");
    }));
    CHECK(runs == 1);
  }
  SECTION("the actor stops with the work still in its mailbox: where it is discarded") {
    // The first call posts behind the second, which stops the actor.
    greet("post-a");
    greet("quit");
    run();
    CHECK(log->events
          == std::vector<std::string>{"greet post-a", "greet quit", "posted post-a"});
    CHECK(log->ran_in_actor == 0);
  }
  SECTION("a mailbox of no actor runs the work at once") {
    service_mailbox{}.post([&] { ++runs; });
    CHECK(runs == 1);
  }
}
