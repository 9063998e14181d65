// http_get: real GETs over loopback against troupe::testing::http_test_server.
//
// Every wait is bounded (futures / condition variables with a timeout); no
// test sleeps for a fixed time.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/make_message.hpp>

#include <troupe/actors/fetch_errc.hpp>
#include <troupe/actors/flow_errc.hpp>
#include <troupe/http/http_get.hpp>
#include <troupe/http/http_message.hpp>
#include <troupe/testing/http_test_server.hpp>

using namespace std::chrono_literals;
using troupe::actors::fetch_errc;
using troupe::actors::flow_errc;
using troupe::http::http_get;
using troupe::http::http_request;
using troupe::http::http_response;
using troupe::testing::http_test_server;

namespace {

using result = caf::expected<http_response>;

/// Generous: only a hung implementation should ever reach it.
constexpr auto wait_limit = 10s;

/// A `done` that fulfils a future, for tests waiting on one attempt.
struct one_result {
  std::shared_ptr<std::promise<result>> promise = std::make_shared<std::promise<result>>();
  std::future<result> future = promise->get_future();

  troupe::actors::completion<http_response> done() {
    return [p = promise](result r) { p->set_value(std::move(r)); };
  }

  /// Waits for the outcome; fails the test on timeout.
  result get() {
    REQUIRE(future.wait_for(wait_limit) == std::future_status::ready);
    return future.get();
  }
};

/// Collects the outcomes of many attempts by id.
class many_results {
public:
  troupe::actors::completion<http_response> done(uint64_t id) {
    return [this, id](result r) {
      std::lock_guard<std::mutex> lock{mtx_};
      results_.emplace(id, std::move(r));
      cv_.notify_all();
    };
  }

  /// Waits until `n` outcomes arrived; false on timeout.
  bool wait_for(size_t n) {
    std::unique_lock<std::mutex> lock{mtx_};
    return cv_.wait_for(lock, wait_limit, [&] { return results_.size() >= n; });
  }

  std::map<uint64_t, result> take() {
    std::lock_guard<std::mutex> lock{mtx_};
    return std::move(results_);
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  std::map<uint64_t, result> results_;
};

/// Runs one GET and returns its outcome.
result fetch(http_get& get, const std::string& url, troupe::http::http_headers headers = {}) {
  static std::atomic<uint64_t> next_id{1};
  one_result r;
  get.start(next_id++, http_request{url, std::move(headers)}, r.done());
  return r.get();
}

/// Returns the value of header `name` (case-insensitive), or "".
std::string header(const http_response& res, std::string name) {
  auto lower = [](std::string x) {
    std::transform(x.begin(), x.end(), x.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return x;
  };
  name = lower(name);
  for (auto& [key, value] : res.headers)
    if (lower(key) == name)
      return value;
  return {};
}

/// A TCP port on 127.0.0.1 that is bound but not listening: connecting to
/// it is refused, and nobody else can take it while this object lives.
class closed_port {
public:
  closed_port() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0
        && ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port_ = ntohs(addr.sin_port);
  }
  ~closed_port() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  uint16_t port() const {
    return port_;
  }

private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

/// Runs `f` on its own thread and returns whether it returned within
/// `wait_limit`, a bound only a hang reaches. If it did not, `unblock` runs
/// (it must let `f` return) before the thread is joined.
template <class F, class G>
bool returns_without_hanging(F f, G unblock) {
  std::promise<void> returned;
  auto done = returned.get_future();
  std::thread t{[&] {
    f();
    returned.set_value();
  }};
  auto ok = done.wait_for(wait_limit) == std::future_status::ready;
  if (!ok)
    unblock();
  t.join();
  return ok;
}

} // namespace

TEST_CASE("a GET of /ok completes with status 200, the body and the headers", "[http]") {
  http_test_server server;
  REQUIRE(server.port() != 0);
  http_get get;
  REQUIRE(!get.init_error());
  auto r = fetch(get, server.url("/ok"));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == "ok");
  CHECK(header(*r, "X-Test") == "ok");
  CHECK(get.started() == 1);
  CHECK(get.completed() == 1);
  CHECK(get.in_flight() == 0);
}

TEST_CASE("an error status fails with http_status carrying the status and the URL", "[http]") {
  http_test_server server;
  REQUIRE(server.port() != 0);
  http_get get;
  auto code = GENERATE(500, 404);
  auto url = server.url("/status?code=" + std::to_string(code));
  auto r = fetch(get, url);
  REQUIRE(!r);
  CHECK(r.error() == caf::make_error(fetch_errc::http_status));
  auto& ctx = r.error().context();
  REQUIRE(ctx.match_elements<int64_t, std::string>());
  CHECK(ctx.get_as<int64_t>(0) == code);
  CHECK(ctx.get_as<std::string>(1) == url);
}

TEST_CASE("a host name is resolved before connecting", "[http]") {
  http_test_server server;
  REQUIRE(server.port() != 0);
  http_get get;
  auto r = fetch(get, "http://localhost:" + std::to_string(server.port()) + "/ok");
  REQUIRE(r);
  CHECK(r->body == "ok");
}

TEST_CASE("an unresolvable host fails with connect_failed", "[http]") {
  http_get get;
  // .invalid never resolves (RFC 6761); the resolver answers locally.
  auto r = fetch(get, "http://no-such-host.invalid/ok");
  REQUIRE(!r);
  CHECK(r.error() == caf::make_error(fetch_errc::connect_failed));
}

TEST_CASE("a 2xx status other than 200 is a response", "[http]") {
  http_test_server server;
  http_get get;
  auto r = fetch(get, server.url("/status?code=201"));
  REQUIRE(r);
  CHECK(r->status == 201);
  CHECK(r->body == "status 201");
}

TEST_CASE("a closed port on 127.0.0.1 fails with connect_failed", "[http]") {
  closed_port closed;
  REQUIRE(closed.port() != 0);
  http_get get;
  auto url = "http://127.0.0.1:" + std::to_string(closed.port()) + "/ok";
  auto r = fetch(get, url);
  REQUIRE(!r);
  CHECK(r.error() == caf::make_error(fetch_errc::connect_failed));
  auto& ctx = r.error().context();
  REQUIRE(ctx.match_elements<std::string, std::string>());
  CHECK(ctx.get_as<std::string>(1) == url);
}

TEST_CASE("redirects are followed up to max_redirects", "[http]") {
  http_test_server server;
  REQUIRE(server.port() != 0);
  http_get::config cfg;
  cfg.max_redirects = 3;
  http_get get{cfg};
  SECTION("one redirect lands on /ok") {
    auto r = fetch(get, server.url("/redirect"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "ok");
    CHECK(header(*r, "Location").empty()); // only the final response's headers
    CHECK(r->url == server.url("/ok"));    // where relative links resolve
  }
  SECTION("a chain of max_redirects is followed") {
    auto r = fetch(get, server.url("/redirect?n=3"));
    REQUIRE(r);
    CHECK(r->body == "ok");
    CHECK(r->url == server.url("/ok"));
  }
  SECTION("a longer chain fails with transfer_failed") {
    auto r = fetch(get, server.url("/redirect?n=4"));
    REQUIRE(!r);
    CHECK(r.error() == caf::make_error(fetch_errc::transfer_failed));
  }
}

TEST_CASE("with max_redirects 0 the 3xx response itself is returned", "[http]") {
  http_test_server server;
  http_get::config cfg;
  cfg.max_redirects = 0;
  http_get get{cfg};
  auto r = fetch(get, server.url("/redirect"));
  REQUIRE(r);
  CHECK(r->status == 302);
  CHECK(header(*r, "Location") == "/ok");
  CHECK(r->url == server.url("/redirect")); // not followed: still the request's
}

TEST_CASE("a body larger than max_body_size fails with transfer_failed", "[http]") {
  http_test_server server;
  REQUIRE(server.port() != 0);
  http_get::config cfg;
  cfg.max_body_size = 1000;
  http_get get{cfg};
  SECTION("a body of exactly max_body_size is fine") {
    auto r = fetch(get, server.url("/big?bytes=1000"));
    REQUIRE(r);
    CHECK(r->body.size() == 1000);
  }
  SECTION("Content-Length above the limit") {
    auto r = fetch(get, server.url("/big?bytes=5000"));
    REQUIRE(!r);
    CHECK(r.error() == caf::make_error(fetch_errc::transfer_failed));
  }
  SECTION("a compressed body that decodes above the limit") {
    auto r = fetch(get, server.url("/big?bytes=200000&text=1"));
    REQUIRE(!r);
    CHECK(r.error() == caf::make_error(fetch_errc::transfer_failed));
  }
}

TEST_CASE("compressed bodies arrive decoded", "[http]") {
  http_test_server server;
  http_get get;
  auto r = fetch(get, server.url("/big?bytes=100000&text=1"));
  REQUIRE(r);
  CHECK(!header(*r, "Content-Encoding").empty());
  CHECK(r->body == std::string(100000, 'x'));
}

TEST_CASE("accept_encoding identity asks for bodies as they are", "[http]") {
  http_test_server server;
  http_get::config cfg;
  cfg.accept_encoding = "identity";
  http_get get{cfg};
  auto r = fetch(get, server.url("/big?bytes=100000&text=1"));
  REQUIRE(r);
  CHECK(header(*r, "Content-Encoding").empty());
  CHECK(r->body == std::string(100000, 'x'));
  auto sent = fetch(get, server.url("/echo?header=Accept-Encoding"));
  REQUIRE(sent);
  CHECK(sent->body == "identity");
}

TEST_CASE("request headers and the user agent are sent", "[http]") {
  http_test_server server;
  http_get::config cfg;
  cfg.user_agent = "troupe-test-agent";
  http_get get{cfg};
  SECTION("a custom header") {
    auto r = fetch(get, server.url("/echo?header=X-Probe"), {{"X-Probe", "hello"}});
    REQUIRE(r);
    CHECK(r->body == "hello");
  }
  SECTION("the configured user agent") {
    auto r = fetch(get, server.url("/echo?header=User-Agent"));
    REQUIRE(r);
    CHECK(r->body == "troupe-test-agent");
  }
  SECTION("a header with a line break is refused") {
    auto r = fetch(get, server.url("/ok"), {{"X-Bad", "a\r\nX-Injected: 1"}});
    REQUIRE(!r);
    CHECK(r.error() == caf::make_error(fetch_errc::transfer_failed));
  }
}

TEST_CASE("curl's own timeout fails with attempt_timeout", "[http]") {
  http_test_server server;
  REQUIRE(server.port() != 0);
  http_get::config cfg;
  cfg.total_timeout = 200ms;
  http_get get{cfg};
  // fetch waits at most wait_limit; without the 200 ms timeout the attempt
  // would run for the default 5 min.
  auto r = fetch(get, server.url("/hang"));
  REQUIRE(!r);
  CHECK(r.error() == caf::make_error(fetch_errc::attempt_timeout));
}

TEST_CASE("a cancelled /hang never completes and the destructor returns promptly", "[http]") {
  http_test_server server;
  REQUIRE(server.port() != 0);
  std::atomic<int> hang_calls{0};
  auto get = std::make_unique<http_get>();
  get->start(1, {server.url("/hang"), {}}, [&](result) { ++hang_calls; });
  REQUIRE(server.wait_for_concurrency(1, wait_limit));
  get->cancel(1);
  // The loop runs jobs in order: once a later attempt completes, the cancel
  // has run.
  auto r = fetch(*get, server.url("/ok"));
  REQUIRE(r);
  CHECK(get->cancelled() == 1);
  CHECK(get->completed() == 1);
  CHECK(get->in_flight() == 0);
  // Returns while /hang is still unanswered: it waits for no transfer.
  CHECK(returns_without_hanging([&] { get.reset(); }, [&] { server.stop(); }));
  CHECK(server.current_concurrency() == 1);
  CHECK(hang_calls == 0);
  server.stop(); // wakes the handler still waiting in /hang
  CHECK(hang_calls == 0);
}

TEST_CASE("the destructor drops attempts in flight without calling done", "[http]") {
  http_test_server server;
  REQUIRE(server.port() != 0);
  std::atomic<int> calls{0};
  auto get = std::make_unique<http_get>();
  for (uint64_t id = 1; id <= 3; ++id)
    get->start(id, {server.url("/hang"), {}}, [&](result) { ++calls; });
  REQUIRE(server.wait_for_concurrency(3, wait_limit));
  CHECK(get->in_flight() == 3);
  // Returns while the three are still unanswered: it waits for none.
  CHECK(returns_without_hanging([&] { get.reset(); }, [&] { server.stop(); }));
  CHECK(server.current_concurrency() == 3);
  CHECK(calls == 0);
}

TEST_CASE("twenty concurrent GETs all complete and overlap at the server", "[http]") {
  http_test_server server;
  REQUIRE(server.port() != 0);
  many_results results;
  http_get get;
  constexpr uint64_t n = 20;
  for (uint64_t id = 1; id <= n; ++id)
    get.start(id, {server.url("/delay?ms=300"), {}}, results.done(id));
  // start only posts: every start returned before any response can exist.
  CHECK(get.started() == n);
  CHECK(get.completed() == 0);
  REQUIRE(results.wait_for(n));
  auto all = results.take();
  REQUIRE(all.size() == n);
  for (auto& [id, r] : all) {
    INFO("attempt " << id);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "delayed");
  }
  INFO("max concurrency at the server: " << server.max_concurrency());
  CHECK(server.max_concurrency() > 1);
  CHECK(server.total_requests() == n);
  CHECK(get.completed() == n);
  CHECK(get.in_flight() == 0);
}

TEST_CASE("sequential GETs reuse one kept-alive connection", "[http]") {
  http_test_server server;
  REQUIRE(server.port() != 0);
  http_get get;
  for (int i = 0; i < 5; ++i)
    REQUIRE(fetch(get, server.url("/ok")));
  CHECK(server.total_requests() == 5);
  CHECK(server.connections() == 1);
}

TEST_CASE("the counters track started, completed, cancelled and in-flight attempts",
          "[http]") {
  http_test_server server;
  REQUIRE(server.port() != 0);
  many_results results;
  http_get get;
  get.start(1, {server.url("/ok"), {}}, results.done(1));
  get.start(2, {server.url("/status?code=500"), {}}, results.done(2));
  get.start(3, {server.url("/hang"), {}}, results.done(3));
  get.start(4, {server.url("/delay?ms=10"), {}}, results.done(4));
  CHECK(get.started() == 4);
  REQUIRE(results.wait_for(3));
  CHECK(get.in_flight() == 1); // /hang
  CHECK(get.completed() == 3);
  get.cancel(3);
  get.cancel(99); // unknown ids are ignored
  REQUIRE(fetch(get, server.url("/ok")));
  CHECK(get.started() == 5);
  CHECK(get.completed() == 4);
  CHECK(get.cancelled() == 1);
  CHECK(get.in_flight() == 0);
  CHECK(results.take().count(3) == 0);
}

TEST_CASE("a duplicate attempt id fails without disturbing the first", "[http]") {
  http_test_server server;
  http_get get;
  many_results results;
  get.start(7, {server.url("/delay?ms=200"), {}}, results.done(1));
  get.start(7, {server.url("/ok"), {}}, results.done(2));
  REQUIRE(results.wait_for(2));
  auto all = results.take();
  REQUIRE(all.at(1));
  CHECK(all.at(1)->body == "delayed");
  REQUIRE(!all.at(2));
  CHECK(all.at(2).error() == caf::make_error(fetch_errc::transfer_failed));
}

TEST_CASE("invalid http_get settings are refused", "[http]") {
  http_get::config cfg;
  CHECK(!cfg.validate());
  SECTION("connect_timeout") {
    cfg.connect_timeout = 0s;
  }
  SECTION("total_timeout") {
    cfg.total_timeout = 500us;
  }
  SECTION("max_body_size") {
    cfg.max_body_size = 0;
  }
  SECTION("user_agent") {
    cfg.user_agent = "x\r\nX-Injected: 1";
  }
  CHECK(cfg.validate() == caf::make_error(flow_errc::invalid_config));
  auto made = http_get::make(cfg);
  REQUIRE(!made);
  CHECK(made.error() == caf::make_error(flow_errc::invalid_config));
  // Constructed anyway, it fails every attempt with the same error.
  http_get get{cfg};
  CHECK(get.init_error() == caf::make_error(flow_errc::invalid_config));
  auto r = fetch(get, "http://127.0.0.1:1/ok");
  REQUIRE(!r);
  CHECK(r.error() == caf::make_error(flow_errc::invalid_config));
}

TEST_CASE("make returns a working operation for a valid config", "[http]") {
  http_test_server server;
  auto made = http_get::make({});
  REQUIRE(made);
  auto r = fetch(**made, server.url("/ok"));
  REQUIRE(r);
  CHECK(r->body == "ok");
}

TEST_CASE("http messages travel in CAF messages and survive a binary round trip", "[http]") {
  http_request req{"http://example.invalid/x", {{"A", "1"}, {"B", ""}}};
  http_response res{200, "body", {{"Content-Type", "text/plain"}}, "http://example.invalid/y"};
  auto msg = caf::make_message(req, res);
  REQUIRE(msg.match_elements<http_request, http_response>());
  CHECK(msg.get_as<http_request>(0) == req);
  CHECK(caf::deep_to_string(req).find("example.invalid") != std::string::npos);
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  REQUIRE(!sink(req, res));
  http_request req2;
  http_response res2;
  caf::binary_deserializer source{nullptr, buf};
  REQUIRE(!source(req2, res2));
  CHECK(req2 == req);
  CHECK(res2 == res);
}

TEST_CASE("an HTTP request's fetch key is its origin with the port spelled out",
          "[http][keys]") {
  using troupe::http::fetch_key;
  using troupe::http::http_request;
  CHECK(fetch_key(http_request{"http://Example.ORG/a?b", {}}) == "http://example.org:80");
  CHECK(fetch_key(http_request{"http://example.org:80/x", {}}) == "http://example.org:80");
  CHECK(fetch_key(http_request{"https://127.0.0.1:8443/", {}}) == "https://127.0.0.1:8443");
  CHECK(fetch_key(http_request{"not a url", {}}) == "not a url");
}
