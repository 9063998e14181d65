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
// Last line: transport rpc_ratio=.. rpc_req_per_s=.. p50_us=.. p99_us=..
//            remote_pipeline_items_per_s=<..>
//
// Options: --seconds=N (measuring time per variant, default 3),
//          --outstanding=N (default 50),
//          --scheduler=stealing|sharing (CAF scheduler policy, default stealing),
//          --workers=N (CAF scheduler threads, default: CAF's),
//          --skip-raw (troupe only, e.g. for profiling),
//          --pipeline-only (only the remote pipeline, for profiling),
//          --caf-timeout-ms=N (CAF timeout of each request, default 0 =
//                              caf::infinite, leaving the deadline to the proxy)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <troupe/transport/node.hpp>
#include <troupe/transport/system_config.hpp>

#include "bench.pb.h"
#include "remote_pipeline.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using transport_bench::v1::Blob;

namespace {

int seconds = 3;
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
                            caf::actor report_to) {
  self->state.report_to = report_to;
  self->state.sent.resize(static_cast<size_t>(outstanding));
  auto warmup_end = clock_type::now() + 1s;
  self->state.stop_at = warmup_end + std::chrono::seconds{seconds};
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

result run_troupe() {
  troupe::transport::system_config cfg;
  if (policy == "sharing")
    cfg.set("scheduler.policy", caf::atom("sharing"));
  if (workers > 0)
    cfg.set("scheduler.max-threads", workers);
  caf::actor_system sys{cfg};
  result r;
  {
    auto b = troupe::transport::node::start(sys);
    auto a = troupe::transport::node::start(sys);
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
    sys.spawn(troupe_client, *proxy, caf::actor{self});
    self->receive(
      [&](done_atom, double rps, std::vector<double>& lat) {
        r.req_per_s = rps;
        r.p50_us = percentile(lat, 0.50);
        r.p99_us = percentile(lat, 0.99);
      },
      caf::after(std::chrono::seconds{seconds + 30}) >> [] {});
    caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  }
  return r;
}

// -- raw Asio + protobuf -----------------------------------------------------

/// Parses length-delimited Blobs out of `buf` from `pos`; calls f per Blob.
template <class F>
void for_each_frame(std::string& buf, F f) {
  size_t pos = 0;
  for (;;) {
    uint64_t len = 0;
    size_t i = pos;
    int shift = 0;
    bool complete = false;
    while (i < buf.size()) {
      auto byte = static_cast<uint8_t>(buf[i++]);
      len |= uint64_t(byte & 0x7F) << shift;
      if (!(byte & 0x80)) {
        complete = true;
        break;
      }
      shift += 7;
    }
    if (!complete || buf.size() - i < len)
      break;
    Blob b;
    b.ParseFromArray(buf.data() + i, static_cast<int>(len));
    f(b);
    pos = i + len;
  }
  buf.erase(0, pos);
}

void append_frame(const Blob& b, std::string& out) {
  auto body = b.SerializeAsString();
  auto n = body.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7F) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  out += body;
}

/// One side of a pipelined connection: reads frames, lets `on_frame` append
/// answers to the output buffer, writes whenever it is idle.
struct pipe_end : std::enable_shared_from_this<pipe_end> {
  explicit pipe_end(asio::ip::tcp::socket s) : sock(std::move(s)), rbuf(65536) {}
  asio::ip::tcp::socket sock;
  std::vector<char> rbuf;
  std::string in;
  std::string out;
  std::string writing;
  bool busy = false;
  bool stopped = false;
  std::function<void(const Blob&, std::string&)> on_frame;

  void read() {
    sock.async_read_some(asio::buffer(rbuf), [self = shared_from_this()](auto ec, size_t n) {
      if (ec || self->stopped)
        return;
      self->in.append(self->rbuf.data(), n);
      for_each_frame(self->in, [&](const Blob& b) { self->on_frame(b, self->out); });
      self->flush();
      self->read();
    });
  }

  void flush() {
    if (busy || out.empty() || stopped)
      return;
    busy = true;
    writing.swap(out);
    out.clear();
    asio::async_write(sock, asio::buffer(writing),
                      [self = shared_from_this()](auto ec, size_t) {
                        self->busy = false;
                        self->writing.clear();
                        if (!ec)
                          self->flush();
                      });
  }
};

double run_raw() {
  asio::io_context server_ctx;
  asio::io_context client_ctx;
  asio::ip::tcp::acceptor acceptor{server_ctx, {asio::ip::make_address("127.0.0.1"), 0}};
  auto port = acceptor.local_endpoint().port();
  std::shared_ptr<pipe_end> server;
  acceptor.async_accept([&](auto ec, asio::ip::tcp::socket s) {
    if (ec)
      return;
    s.set_option(asio::ip::tcp::no_delay{true});
    server = std::make_shared<pipe_end>(std::move(s));
    server->on_frame = [](const Blob& b, std::string& out) { append_frame(b, out); };
    server->read();
  });
  std::thread server_thread{[&] { server_ctx.run(); }};
  asio::ip::tcp::socket sock{client_ctx};
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  sock.set_option(asio::ip::tcp::no_delay{true});
  auto client = std::make_shared<pipe_end>(std::move(sock));
  uint64_t next = 0;
  uint64_t measured = 0;
  bool measuring = false;
  auto warmup_end = clock_type::now() + 1s;
  auto stop_at = warmup_end + std::chrono::seconds{seconds};
  clock_type::time_point started;
  double rps = 0;
  int in_flight = outstanding;
  client->on_frame = [&](const Blob&, std::string& out) {
    auto now = clock_type::now();
    if (!measuring && now >= warmup_end) {
      measuring = true;
      started = now;
    }
    if (measuring)
      ++measured;
    if (now < stop_at) {
      append_frame(make_blob(next++), out);
    } else if (--in_flight == 0) {
      rps = measured / std::chrono::duration<double>(now - started).count();
      client->stopped = true;
      client_ctx.stop();
    }
  };
  for (int i = 0; i < outstanding; ++i)
    append_frame(make_blob(next++), client->out);
  client->flush();
  client->read();
  client_ctx.run();
  asio::error_code ignored;
  client->sock.close(ignored);
  server_ctx.stop();
  server_thread.join();
  return rps;
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
  auto run_pipeline = [] {
    auto items_per_s = remote_pipeline_items_per_s(2'000'000);
    std::printf("troupe remote pipeline: %.2f M items/s (2 M items, batched)\n",
                items_per_s / 1e6);
    return items_per_s;
  };
  if (pipeline_only) {
    run_pipeline();
    return 0;
  }
  auto raw = skip_raw ? 0.0 : run_raw();
  std::printf("raw asio+protobuf echo: %.0f req/s (%d outstanding, 64-byte payload)\n", raw,
              outstanding);
  auto t = run_troupe();
  std::printf("troupe remote request/reply: %.0f req/s, p50 %.1f us, p99 %.1f us\n",
              t.req_per_s, t.p50_us, t.p99_us);
  auto pipeline = run_pipeline();
  std::printf("transport rpc_ratio=%.3f rpc_req_per_s=%.0f p50_us=%.1f p99_us=%.1f "
              "remote_pipeline_items_per_s=%.0f\n",
              raw > 0 ? t.req_per_s / raw : 0.0, t.req_per_s, t.p50_us, t.p99_us, pipeline);
  return 0;
}
