// node_config::validate names the bad field; addresses parse strictly.

#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include <troupe/transport/node.hpp>
#include <troupe/transport/node_config.hpp>
#include <troupe/transport/transport_errc.hpp>

using namespace troupe::transport;
using namespace std::chrono_literals;

namespace {

std::string why(const caf::error& err) {
  return caf::to_string(err.context());
}

} // namespace

TEST_CASE("the default node config is valid", "[transport][config]") {
  CHECK(!node_config{}.validate());
}

TEST_CASE("an invalid node config names the bad field", "[transport][config]") {
  node_config cfg;
  SECTION("peer timeout not above the heartbeat interval") {
    cfg.heartbeat_interval = 2s;
    cfg.peer_timeout = 1s;
    auto err = cfg.validate();
    CHECK(err == transport_errc::invalid_config);
    CHECK(why(err).find("peer_timeout") != std::string::npos);
  }
  SECTION("a tiny maximum frame size") {
    cfg.max_frame_size = 10;
    CHECK(why(cfg.validate()).find("max_frame_size") != std::string::npos);
  }
  SECTION("no I/O thread") {
    cfg.io_threads = 0;
    CHECK(why(cfg.validate()).find("io_threads") != std::string::npos);
  }
  SECTION("a zero deadline") {
    cfg.default_deadline = 0s;
    CHECK(why(cfg.validate()).find("default_deadline") != std::string::npos);
  }
  SECTION("an invalid supervision observer") {
    cfg.observers = {caf::actor{}};
    CHECK(why(cfg.validate()).find("observers[0]") != std::string::npos);
  }
  SECTION("a zero stop timeout") {
    cfg.stop_timeout = 0s;
    CHECK(why(cfg.validate()).find("stop_timeout") != std::string::npos);
  }
}

TEST_CASE("addresses are name@host:port", "[transport][config]") {
  std::string name;
  std::string host;
  uint16_t port = 0;
  REQUIRE(!parse_address("calc@127.0.0.1:4711", name, host, port));
  CHECK(name == "calc");
  CHECK(host == "127.0.0.1");
  CHECK(port == 4711);
  for (auto bad :
       {"calc", "@h:1", "calc@:1", "calc@h:", "calc@h:0", "calc@h:70000", "calc@h:1x"})
    CHECK(parse_address(bad, name, host, port) == transport_errc::invalid_address);
}
