// The dashboard in a real browser: headless Chromium (Debian's `chromium`)
// loads / from a running node; the rendered DOM must show the supervisors
// and children with their restart counts and the restart events. A
// screenshot is written next to the test binary (dashboard.png).

#include <catch2/catch.hpp>

#include <cstdlib>

#include <troupe/observability/endpoint.hpp>

#include "observed_tree.hpp"
#include "run_process.hpp"

using namespace std::chrono_literals;
using troupe::observability::endpoint;
using troupe::observability::endpoint_config;

namespace {

/// Headless Chromium with a scratch profile; `what` is --dump-dom or
/// --screenshot=<file>. --virtual-time-budget runs the page's scripts until
/// its first draw (the tree and the kept events, fetched) is done; the page
/// opens its live event stream only after that (virtual time would wait for
/// an open stream forever).
troupe::testing::process_result chromium(const std::string& url, const std::string& what) {
  char tmpl[] = "/tmp/troupe-chromium-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  auto r = troupe::testing::run_process(
    {TROUPE_CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
     "--disable-extensions", "--hide-scrollbars", std::string{"--user-data-dir="} + tmpl,
     "--window-size=1280,900", "--virtual-time-budget=1500", what, url},
    120s);
  troupe::testing::run_process({"rm", "-rf", tmpl}, 30s);
  return r;
}

} // namespace

TEST_CASE_METHOD(troupe::testing::observed_tree,
                 "headless Chromium renders the live tree and a forced restart",
                 "[observability][dashboard][browser]") {
  REQUIRE(drained());
  auto started =
    endpoint::start(sys, endpoint_config{}, {{root, node->supervisor()}, &*node, {}});
  REQUIRE(started);
  auto& ep = *started;
  // Walk the tree once (the hub subscribes), then restart the worker twice:
  // the page must show both in the tree and in its event list.
  REQUIRE(
    troupe::testing::run_process({TROUPE_PYTHON3, "-c",
                                  "import urllib.request,sys;"
                                  "urllib.request.urlopen(sys.argv[1],timeout=30).read()",
                                  ep->url() + "/api/tree"},
                                 60s)
      .exit_code
    == 0);
  crash_worker(2);
  auto dom = chromium(ep->url() + "/", "--dump-dom");
  INFO(dom.output.substr(0, 4000));
  REQUIRE_FALSE(dom.timed_out);
  REQUIRE(dom.exit_code == 0);
  auto& html = dom.output;
  CHECK(html.find("<body data-loaded=\"yes\"") != std::string::npos);
  CHECK(html.find("id=\"events\" data-loaded=\"yes\"") != std::string::npos);
  CHECK(html.find("data-supervisor=\"demo\"") != std::string::npos);
  CHECK(html.find("data-supervisor=\"demo/orders\"") != std::string::npos);
  CHECK(html.find("data-path=\"demo/worker\" data-status=\"running\" data-restarts=\"2\"")
        != std::string::npos);
  CHECK(html.find("data-path=\"demo/orders/sink\"") != std::string::npos);
  CHECK(html.find("data-kind=\"restarting\" data-path=\"demo/worker\"") != std::string::npos);
  CHECK(html.find("credit out") != std::string::npos); // the source's gauge
  auto png = std::string{TROUPE_TEST_ARTIFACTS} + "/dashboard.png";
  auto shot = chromium(ep->url() + "/", "--screenshot=" + png);
  INFO(shot.output.substr(0, 2000));
  CHECK(shot.exit_code == 0);
  CHECK(troupe::testing::run_process({"test", "-s", png}, 10s).exit_code == 0);
}
