// troupe-crawl-site: the site the crawler crawls, generated and served by
// cpp-httplib on 127.0.0.1, one port per "host". Page i lives on host
// i % hosts at /p/<i> and links to i + 1 (so every page is reachable from
// /p/0) and to a few pseudo-random pages on any host, with the duplicates a
// real site has (the same link twice, a fragment, a relative form) and
// links out of the site (which the crawler must not follow). Some pages
// misbehave, by their number:
//   i % 97 == 13  fails with 500 every time           (the crawler: failed)
//   i % 89 == 7   hangs for --hang-ms before answering (failed: timeouts)
//   i % 53 == 5   fails with 500 the first time only   (crawled on a retry)
//   i % 41 == 9   redirects to /c/<i>                   (crawled, redirect)
//   i % 10 == 3   answers after --slow-ms
// Prints "PORTS <p0> <p1> ..." once it listens; GET /stats on any port
// answers "pages=<n> requests=<r> max_concurrent=<k> repeated=<pages asked
// more than once>"; exits on SIGTERM or SIGINT (bounded by --lifetime-s).

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "stop_signals.hpp" // examples/common
#include <httplib.h>

namespace {

struct site_options {
  uint32_t pages = 2000;
  uint32_t hosts = 4;
  uint32_t slow_ms = 20;
  uint32_t hang_ms = 1500;
  uint32_t threads = 64;
  uint32_t lifetime_s = 600;
};

bool parse(int argc, char** argv, site_options& opts) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos)
      return false;
    auto name = arg.substr(2, eq - 2);
    unsigned long value = 0;
    try {
      value = std::stoul(arg.substr(eq + 1));
    } catch (...) {
      return false;
    }
    auto v = static_cast<uint32_t>(value);
    if (name == "pages")
      opts.pages = v;
    else if (name == "hosts")
      opts.hosts = v;
    else if (name == "slow-ms")
      opts.slow_ms = v;
    else if (name == "hang-ms")
      opts.hang_ms = v;
    else if (name == "threads")
      opts.threads = v;
    else if (name == "lifetime-s")
      opts.lifetime_s = v;
    else
      return false;
  }
  return opts.pages > 0 && opts.hosts > 0 && opts.threads > 0;
}

class site {
public:
  explicit site(site_options opts) : opts_(opts), requests_(opts.pages) {
    for (auto& r : requests_)
      r.store(0);
  }

  void set_ports(std::vector<int> ports) {
    ports_ = std::move(ports);
  }

  void serve(const std::string& kind, uint32_t page, httplib::Response& res) {
    in_flight_guard guard{*this};
    auto asked = requests_[page].fetch_add(1) + 1;
    total_.fetch_add(1);
    if (kind == "p" && page % 41 == 9) {
      res.set_redirect("/c/" + std::to_string(page));
      return;
    }
    if (page % 97 == 13 || (page % 53 == 5 && asked == 1)) { // see fails()
      res.status = 500;
      res.set_content("internal error", "text/plain");
      return;
    }
    if (page % 89 == 7)
      std::this_thread::sleep_for(std::chrono::milliseconds(opts_.hang_ms));
    else if (page % 10 == 3)
      std::this_thread::sleep_for(std::chrono::milliseconds(opts_.slow_ms));
    res.set_content(html(page), "text/html");
  }

  std::string stats() const {
    uint64_t repeated = 0;
    for (auto& r : requests_)
      if (r.load() > 1)
        ++repeated;
    return "pages=" + std::to_string(opts_.pages)
      + " requests=" + std::to_string(total_.load()) + " max_concurrent="
      + std::to_string(max_concurrent_.load()) + " repeated=" + std::to_string(repeated);
  }

private:
  struct in_flight_guard {
    site& s;
    explicit in_flight_guard(site& x) : s(x) {
      auto now = s.in_flight_.fetch_add(1) + 1;
      auto seen = s.max_concurrent_.load();
      while (now > seen && !s.max_concurrent_.compare_exchange_weak(seen, now)) {
        // retry with the value another thread stored
      }
    }
    ~in_flight_guard() {
      s.in_flight_.fetch_sub(1);
    }
  };

  /// Pages that never answer in time or with success.
  static bool fails(uint32_t page) {
    return page % 97 == 13 || page % 89 == 7;
  }

  std::string url_of(uint32_t page) const {
    return "http://127.0.0.1:" + std::to_string(ports_[page % ports_.size()]) + "/p/"
      + std::to_string(page);
  }

  std::string html(uint32_t page) const {
    auto n = opts_.pages;
    std::string body = "<!doctype html><html><head><title>page " + std::to_string(page)
      + "</title></head><body><h1>Page " + std::to_string(page) + "</h1><ul>";
    auto link = [&](const std::string& href) {
      body += "<li><a href=\"" + href + "\">" + href + "</a></li>";
    };
    if (page + 1 < n) {
      auto next = url_of(page + 1);
      link(next);
      link(next + "#top"); // the same page again
      // Past a page that fails, so that every page is reachable from /p/0
      // through pages that do not.
      auto skip = page + 2;
      while (skip < n && fails(skip - 1))
        link(url_of(skip++));
    }
    uint64_t x = page * 2654435761ULL + 12345;
    for (int k = 0; k < 6; ++k) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      link(url_of(static_cast<uint32_t>((x >> 33) % n)));
    }
    // Relative: the same host's root page (a duplicate of a known URL when
    // the host serves /p/0), and links the crawler must not follow.
    link("/p/" + std::to_string(page % ports_.size()));
    link("http://example.invalid/elsewhere");
    link("mailto:someone@example.invalid");
    body += "</ul><p>" + std::string(512, 'x') + "</p></body></html>";
    return body;
  }

  site_options opts_;
  std::vector<int> ports_;
  std::vector<std::atomic<uint32_t>> requests_;
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> in_flight_{0};
  std::atomic<uint64_t> max_concurrent_{0};
};

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  troupe_examples::stop_signals stop_signals; // first: every thread inherits the mask
  site_options opts;
  if (!parse(argc, argv, opts)) {
    std::fprintf(stderr,
                 "usage: troupe-crawl-site [--pages=N] [--hosts=N] [--slow-ms=N] "
                 "[--hang-ms=N] [--threads=N] [--lifetime-s=N]\n");
    return 2;
  }
  site s{opts};
  std::vector<std::unique_ptr<httplib::Server>> servers;
  std::vector<int> ports;
  for (uint32_t h = 0; h < opts.hosts; ++h) {
    auto srv = std::make_unique<httplib::Server>();
    auto threads = opts.threads;
    srv->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // httplib writes a response's head and body in two writes; with Nagle
    // on, the body waits for the client's delayed ACK: 40 ms per request on
    // a kept-alive connection, which made every crawler latency-bound.
    srv->set_tcp_nodelay(true);
    for (const char* kind : {"p", "c"}) {
      std::string k = kind;
      srv->Get("/" + k + R"(/(\d+))",
               [&s, k, &opts](const httplib::Request& req, httplib::Response& res) {
                 auto page = std::stoul(req.matches[1]);
                 if (page >= opts.pages) {
                   res.status = 404;
                   return;
                 }
                 s.serve(k, static_cast<uint32_t>(page), res);
               });
    }
    srv->Get("/stats", [&s](const httplib::Request&, httplib::Response& res) {
      res.set_content(s.stats(), "text/plain");
    });
    auto port = srv->bind_to_any_port("127.0.0.1");
    if (port <= 0) {
      std::fprintf(stderr, "troupe-crawl-site: cannot listen on 127.0.0.1\n");
      return 1;
    }
    ports.push_back(port);
    servers.push_back(std::move(srv));
  }
  s.set_ports(ports);
  std::vector<std::thread> loops;
  for (auto& srv : servers)
    loops.emplace_back([&srv] { srv->listen_after_bind(); });
  std::string line = "PORTS";
  for (auto p : ports)
    line += " " + std::to_string(p);
  std::printf("%s\n", line.c_str());
  stop_signals.wait(std::chrono::seconds{opts.lifetime_s});
  for (auto& srv : servers)
    srv->stop();
  for (auto& t : loops)
    t.join();
  std::printf("site %s\n", s.stats().c_str());
  return 0;
}
