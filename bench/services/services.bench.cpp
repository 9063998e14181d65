// Services benchmark: what a generated stub costs over what it wraps, in one
// process, one run, side by side. 50 calls outstanding, 64-byte payload.
//
//   raw local     -- a CAF request to a local echo actor (caf::infinite)
//   typed local   -- the generated stub (channel::local) to a local service
//   raw remote    -- a CAF request to a proxy of an echo actor on a second
//                    node (loopback), as bench/transport measures it
//   typed remote  -- the generated stub (channel::remote) to the service on
//                    the second node
//   raw asio      -- bench/transport's raw Asio + protobuf echo
//   stream        -- a server-streaming method, remote, capacity 32 768:
//                    items/s, next to bench/transport's remote pipeline
//
// Last line:
//   services typed_local_ratio=<typed/raw local> typed_remote_ratio=<typed/raw
//   remote> rpc_ratio=<typed remote/raw asio> stream_items_per_s=<..>
//   pipeline_items_per_s=<..> stream_ratio=<stream/pipeline>
//
// The local and remote pairs run side by side: --rounds=N rounds (default
// 5) of both loops in alternating order, each measured for --seconds=N
// (default 1) after 0.3 s of warm-up; the ratios are the medians of the
// per-round ratios. Also --outstanding=N (default 50),
// --only=local|remote|stream.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <troupe/actors/consumer.hpp>
#include <troupe/services/service_child.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/system_config.hpp>

#include "raw_asio.hpp"
#include "remote_pipeline.hpp"
#include "services.pb.h"

using namespace std::chrono_literals;
using namespace troupe::services;
using clock_type = std::chrono::steady_clock;
using services_bench::v1::Echo;
using transport_bench::v1::Blob;

namespace {

int seconds = 1;
int rounds = 5;
int outstanding = 50;
std::string only;

Blob make_blob(uint64_t seq) {
  Blob b;
  b.set_seq(seq);
  b.set_data(std::string(64, 'x'));
  return b;
}

/// The service: echoes, and streams `items` Blobs.
class echo_service final : public Echo::Service {
  reply<Blob> echo(server_call&, const Blob& x) override {
    return x;
  }

  stream_reply<Blob> stream(server_call&,
                            const services_bench::v1::StreamRequest& req) override {
    troupe::actors::producer_config cfg;
    cfg.batch_size = 1024;
    return {
      [next = uint64_t{0}, n = req.items()](size_t demand, std::vector<Blob>& out) mutable {
        while (out.size() < demand && next < n) {
          out.emplace_back();
          out.back().set_seq(++next);
        }
        return next < n ? troupe::actors::pull_status::more
                        : troupe::actors::pull_status::done;
      },
      cfg};
  }
};

using done_atom = caf::atom_constant<caf::atom("done")>;

/// Issues call `seq` from `self` and calls `done` when it is answered.
using issue_fn =
  std::function<void(caf::event_based_actor* self, uint64_t seq, std::function<void()> done)>;

/// Keeps `outstanding` calls in flight for 0.3 s of warm-up and `seconds`
/// measured; returns calls/s. The same loop for every variant.
double closed_loop(caf::actor_system& sys, issue_fn issue) {
  caf::scoped_actor waiter{sys};
  sys.spawn([issue, to = caf::actor{waiter}](caf::event_based_actor* self) {
    struct state {
      uint64_t next = 0;
      uint64_t measured = 0;
      int finished = 0;
      bool measuring = false;
      clock_type::time_point started;
      clock_type::time_point warmup_end = clock_type::now() + 300ms;
      clock_type::time_point stop_at = warmup_end + std::chrono::seconds{seconds};
    };
    auto st = std::make_shared<state>();
    auto fire = std::make_shared<std::function<void()>>();
    *fire = [self, st, fire, issue, to] {
      issue(self, st->next++, [self, st, fire, to] {
        auto now = clock_type::now();
        if (!st->measuring && now >= st->warmup_end) {
          st->measuring = true;
          st->started = now;
        }
        if (st->measuring)
          ++st->measured;
        if (now < st->stop_at) {
          (*fire)();
        } else if (++st->finished == outstanding) {
          self->send(to, done_atom::value,
                     st->measured / std::chrono::duration<double>(now - st->started).count());
          self->quit();
        }
      });
    };
    for (int i = 0; i < outstanding; ++i)
      (*fire)();
  });
  double rate = 0;
  waiter->receive([&](done_atom, double x) { rate = x; },
                  caf::after(std::chrono::seconds{seconds + 60}) >> [] {});
  return rate;
}

issue_fn raw_request(caf::actor target) {
  return [target](caf::event_based_actor* self, uint64_t seq, std::function<void()> done) {
    self->request(target, caf::infinite, make_blob(seq))
      .then([done](Blob&) { done(); },
            [](caf::error& err) { std::fprintf(stderr, "%s\n", to_string(err).c_str()); });
  };
}

issue_fn typed_call(Echo::Stub stub) {
  return [stub](caf::event_based_actor* self, uint64_t seq, std::function<void()> done) {
    stub.echo(self, make_blob(seq), 10s)
      .then([done](Blob&) { done(); },
            [](caf::error& err) { std::fprintf(stderr, "%s\n", to_string(err).c_str()); });
  };
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs.empty() ? 0 : xs[xs.size() / 2];
}

/// A baseline and a variant measured side by side.
struct paired {
  double base = 0;
  double variant = 0;
  double ratio = 0;
};

/// `rounds` rounds of both loops, in alternating order (the machine's
/// drift hits both alike); the medians of the rates and of the per-round
/// ratios.
paired side_by_side(caf::actor_system& sys, const issue_fn& base, const issue_fn& variant) {
  std::vector<double> bases;
  std::vector<double> variants;
  std::vector<double> ratios;
  for (int i = 0; i < rounds; ++i) {
    double b = 0;
    double v = 0;
    if (i % 2 == 0) {
      b = closed_loop(sys, base);
      v = closed_loop(sys, variant);
    } else {
      v = closed_loop(sys, variant);
      b = closed_loop(sys, base);
    }
    bases.push_back(b);
    variants.push_back(v);
    ratios.push_back(b > 0 ? v / b : 0);
  }
  return {median(bases), median(variants), median(ratios)};
}

struct rates {
  paired local;
  paired remote;
  double stream = 0;
};

rates run_troupe() {
  rates r;
  troupe::transport::system_config cfg;
  // As bench/transport's remote pipeline runs: two scheduler threads (one
  // per core) and its export batch size.
  cfg.set("scheduler.max-threads", 2);
  // A nested group is set the way a user sets it: as an option.
  char prog[] = "troupe-bench-services";
  char batch[] = "--troupe.stream.max-batch=8192";
  char* args[] = {prog, batch};
  if (auto err = cfg.parse_args(2, args)) {
    std::fprintf(stderr, "cannot configure: %s\n", to_string(err).c_str());
    return r;
  }
  caf::actor_system sys{cfg};
  auto a = troupe::transport::node::start(sys);
  auto b = troupe::transport::node::start(sys);
  if (!a || !b) {
    std::fprintf(stderr, "cannot start the nodes\n");
    return r;
  }
  auto echo = sys.spawn([]() -> caf::behavior { return {[](Blob& x) { return x; }}; });
  troupe::supervisors::supervisor_config sup;
  sup.name = "bench";
  sup.children.push_back(
    service_child<echo_service>(service_options{}.published_on(b->handle())));
  auto services = troupe::supervisors::spawn_supervisor(sys, sup);
  if (!services || b->publish(echo, "echo")) {
    std::fprintf(stderr, "cannot start the services\n");
    return r;
  }
  Echo::Stub local{channel::local(sys)};
  Echo::Stub remote{channel::remote(a->handle(), "127.0.0.1", b->port())};
  if (only.empty() || only == "local") {
    r.local = side_by_side(sys, raw_request(echo), typed_call(local));
    std::printf("local : raw CAF request %.0f/s, typed stub %.0f/s (medians of %d rounds)\n",
                r.local.base, r.local.variant, rounds);
  }
  if (only.empty() || only == "remote") {
    auto proxy = a->remote_actor("echo", "127.0.0.1", b->port());
    if (proxy) {
      r.remote = side_by_side(sys, raw_request(*proxy), typed_call(remote));
      std::printf(
        "remote: raw proxy request %.0f/s, typed stub %.0f/s (medians of %d rounds)\n",
        r.remote.base, r.remote.variant, rounds);
    }
  }
  if (only.empty() || only == "stream") {
    constexpr uint64_t items = 2'000'000;
    services_bench::v1::StreamRequest req;
    req.set_items(items);
    auto started = clock_type::now();
    auto stream = remote.stream(req, 32'768, 10s);
    if (stream) {
      caf::scoped_actor waiter{sys};
      troupe::actors::consumer_config ccfg{4096};
      auto consumer = troupe::actors::spawn_consumer<Blob>(
        sys, *stream, ccfg, [](caf::span<const Blob>, troupe::actors::seq_t) {},
        [to = caf::actor{waiter}](const caf::error&) {
          caf::anon_send(to, done_atom::value);
        });
      if (consumer)
        waiter->receive([](done_atom) {}, caf::after(120s) >> [] {});
      r.stream = static_cast<double>(items)
        / std::chrono::duration<double>(clock_type::now() - started).count();
      std::printf("stream: %.2f M items/s (2 M items, remote, capacity 32 768)\n",
                  r.stream / 1e6);
    } else {
      std::fprintf(stderr, "stream: %s\n", to_string(stream.error()).c_str());
    }
  }
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(*services, caf::exit_reason::user_shutdown);
  a->stop();
  b->stop();
  return r;
}

double ratio(double x, double y) {
  return y > 0 ? x / y : 0;
}

} // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0)
      seconds = std::max(1, std::atoi(argv[i] + 10));
    else if (std::strncmp(argv[i], "--rounds=", 9) == 0)
      rounds = std::max(1, std::atoi(argv[i] + 9));
    else if (std::strncmp(argv[i], "--outstanding=", 14) == 0)
      outstanding = std::max(1, std::atoi(argv[i] + 14));
    else if (std::strncmp(argv[i], "--only=", 7) == 0)
      only = argv[i] + 7;
  }
  spdlog::set_level(spdlog::level::warn);
  double raw_asio = 0;
  if (only.empty() || only == "remote") {
    raw_asio = raw_echo_req_per_s(std::max(3, seconds), outstanding);
    std::printf("raw asio+protobuf echo: %.0f req/s\n", raw_asio);
  }
  auto r = run_troupe();
  double pipeline = 0;
  if (only.empty() || only == "stream") {
    pipeline = remote_pipeline_items_per_s(2'000'000);
    std::printf("transport remote pipeline: %.2f M items/s\n", pipeline / 1e6);
  }
  std::printf("services typed_local_ratio=%.3f typed_remote_ratio=%.3f rpc_ratio=%.3f "
              "stream_items_per_s=%.0f pipeline_items_per_s=%.0f stream_ratio=%.3f\n",
              r.local.ratio, r.remote.ratio, ratio(r.remote.variant, raw_asio), r.stream,
              pipeline, ratio(r.stream, pipeline));
  return 0;
}
