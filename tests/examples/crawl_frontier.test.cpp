// The crawler's frontier: de-duplication, scope, leases given back when a
// stream ends, late and duplicate reports, poison URLs, pages put off by an
// open circuit.

#include <catch2/catch.hpp>

#include <crawl_frontier.hpp>

#include <troupe/actors/fetch_errc.hpp>
#include <troupe/services/rpc_errc.hpp>
#include <troupe/transport/wire_error.hpp>

using troupe::actors::pull_status;
using namespace crawler;

namespace {

const std::string site = "http://127.0.0.1:8080";

/// No grace, no delay: a URL given back or put off goes out again at once
/// (the grace and the delay have tests of their own).
frontier_config config() {
  frontier_config cfg;
  cfg.origins = {"http://127.0.0.1:8080"};
  cfg.requeue_grace = std::chrono::milliseconds{0};
  cfg.defer_delay = std::chrono::milliseconds{0};
  return cfg;
}

/// A report of a page its fetcher did not try: its host's breaker was open.
v1::PageReport not_tried(const std::string& url, const std::string& fetcher = {}) {
  v1::PageReport r;
  r.set_url(url);
  r.set_fetcher(fetcher);
  r.set_ok(false);
  troupe::transport::to_wire_error(caf::make_error(troupe::actors::fetch_errc::circuit_open),
                                   "trp_fetch:circuit_open", *r.mutable_error());
  return r;
}

v1::PageReport page(const std::string& url, std::vector<std::string> links = {},
                    bool ok = true) {
  v1::PageReport r;
  r.set_url(url);
  r.set_ok(ok);
  if (!ok)
    troupe::transport::to_wire_error(
      caf::make_error(troupe::actors::fetch_errc::http_status, "500 " + url),
      "trp_fetch:http_status (500)", *r.mutable_error());
  for (auto& l : links)
    r.add_links(l);
  return r;
}

std::vector<std::string> take(crawl_frontier& f, uint64_t lease, size_t n,
                              pull_status* status = nullptr) {
  std::vector<v1::Url> out;
  auto st = f.take(lease, n, out);
  if (status)
    *status = st;
  std::vector<std::string> urls;
  for (auto& u : out)
    urls.push_back(u.url());
  return urls;
}

} // namespace

TEST_CASE("links are crawled once, in scope and within the budget", "[examples][crawler]") {
  auto cfg = config();
  cfg.max_pages = 3;
  crawl_frontier f{cfg};
  f.seed(site + "/p/0");
  auto lease = f.open_lease();
  CHECK(take(f, lease, 10) == std::vector<std::string>{site + "/p/0"});
  auto added = f.report(page(site + "/p/0",
                             {site + "/p/1", site + "/p/1", site + "/p/0",
                              "http://elsewhere:80/x", site + "/p/2", site + "/p/3"}));
  REQUIRE(added);
  CHECK(added->new_urls
        == 2); // p/1 once, p/2; p/0 known; elsewhere out of scope; p/3 over budget
  CHECK(!added->deferred);
  auto p = f.progress();
  CHECK(p.known == 3);
  CHECK(p.out_of_scope == 1);
  CHECK(p.over_budget == 1);
  CHECK(take(f, lease, 10) == std::vector<std::string>{site + "/p/1", site + "/p/2"});
  REQUIRE(f.report(page(site + "/p/1")));
  // A failure must say why, typed: one without a code is refused.
  auto untyped = page(site + "/p/2");
  untyped.set_ok(false);
  CHECK(f.report(untyped).error()
        == caf::make_error(troupe::services::rpc_errc::invalid_argument));
  REQUIRE(f.report(page(site + "/p/2", {}, false)));
  p = f.progress();
  CHECK(p.crawled == 2);
  CHECK(p.failed == 1);
  CHECK(p.failed_by_reason == std::map<std::string, uint64_t>{{"trp_fetch:http_status", 1}});
  CHECK(p.finished);
  pull_status st;
  CHECK(take(f, lease, 10, &st).empty());
  CHECK(st == pull_status::done);
}

TEST_CASE("a stream that ends gives its unreported URLs back, first in line",
          "[examples][crawler]") {
  crawl_frontier f{config()};
  f.seed(site + "/p/0");
  auto a = f.open_lease();
  take(f, a, 1);
  REQUIRE(f.report(page(site + "/p/0", {site + "/p/1", site + "/p/2", site + "/p/3"})));
  CHECK(take(f, a, 2) == std::vector<std::string>{site + "/p/1", site + "/p/2"});
  pull_status st;
  auto b = f.open_lease();
  take(f, b, 0, &st);
  CHECK(st == pull_status::more); // p/3 waits
  f.close_lease(a);               // a's fetcher died holding p/1 and p/2
  CHECK(f.progress().requeued == 2);
  auto again = take(f, b, 3);
  REQUIRE(again.size() == 3);
  CHECK(again[2] == site + "/p/3"); // the given-back ones first
  CHECK(!f.progress().finished);
}

TEST_CASE("a report that arrives after its stream gave the URL back is not crawled twice",
          "[examples][crawler]") {
  crawl_frontier f{config()};
  f.seed(site + "/p/0");
  auto a = f.open_lease();
  take(f, a, 1);
  f.close_lease(a);                                        // the stream ended first...
  REQUIRE(f.report(page(site + "/p/0", {site + "/p/1"}))); // ...then its report came
  auto b = f.open_lease();
  // p/0 is done: not handed out again, and its lease is gone.
  CHECK(take(f, b, 10) == std::vector<std::string>{site + "/p/1"});
  REQUIRE(f.report(page(site + "/p/1")));
  auto p = f.progress();
  CHECK(p.finished); // no lease left behind
  CHECK(p.duplicates == 0);
  CHECK(p.crawled == 2);
}

TEST_CASE("a URL given back waits out its grace, and a report within it makes it done",
          "[examples][crawler]") {
  auto cfg = config();
  cfg.requeue_grace = std::chrono::hours{1};
  crawl_frontier f{cfg};
  f.seed(site + "/p/0");
  auto a = f.open_lease();
  take(f, a, 1);
  f.close_lease(a); // its fetcher died; its report is still on its way
  auto b = f.open_lease();
  pull_status st;
  CHECK(take(f, b, 10, &st).empty()); // not out again yet
  CHECK(st == pull_status::wait);
  CHECK(!f.progress().finished);
  REQUIRE(f.report(page(site + "/p/0"))); // the report lands within the grace
  auto p = f.progress();
  CHECK(p.finished);
  CHECK(p.crawled == 1);
  CHECK(p.duplicates == 0);
  CHECK(take(f, b, 10, &st).empty());
  CHECK(st == pull_status::done);
}

TEST_CASE("a second report of a URL is a duplicate and leaves no lease behind",
          "[examples][crawler]") {
  crawl_frontier f{config()};
  f.seed(site + "/p/0");
  auto a = f.open_lease();
  take(f, a, 1);
  REQUIRE(f.report(page(site + "/p/0")));
  REQUIRE(f.report(page(site + "/p/0")));
  auto p = f.progress();
  CHECK(p.duplicates == 1);
  CHECK(p.crawled == 1);
  CHECK(p.finished);
}

TEST_CASE("a report of a URL the crawl never handed out is refused", "[examples][crawler]") {
  crawl_frontier f{config()};
  f.seed(site + "/p/0");
  auto r = f.report(page(site + "/p/99"));
  REQUIRE(!r);
  CHECK(r.error() == caf::make_error(troupe::services::rpc_errc::failed_precondition));
  CHECK(f.progress().crawled == 0);
}

TEST_CASE("a URL whose fetchers keep dying on it becomes a dead letter",
          "[examples][crawler]") {
  auto cfg = config();
  cfg.max_deliveries = 2;
  crawl_frontier f{cfg};
  f.seed(site + "/p/0");
  for (int round = 0; round < 2; ++round) {
    auto lease = f.open_lease();
    CHECK(take(f, lease, 1) == std::vector<std::string>{site + "/p/0"});
    f.close_lease(lease); // the fetcher died on it
  }
  auto p = f.progress();
  CHECK(p.dead_letters == 1);
  CHECK(p.failed == 1);
  CHECK(p.finished);
}

TEST_CASE("a page not tried because its host's circuit was open goes out again later",
          "[examples][crawler]") {
  auto cfg = config();
  cfg.defer_delay = std::chrono::hours{1};
  crawl_frontier f{cfg};
  f.seed(site + "/p/0");
  auto a = f.open_lease();
  take(f, a, 1);
  auto r = f.report(not_tried(site + "/p/0"));
  REQUIRE(r);
  CHECK(r->deferred);
  auto p = f.progress();
  CHECK(p.deferred == 1);
  CHECK(p.failed == 0); // not failed for the crawl
  CHECK(p.leased == 0);
  CHECK(!p.finished);
  pull_status st;
  CHECK(take(f, a, 10, &st).empty()); // not before its delay
  CHECK(st == pull_status::wait);
  SECTION("once its delay is over, it goes out again and can be crawled") {
    crawl_frontier h{config()}; // no delay
    h.seed(site + "/p/0");
    auto b = h.open_lease();
    take(h, b, 1);
    REQUIRE(h.report(not_tried(site + "/p/0")));
    CHECK(take(h, b, 10) == std::vector<std::string>{site + "/p/0"});
    auto done = h.report(page(site + "/p/0"));
    REQUIRE(done);
    CHECK(!done->deferred);
    CHECK(h.progress().crawled == 1);
    CHECK(h.progress().finished);
  }
  SECTION("a report of it from another fetcher meanwhile makes it done") {
    REQUIRE(f.report(page(site + "/p/0")));
    CHECK(f.progress().crawled == 1);
    CHECK(f.progress().finished);
  }
}

TEST_CASE("a page put off max_deferrals times fails with circuit_open on the next",
          "[examples][crawler]") {
  auto cfg = config();
  cfg.max_deferrals = 2;
  crawl_frontier f{cfg};
  f.seed(site + "/p/0");
  auto a = f.open_lease();
  for (int i = 0; i < 2; ++i) {
    CHECK(take(f, a, 1) == std::vector<std::string>{site + "/p/0"});
    auto r = f.report(not_tried(site + "/p/0"));
    REQUIRE(r);
    CHECK(r->deferred);
  }
  CHECK(take(f, a, 1) == std::vector<std::string>{site + "/p/0"});
  auto r = f.report(not_tried(site + "/p/0"));
  REQUIRE(r);
  CHECK(!r->deferred);
  auto p = f.progress();
  CHECK(p.deferred == 2);
  CHECK(p.failed == 1);
  CHECK(p.failed_by_reason == std::map<std::string, uint64_t>{{"trp_fetch:circuit_open", 1}});
  CHECK(p.finished);
}

TEST_CASE("URLs given back go out in the order of their due times", "[examples][crawler]") {
  auto cfg = config();
  cfg.requeue_grace = std::chrono::hours{1};
  crawl_frontier f{cfg};
  f.seed(site + "/p/0");
  f.seed(site + "/p/1");
  auto a = f.open_lease();
  auto b = f.open_lease();
  CHECK(take(f, a, 1) == std::vector<std::string>{site + "/p/0"});
  CHECK(take(f, b, 1) == std::vector<std::string>{site + "/p/1"});
  f.close_lease(a);                            // p/0 due in an hour
  REQUIRE(f.report(not_tried(site + "/p/1"))); // p/1 due now, behind it in time order
  // p/1 is not held up behind p/0's grace.
  CHECK(take(f, b, 10) == std::vector<std::string>{site + "/p/1"});
}

TEST_CASE(
  "an open circuit reported by a fetcher that no longer holds the page changes nothing",
  "[examples][crawler]") {
  auto cfg = config();
  cfg.defer_delay = std::chrono::hours{1};
  crawl_frontier f{cfg};
  f.seed(site + "/p/0");
  auto a = f.open_lease("fetcher-a");
  CHECK(take(f, a, 1) == std::vector<std::string>{site + "/p/0"});
  f.close_lease(a); // a's stream ended; a lives on and reports later
  auto b = f.open_lease("fetcher-b");
  CHECK(take(f, b, 1) == std::vector<std::string>{site + "/p/0"});
  SECTION("while another fetcher holds it: its lease stays, nothing is put off") {
    auto r = f.report(not_tried(site + "/p/0", "fetcher-a"));
    REQUIRE(r);
    CHECK(r->deferred);
    auto p = f.progress();
    CHECK(p.deferred == 0);
    CHECK(p.leased == 1);  // still b's
    CHECK(p.waiting == 0); // not given back: it would go out twice
    REQUIRE(f.report(page(site + "/p/0")));
    CHECK(f.progress().crawled == 1);
    CHECK(f.progress().duplicates == 0);
    CHECK(f.progress().finished);
  }
  SECTION("after the page is done: no duplicate, it was not fetched") {
    REQUIRE(f.report(page(site + "/p/0")));
    REQUIRE(f.report(not_tried(site + "/p/0", "fetcher-a")));
    CHECK(f.progress().duplicates == 0);
    CHECK(f.progress().crawled == 1);
  }
  SECTION("the holder's own report puts it off") {
    auto r = f.report(not_tried(site + "/p/0", "fetcher-b"));
    REQUIRE(r);
    CHECK(r->deferred);
    CHECK(f.progress().deferred == 1);
    CHECK(f.progress().leased == 0);
    CHECK(f.progress().waiting == 1);
  }
}
