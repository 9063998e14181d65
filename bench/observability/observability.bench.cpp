// bench/observability: what the observability endpoint costs while it is
// scraped, measured side by side in one run.
//
//   pipeline  a supervised pipeline (a source, 4 consumers, capacity 64,
//             batch size 1: one message per item) moves 1 000 000 items;
//             items/s
//   rpc       node A's proxy -> node B's published echo actor, 50 requests
//             outstanding, 1 s; requests/s
//
// Each runs "off" (no endpoint) and "on" (an endpoint on the pipeline's or
// the nodes' supervisors, and a client scraping /metrics every 100 ms: 150
// times Prometheus's default rate), 5 rounds, the order alternating. A ratio
// is on / off: 1.0 costs nothing, 0.95 costs 5 %.
//
// Last line: observability overhead_pipeline=<median ratio> overhead_rpc=<median ratio>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <troupe/observability/endpoint.hpp>
#include <troupe/observability/system_config.hpp>
#include <troupe/supervisors/pipeline.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/node.hpp>

#include "bench.pb.h" // bench/transport's Blob: remote messages are protobuf

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int64_t pipeline_items = 1'000'000;
constexpr int rounds = 5;

/// Scrapes `port`'s /metrics every 100 ms until destroyed.
class scraper {
public:
  explicit scraper(uint16_t port) : thread_([this, port] { run(port); }) {
    // nop
  }

  ~scraper() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  int scrapes() const {
    return scrapes_.load();
  }

private:
  void run(uint16_t port) {
    httplib::Client client{"127.0.0.1", port};
    std::unique_lock<std::mutex> guard{mtx_};
    while (!done_) {
      guard.unlock();
      if (auto res = client.Get("/metrics"); res && res->status == 200)
        ++scrapes_;
      guard.lock();
      cv_.wait_for(guard, 100ms, [this] { return done_; });
    }
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<int> scrapes_{0};
  std::thread thread_;
};

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs.empty() ? 0 : xs[xs.size() / 2];
}

// -- pipeline -------------------------------------------------------------------

troupe::actors::producer_config per_item() {
  troupe::actors::producer_config cfg;
  cfg.batch_size = 1;
  return cfg;
}

double run_pipeline(caf::actor_system& sys, bool observed) {
  using namespace troupe;
  struct finish {
    std::mutex mtx;
    std::condition_variable cv;
    int64_t handled = 0;
  };
  auto fin = std::make_shared<finish>();
  supervisors::pipeline p{supervisors::pipeline_config{"bench"}};
  p.source<int64_t>(
    "source",
    [](actors::seq_t committed) {
      auto next = std::make_shared<int64_t>(static_cast<int64_t>(committed));
      return [next](size_t n, std::vector<int64_t>& out) {
        while (out.size() < n && *next < pipeline_items)
          out.push_back(++*next);
        return *next < pipeline_items ? actors::pull_status::more : actors::pull_status::done;
      };
    },
    per_item());
  for (int i = 0; i < 4; ++i)
    p.consumer<int64_t>(
      "worker-" + std::to_string(i), "source",
      [fin, local = int64_t{0}](int64_t) mutable {
        // Publish every 1000 items: the consumers' cost stays the item's.
        if (++local % 1000 == 0) {
          std::lock_guard<std::mutex> guard{fin->mtx};
          fin->handled += 1000;
          fin->cv.notify_all();
        }
      },
      actors::consumer_config{64});
  auto started = clock_type::now();
  auto sup = supervisors::spawn_supervisor(sys, p.config());
  if (!sup)
    return 0;
  std::unique_ptr<observability::endpoint> ep;
  std::unique_ptr<scraper> scrape;
  if (observed) {
    auto e =
      observability::endpoint::start(sys, observability::endpoint_config{},
                                     {{caf::actor_cast<caf::actor>(*sup)}, nullptr, {}});
    if (!e)
      return 0;
    ep = std::move(*e);
    scrape = std::make_unique<scraper>(ep->port());
  }
  {
    std::unique_lock<std::mutex> guard{fin->mtx};
    // 4 consumers publish in steps of 1000: all but < 4000 items.
    fin->cv.wait_for(guard, 120s, [&] { return fin->handled >= pipeline_items - 4000; });
  }
  auto secs = std::chrono::duration<double>(clock_type::now() - started).count();
  scrape.reset();
  ep.reset();
  supervisors::request_shutdown(caf::actor_cast<caf::actor>(*sup));
  return static_cast<double>(pipeline_items) / secs;
}

// -- rpc ---------------------------------------------------------------------------

struct client_state {
  uint64_t done = 0;
  clock_type::time_point stop_at;
  caf::actor report_to;
};

using report_atom = caf::atom_constant<caf::atom("report")>;

caf::behavior rpc_client(caf::stateful_actor<client_state>* self, caf::actor proxy,
                         caf::actor report_to) {
  self->state.report_to = report_to;
  self->state.stop_at = clock_type::now() + 1s;
  auto fire = std::make_shared<std::function<void()>>();
  *fire = [self, proxy, fire] {
    transport_bench::v1::Blob blob;
    blob.set_data(std::string(64, 'x'));
    self->request(proxy, caf::infinite, std::move(blob))
      .then(
        [self, fire](const transport_bench::v1::Blob&) {
          ++self->state.done;
          if (clock_type::now() < self->state.stop_at) {
            (*fire)();
          } else if (self->state.report_to) {
            self->send(self->state.report_to, report_atom::value, self->state.done);
            self->state.report_to = nullptr;
            self->quit();
          }
        },
        [self](caf::error&) { self->quit(); });
  };
  for (int i = 0; i < 50; ++i)
    (*fire)();
  return {};
}

double run_rpc(caf::actor_system& sys, bool observed) {
  using namespace troupe;
  auto b = transport::node::start(sys);
  auto a = transport::node::start(sys);
  if (!a || !b)
    return 0;
  auto echo = sys.spawn(
    []() -> caf::behavior { return {[](transport_bench::v1::Blob& x) { return x; }}; });
  if (b->publish(echo, "echo"))
    return 0;
  auto proxy = a->remote_actor("echo", "127.0.0.1", b->port());
  if (!proxy)
    return 0;
  std::unique_ptr<observability::endpoint> ep;
  std::unique_ptr<scraper> scrape;
  if (observed) {
    auto e = observability::endpoint::start(sys, observability::endpoint_config{},
                                            {{a->supervisor(), b->supervisor()}, &*a, {}});
    if (!e)
      return 0;
    ep = std::move(*e);
    scrape = std::make_unique<scraper>(ep->port());
  }
  double rps = 0;
  {
    caf::scoped_actor self{sys};
    auto started = clock_type::now();
    sys.spawn(rpc_client, *proxy, caf::actor{self});
    self->receive(
      [&](report_atom, uint64_t n) {
        rps = static_cast<double>(n)
          / std::chrono::duration<double>(clock_type::now() - started).count();
      },
      caf::after(30s) >> [] {});
  }
  scrape.reset();
  ep.reset();
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  return rps;
}

} // namespace

int main() {
  spdlog::set_level(spdlog::level::warn);
  troupe::observability::system_config cfg;
  caf::actor_system sys{cfg};
  std::vector<double> pipeline_ratios;
  std::vector<double> rpc_ratios;
  for (int round = 0; round < rounds; ++round) {
    auto on_first = round % 2 == 1;
    double p_on = 0, p_off = 0, r_on = 0, r_off = 0;
    if (on_first) {
      p_on = run_pipeline(sys, true);
      p_off = run_pipeline(sys, false);
      r_on = run_rpc(sys, true);
      r_off = run_rpc(sys, false);
    } else {
      p_off = run_pipeline(sys, false);
      p_on = run_pipeline(sys, true);
      r_off = run_rpc(sys, false);
      r_on = run_rpc(sys, true);
    }
    std::printf("round %d  pipeline off %.0f on %.0f items/s  rpc off %.0f on %.0f req/s\n",
                round + 1, p_off, p_on, r_off, r_on);
    pipeline_ratios.push_back(p_off > 0 ? p_on / p_off : 0);
    rpc_ratios.push_back(r_off > 0 ? r_on / r_off : 0);
  }
  std::printf("observability overhead_pipeline=%.3f overhead_rpc=%.3f\n",
              median(pipeline_ratios), median(rpc_ratios));
  return 0;
}
