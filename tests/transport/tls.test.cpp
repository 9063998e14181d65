// TLS on the wire: real nodes on 127.0.0.1 with certificates made at test
// time by the `openssl` command (troupe::testing::test_certificates): a
// throwaway CA, a good certificate, an expired one, one that names another
// address, one from another CA.

#include <catch2/catch.hpp>

#include <troupe/messages/error_category.hpp>
#include <troupe/testing/test_certificates.hpp>
#include <troupe/transport/transport_errc.hpp>

#include <troupe/transport/diagnostics.hpp>

#include "support/node_fixture.hpp"
#include "support/raw_peer.hpp"

using namespace std::chrono_literals;
using troupe::messages::describe;
using troupe::testing::Answer;
using troupe::testing::fast_config;
using troupe::testing::node_fixture;
using troupe::transport::node;
using troupe::transport::node_config;
using troupe::transport::tls_verify;
using troupe::transport::transport_errc;

namespace {

/// The certificates of this test process, made once: "node" (for
/// 127.0.0.1), "expired", "elsewhere" (for 127.0.0.2) from CA "ca", and
/// "stranger" from CA "other-ca".
class test_pki {
public:
  test_pki() {
    auto made = troupe::testing::test_certificates::create();
    REQUIRE(made);
    certs_ = std::move(*made);
    REQUIRE_FALSE(certs_->add_ca("other-ca"));
    REQUIRE_FALSE(certs_->add_certificate("node", "ca", "IP:127.0.0.1"));
    REQUIRE_FALSE(certs_->add_certificate("expired", "ca", "IP:127.0.0.1", -1));
    REQUIRE_FALSE(certs_->add_certificate("elsewhere", "ca", "IP:127.0.0.2"));
    REQUIRE_FALSE(certs_->add_certificate("stranger", "other-ca", "IP:127.0.0.1"));
  }

  /// Fast test settings with TLS that presents `cert`.
  node_config config(const std::string& cert, tls_verify verify = tls_verify::mutual) const {
    auto cfg = fast_config();
    cfg.tls = certs_->tls(cert, verify);
    return cfg;
  }

  std::string path(const std::string& file) const {
    return certs_->path(file);
  }

private:
  std::unique_ptr<troupe::testing::test_certificates> certs_;
};

const test_pki& pki() {
  static test_pki instance;
  return instance;
}

/// `what`'s text contains `part`.
bool says(const caf::error& what, const std::string& part) {
  return describe(what).find(part) != std::string::npos;
}

struct tls_fixture : node_fixture {
  /// Starts a node (REQUIREs it started).
  node start(node_config cfg) {
    auto n = node::start(sys, std::move(cfg));
    REQUIRE(n);
    return std::move(*n);
  }

  /// Publishes an echo service on `n` and calls it from `from`.
  caf::error call_echo(node& from, node& n) {
    auto stats = std::make_shared<troupe::testing::service_stats>();
    auto echo = sys.spawn(troupe::testing::echo_service, n.id(), stats);
    REQUIRE(!n.publish(echo, "echo"));
    auto proxy = from.remote_actor("echo", "127.0.0.1", n.port());
    caf::error err;
    if (!proxy) {
      err = proxy.error();
    } else {
      auto r = call<Answer>(*proxy, 5000ms, troupe::testing::full_call());
      err = r.error;
      if (!err)
        CHECK(r.value->handled_by() == n.id());
    }
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
    return err;
  }
};

} // namespace

TEST_CASE_METHOD(tls_fixture, "mutual TLS nodes of one CA connect and answer requests",
                 "[transport][tls]") {
  auto a = start(pki().config("node"));
  auto b = start(pki().config("node"));
  CHECK(!call_echo(a, b));
  CHECK(!call_echo(b, a)); // the other way round, on the same connection
}

TEST_CASE_METHOD(tls_fixture, "the HMAC secret keeps authenticating inside TLS",
                 "[transport][tls][auth]") {
  auto cfg = pki().config("node");
  cfg.secret = "correct horse";
  auto a = start(cfg);
  auto b = start(cfg);
  cfg.secret = "battery staple";
  auto c = start(cfg);
  CHECK(!call_echo(a, b));
  auto refused = c.connect("127.0.0.1", b.port());
  CHECK(refused.error() == transport_errc::auth_failed);
}

TEST_CASE_METHOD(tls_fixture, "a TLS node and a plaintext node refuse each other, both ways",
                 "[transport][tls]") {
  auto secure = start(pki().config("node"));
  auto plain = start(fast_config());
  SECTION("a plaintext peer dials a TLS node: refused with the node's reason") {
    auto r = plain.connect("127.0.0.1", secure.port());
    REQUIRE(r.error() == transport_errc::tls_mismatch);
    CHECK(says(r.error(), "requires TLS"));
  }
  SECTION("a TLS peer dials a plaintext node") {
    auto r = secure.connect("127.0.0.1", plain.port());
    REQUIRE(r.error() == transport_errc::tls_mismatch);
    CHECK(says(r.error(), "does not answer in TLS"));
  }
  // Either way the refusing node goes on serving its own kind.
  auto other_secure = start(pki().config("node"));
  CHECK(!call_echo(other_secure, secure));
  auto other_plain = start(fast_config());
  CHECK(!call_echo(other_plain, plain));
}

TEST_CASE_METHOD(tls_fixture, "an expired certificate is refused with tls_failed and why",
                 "[transport][tls]") {
  SECTION("the accepting node's: the dialer refuses it") {
    auto server = start(pki().config("expired", tls_verify::peer));
    auto client = start(pki().config("node", tls_verify::peer));
    auto r = client.connect("127.0.0.1", server.port());
    REQUIRE(r.error() == transport_errc::tls_failed);
    CHECK(says(r.error(), "certificate has expired"));
  }
  SECTION("the dialer's, under mutual TLS: the accepting node refuses it") {
    auto server = start(pki().config("node"));
    auto client = start(pki().config("expired"));
    auto r = client.connect("127.0.0.1", server.port());
    REQUIRE(r.error() == transport_errc::tls_failed);
    CHECK(says(r.error(), "expired"));
  }
}

TEST_CASE_METHOD(tls_fixture, "a certificate from another CA is refused with tls_failed",
                 "[transport][tls]") {
  SECTION("the accepting node's") {
    auto server = start(pki().config("stranger"));
    auto client = start(pki().config("node"));
    auto r = client.connect("127.0.0.1", server.port());
    REQUIRE(r.error() == transport_errc::tls_failed);
    CHECK(says(r.error(), "unable to get local issuer certificate"));
  }
  SECTION("the dialer's, under mutual TLS") {
    auto server = start(pki().config("node"));
    auto client = start(pki().config("stranger"));
    auto r = client.connect("127.0.0.1", server.port());
    CHECK(r.error() == transport_errc::tls_failed);
  }
  SECTION("verify = peer: the accepting node asks no certificate of the dialer") {
    auto server = start(pki().config("node", tls_verify::peer));
    auto client = start(pki().config("stranger", tls_verify::none));
    CHECK(!call_echo(client, server));
  }
  SECTION("verify = none: encrypted, nothing checked") {
    auto server = start(pki().config("stranger", tls_verify::none));
    auto client = start(pki().config("node", tls_verify::none));
    CHECK(!call_echo(client, server));
  }
}

TEST_CASE_METHOD(tls_fixture, "a certificate that names another address is refused",
                 "[transport][tls]") {
  auto server = start(pki().config("elsewhere", tls_verify::peer));
  auto client = start(pki().config("node", tls_verify::peer));
  auto r = client.connect("127.0.0.1", server.port());
  REQUIRE(r.error() == transport_errc::tls_failed);
  CHECK(says(r.error(), "IP address mismatch"));
}

TEST_CASE_METHOD(tls_fixture, "a large message crosses TLS intact", "[transport][tls]") {
  // The default liveness bounds: fast_config's 400 ms peer timeout is less
  // than encrypting 4 MiB takes in a sanitizer build, and heartbeats queue
  // behind the message on the one connection.
  auto cfg = pki().config("node");
  cfg.heartbeat_interval = 1s;
  cfg.peer_timeout = 5s;
  auto a = start(cfg);
  auto b = start(cfg);
  auto stats = std::make_shared<troupe::testing::service_stats>();
  auto echo = sys.spawn(troupe::testing::echo_service, b.id(), stats);
  REQUIRE(!b.publish(echo, "echo"));
  auto proxy = a.remote_actor("echo", "127.0.0.1", b.port());
  REQUIRE(proxy);
  auto big = troupe::testing::full_call();
  std::string blob(4u * 1024u * 1024u, '\0');
  for (size_t i = 0; i < blob.size(); ++i)
    blob[i] = static_cast<char>(i * 7919 % 251);
  big.set_blob(blob);
  auto r = call<Answer>(*proxy, 10000ms, big);
  REQUIRE(r.value);
  CHECK(r.value->echo().blob() == blob);
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(tls_fixture,
                 "a peer that never finishes its TLS handshake is closed and costs "
                 "nothing after",
                 "[transport][tls][limits]") {
  auto baseline = troupe::transport::live_io_runtimes();
  auto cfg = pki().config("node");
  cfg.max_connections = 2;
  cfg.max_connections_per_address = 2;
  SECTION("silent after TCP connect, or stalled after the first TLS bytes") {
    cfg.handshake_timeout = 300ms;
    auto secure = start(cfg);
    troupe::testing::raw_peer silent{secure.port()};
    troupe::testing::raw_peer stalled{secure.port()};
    REQUIRE(silent.connected());
    REQUIRE(stalled.connected());
    REQUIRE(stalled.write(std::string{"\x16\x03\x01", 3}));
    // Both are closed by the handshake timeout (the node keeps no socket).
    CHECK(silent.wait_closed(5000ms));
    CHECK(stalled.wait_closed(5000ms));
    // Their slots are free again: a real peer gets in.
    auto client = start(pki().config("node"));
    CHECK(!call_echo(client, secure));
  }
  SECTION("over max_connections, a TLS dialer reads the refusal's reason") {
    auto secure = start(cfg); // the two idle peers keep their slots for 3 s
    troupe::testing::raw_peer one{secure.port()};
    troupe::testing::raw_peer two{secure.port()};
    REQUIRE(one.connected());
    REQUIRE(two.connected());
    auto client = start(pki().config("node"));
    auto r = client.connect("127.0.0.1", secure.port());
    CHECK(r.error() == transport_errc::too_many_connections);
  }
  SECTION("a node that stops during a TLS handshake leaves nothing behind") {
    {
      auto secure = start(cfg);
      troupe::testing::raw_peer stalled{secure.port()};
      REQUIRE(stalled.connected());
      REQUIRE(stalled.write(std::string{"\x16\x03\x01", 3}));
      secure.stop();
      CHECK(stalled.wait_closed(5000ms));
    }
    auto until = std::chrono::steady_clock::now() + troupe::testing::hang_bound;
    while (troupe::transport::live_io_runtimes() > baseline
           && std::chrono::steady_clock::now() < until)
      std::this_thread::yield();
    CHECK(troupe::transport::live_io_runtimes() == baseline);
  }
}

TEST_CASE_METHOD(tls_fixture, "wrong TLS settings fail node::start with invalid_config",
                 "[transport][tls][config]") {
  SECTION("listening without a certificate") {
    auto cfg = pki().config("node");
    cfg.tls.certificate_file.clear();
    auto n = node::start(sys, cfg);
    REQUIRE(n.error() == transport_errc::invalid_config);
    CHECK(says(n.error(), "certificate_file"));
  }
  SECTION("checking certificates without a CA") {
    auto cfg = pki().config("node", tls_verify::peer);
    cfg.tls.ca_file.clear();
    auto n = node::start(sys, cfg);
    REQUIRE(n.error() == transport_errc::invalid_config);
    CHECK(says(n.error(), "ca_file"));
  }
  SECTION("a file that does not exist, named in the error") {
    auto cfg = pki().config("node");
    cfg.tls.certificate_file = pki().path("missing.crt");
    auto n = node::start(sys, cfg);
    REQUIRE(n.error() == transport_errc::invalid_config);
    CHECK(says(n.error(), "missing.crt"));
  }
  SECTION("a key that belongs to another certificate") {
    auto cfg = pki().config("node");
    cfg.tls.private_key_file = pki().path("stranger.key");
    auto n = node::start(sys, cfg);
    REQUIRE(n.error() == transport_errc::invalid_config);
    CHECK(says(n.error(), "stranger.key"));
  }
}
