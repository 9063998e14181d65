// Transport benchmark: request/reply over loopback, one process, one run.
//
//   troupe  -- node A's proxy -> node B's published echo actor, 50 requests
//              outstanding, 64-byte protobuf payload; req/s, p50, p99
//   raw     -- the same exchange written directly on Asio: one TCP connection,
//              length-delimited protobuf frames, 50 requests pipelined
//   ratio   -- troupe req/s / raw req/s
//   remote_pipeline_items_per_s -- 2 M small items from a producer on one node
//                                  to a consumer on the other, bounded by the
//                                  consumer's capacity across the wire
//
//   raw stream  -- the pipeline's ceiling: the same items length-delimited
//                  over one loopback connection, a sender thread encoding, a
//                  receiver thread parsing, no acknowledgements; run side by
//                  side with the pipeline in rounds, the ratio the median of
//                  the rounds' ratios
//   tls_rpc_ratio -- troupe request/reply with mutual TLS (certificates made
//                    by `openssl` at start) over the same without TLS:
//                    median of 5 rounds, each measuring both side by side
//                    (1 s each, the order alternating)
//
// Last line: transport rpc_ratio=.. rpc_req_per_s=.. p50_us=.. p99_us=..
//            remote_pipeline_items_per_s=<..> remote_pipeline_ratio=<pipeline/raw stream>
//            tls_rpc_ratio=<TLS/plaintext>
//
// Options: --seconds=N (measuring time per variant, default 3),
//          --outstanding=N (default 50),
//          --scheduler=stealing|sharing (CAF scheduler policy, default stealing),
//          --workers=N (CAF scheduler threads, default: CAF's),
//          --skip-raw (troupe only, e.g. for profiling),
//          --pipeline-only (only the remote pipeline and its raw stream),
//          --pipeline-rounds=N (rounds of pipeline vs raw stream, default 5),
//          --tls-rounds=N (rounds of the TLS comparison, default 5; 0 = none),
//          --caf-timeout-ms=N (CAF timeout of each request, default 0 =
//                              caf::infinite, leaving the deadline to the proxy)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <troupe/testing/test_certificates.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/system_config.hpp>

#include "bench.pb.h"
#include "raw_asio.hpp"
#include "remote_pipeline.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using transport_bench::v1::Blob;

namespace {

int seconds = 3;
int tls_rounds = 5;
int pipeline_rounds = 5;
bool pipeline_only = false;
int outstanding = 50;
std::string policy = "stealing";
bool skip_raw = false;
size_t workers = 0;
// 0: caf::infinite, as call_options.hpp recommends for proxies. The request
// still has a deadline: the proxy applies node_config::default_deadline (10 s).
int caf_timeout_ms = 0;

Blob make_blob(uint64_t seq) {
  Blob b;
  b.set_seq(seq);
  b.set_data(std::string(64, 'x'));
  return b;
}

struct result {
  double req_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
};

// -- troupe ------------------------------------------------------------------

using done_atom = caf::atom_constant<caf::atom("done")>;

struct client_state {
  uint64_t next = 0;
  uint64_t completed = 0;
  bool measuring = false;
  uint64_t measured = 0;
  clock_type::time_point started;
  clock_type::time_point stop_at;
  std::vector<clock_type::time_point> sent;
  std::vector<double> latencies_us;
  caf::actor report_to;
};

caf::behavior troupe_client(caf::stateful_actor<client_state>* self, caf::actor proxy,
                            caf::actor report_to, clock_type::duration warmup,
                            clock_type::duration measure) {
  self->state.report_to = report_to;
  self->state.sent.resize(static_cast<size_t>(outstanding));
  auto warmup_end = clock_type::now() + warmup;
  self->state.stop_at = warmup_end + measure;
  auto fire = std::make_shared<std::function<void()>>();
  *fire = [self, proxy, fire, warmup_end] {
    auto& st = self->state;
    auto seq = st.next++;
    st.sent[seq % st.sent.size()] = clock_type::now();
    auto timeout = caf_timeout_ms > 0
      ? caf::duration{std::chrono::milliseconds{caf_timeout_ms}}
      : caf::infinite;
    self->request(proxy, timeout, make_blob(seq))
      .then(
        [self, fire, warmup_end, seq](const Blob&) {
          auto& st = self->state;
          auto now = clock_type::now();
          if (!st.measuring && now >= warmup_end) {
            st.measuring = true;
            st.started = now;
          }
          if (st.measuring) {
            ++st.measured;
            st.latencies_us.push_back(
              std::chrono::duration<double, std::micro>(now - st.sent[seq % st.sent.size()])
                .count());
          }
          if (now < st.stop_at) {
            (*fire)();
          } else if (++st.completed == static_cast<uint64_t>(outstanding)) {
            double secs = std::chrono::duration<double>(now - st.started).count();
            self->send(st.report_to, done_atom::value, st.measured / secs,
                       std::move(st.latencies_us));
            self->quit();
          }
        },
        [self](caf::error& err) {
          std::fprintf(stderr, "request failed: %s\n", self->system().render(err).c_str());
          self->quit(err);
        });
  };
  for (int i = 0; i < outstanding; ++i)
    (*fire)();
  return {[](int) {}};
}

double percentile(std::vector<double>& xs, double p) {
  if (xs.empty())
    return 0;
  auto k = static_cast<size_t>(p * static_cast<double>(xs.size() - 1));
  std::nth_element(xs.begin(), xs.begin() + static_cast<long>(k), xs.end());
  return xs[k];
}

/// Request/reply between two nodes, warming up for `warmup`, measuring for
/// `measure`; with TLS if `tls` is set.
result run_troupe(clock_type::duration warmup, clock_type::duration measure,
                  const troupe::transport::tls_config* tls = nullptr) {
  troupe::transport::system_config cfg;
  if (policy == "sharing")
    cfg.set("scheduler.policy", caf::atom("sharing"));
  if (workers > 0)
    cfg.set("scheduler.max-threads", workers);
  caf::actor_system sys{cfg};
  result r;
  {
    auto ncfg = troupe::transport::node_config::from(sys.config());
    if (tls != nullptr)
      ncfg.tls = *tls;
    auto b = troupe::transport::node::start(sys, ncfg);
    auto a = troupe::transport::node::start(sys, ncfg);
    if (!a || !b) {
      std::fprintf(stderr, "cannot start nodes\n");
      return r;
    }
    auto echo = sys.spawn([]() -> caf::behavior { return {[](Blob& x) { return x; }}; });
    if (auto err = b->publish(echo, "echo"))
      return r;
    auto proxy = a->remote_actor("echo", "127.0.0.1", b->port());
    if (!proxy) {
      std::fprintf(stderr, "no proxy: %s\n", sys.render(proxy.error()).c_str());
      return r;
    }
    caf::scoped_actor self{sys};
    sys.spawn(troupe_client, *proxy, caf::actor{self}, warmup, measure);
    self->receive(
      [&](done_atom, double rps, std::vector<double>& lat) {
        r.req_per_s = rps;
        r.p50_us = percentile(lat, 0.50);
        r.p99_us = percentile(lat, 0.99);
      },
      caf::after(warmup + measure + 30s) >> [] {});
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  }
  return r;
}

/// Median over `tls_rounds` rounds of TLS req/s over plaintext req/s, both
/// measured in each round (the order alternating); 0 if it cannot run.
double tls_rpc_ratio() {
  if (tls_rounds <= 0)
    return 0;
  auto pki = troupe::testing::test_certificates::create();
  if (!pki || (*pki)->add_certificate("node", "ca", "IP:127.0.0.1")) {
    std::fprintf(stderr, "cannot make TLS certificates (openssl)\n");
    return 0;
  }
  auto tls = (*pki)->tls("node");
  std::vector<double> ratios;
  std::vector<double> tls_rps;
  std::vector<double> plain_rps;
  for (int round = 0; round < tls_rounds; ++round) {
    result plain;
    result secure;
    if (round % 2 == 0) {
      plain = run_troupe(300ms, 1s);
      secure = run_troupe(300ms, 1s, &tls);
    } else {
      secure = run_troupe(300ms, 1s, &tls);
      plain = run_troupe(300ms, 1s);
    }
    plain_rps.push_back(plain.req_per_s);
    tls_rps.push_back(secure.req_per_s);
    ratios.push_back(plain.req_per_s > 0 ? secure.req_per_s / plain.req_per_s : 0.0);
  }
  auto ratio = percentile(ratios, 0.5);
  std::printf("troupe request/reply with mutual TLS: %.0f req/s vs %.0f plaintext "
              "(medians of %d rounds; ratio %.3f)\n",
              percentile(tls_rps, 0.5), percentile(plain_rps, 0.5), tls_rounds, ratio);
  return ratio;
}

/// The remote pipeline and its raw ceiling, side by side.
struct pipeline_result {
  double items_per_s = 0;
  double raw_items_per_s = 0;
  /// Median of the rounds' pipeline / raw ratios.
  double ratio = 0;
};

/// `pipeline_rounds` rounds of the remote pipeline and the raw stream (2 M
/// items each, the order alternating): one run of each takes a third of a
/// second, so single runs swing with the machine (0.22 to 0.52 in five
/// invocations); the medians of the rounds do not. Without `with_raw`, the
/// pipeline alone.
pipeline_result remote_pipeline_rounds(bool with_raw) {
  constexpr uint64_t items = 2'000'000;
  std::vector<double> pipeline;
  std::vector<double> raw;
  std::vector<double> ratios;
  for (int round = 0; round < pipeline_rounds; ++round) {
    double p = 0;
    double r = 0;
    if (round % 2 == 0 || !with_raw) {
      p = remote_pipeline_items_per_s(items);
      r = with_raw ? raw_stream_items_per_s(items) : 0;
    } else {
      r = raw_stream_items_per_s(items);
      p = remote_pipeline_items_per_s(items);
    }
    pipeline.push_back(p);
    raw.push_back(r);
    ratios.push_back(r > 0 ? p / r : 0.0);
  }
  pipeline_result result{percentile(pipeline, 0.5), percentile(raw, 0.5),
                         with_raw ? percentile(ratios, 0.5) : 0.0};
  std::printf("troupe remote pipeline: %.2f M items/s (2 M items, batched; median of %d)\n",
              result.items_per_s / 1e6, pipeline_rounds);
  if (with_raw)
    std::printf("raw asio+protobuf stream: %.2f M items/s (2 M items, no acknowledgements; "
                "median of %d; ratio %.3f)\n",
                result.raw_items_per_s / 1e6, pipeline_rounds, result.ratio);
  return result;
}

} // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0)
      seconds = std::max(1, std::atoi(argv[i] + 10));
    else if (std::strncmp(argv[i], "--workers=", 10) == 0)
      workers = static_cast<size_t>(std::max(1, std::atoi(argv[i] + 10)));
    else if (std::strcmp(argv[i], "--skip-raw") == 0)
      skip_raw = true;
    else if (std::strncmp(argv[i], "--tls-rounds=", 13) == 0)
      tls_rounds = std::max(0, std::atoi(argv[i] + 13));
    else if (std::strncmp(argv[i], "--pipeline-rounds=", 18) == 0)
      pipeline_rounds = std::max(1, std::atoi(argv[i] + 18));
    else if (std::strcmp(argv[i], "--pipeline-only") == 0)
      pipeline_only = true;
    else if (std::strncmp(argv[i], "--scheduler=", 12) == 0)
      policy = argv[i] + 12;
    else if (std::strncmp(argv[i], "--outstanding=", 14) == 0)
      outstanding = std::max(1, std::atoi(argv[i] + 14));
    else if (std::strncmp(argv[i], "--caf-timeout-ms=", 17) == 0)
      caf_timeout_ms = std::max(0, std::atoi(argv[i] + 17));
  }
  spdlog::set_level(spdlog::level::warn);
  if (pipeline_only) {
    auto pipeline = remote_pipeline_rounds(true);
    std::printf("transport remote_pipeline_items_per_s=%.0f remote_pipeline_ratio=%.3f\n",
                pipeline.items_per_s, pipeline.ratio);
    return 0;
  }
  auto raw = skip_raw ? 0.0 : raw_echo_req_per_s(seconds, outstanding);
  std::printf("raw asio+protobuf echo: %.0f req/s (%d outstanding, 64-byte payload)\n", raw,
              outstanding);
  auto t = run_troupe(1s, std::chrono::seconds{seconds});
  std::printf("troupe remote request/reply: %.0f req/s, p50 %.1f us, p99 %.1f us\n",
              t.req_per_s, t.p50_us, t.p99_us);
  auto pipeline = remote_pipeline_rounds(!skip_raw);
  auto tls = tls_rpc_ratio();
  std::printf(
    "transport rpc_ratio=%.3f rpc_req_per_s=%.0f p50_us=%.1f p99_us=%.1f "
    "remote_pipeline_items_per_s=%.0f remote_pipeline_ratio=%.3f tls_rpc_ratio=%.3f\n",
    raw > 0 ? t.req_per_s / raw : 0.0, t.req_per_s, t.p50_us, t.p99_us, pipeline.items_per_s,
    pipeline.ratio, tls);
  return 0;
}
