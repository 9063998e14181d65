// Cluster benchmark, one process, one run, side by side, on a real etcd
// started for the run (127.0.0.1, throwaway data) and nodes on 127.0.0.1:
//
//   direct    -- the generated stub to the service on node b
//                (channel::remote(a, host, port)): calls/s, 50 outstanding
//   by name   -- the same stub type from a's cluster channel (no host, no
//                port): the locator picks b's instance on every call
//   join      -- a new member starts: ms until a sees it up
//   leave     -- it stops gracefully: ms until a sees it removed
//   failover  -- a member's node stops (its record stays): ms until a sees
//                it down (the moment its instances leave a's locator)
//
// Each measured `--runs` times (default 5); the medians are printed last:
//   cluster direct_calls_per_s=<..> named_calls_per_s=<..> resolved_ratio=<named/direct>
//           join_ms=<..> leave_ms=<..> failover_ms=<..>
//
// Options: --seconds=N (measured seconds per throughput variant after 1 s
//          warm-up, default 3), --runs=N (default 5)

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include <spdlog/spdlog.h>

#include <troupe/actors/log.hpp>
#include <troupe/cluster/cluster.hpp>
#include <troupe/cluster/etcd_provider.hpp>
#include <troupe/services/service_child.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/testing/etcd_server.hpp>
#include <troupe/testing/member_watch.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/system_config.hpp>

#include "services.pb.h"

using namespace std::chrono_literals;
using namespace troupe::services;
using clock_type = std::chrono::steady_clock;
using services_bench::v1::Echo;
using transport_bench::v1::Blob;
using troupe::cluster::member_state;

namespace {

int seconds = 3;
int runs = 5;
constexpr int outstanding = 50;

class echo_service final : public Echo::Service {
  reply<Blob> echo(server_call&, const Blob& x) override {
    return x;
  }
};

using done_atom = caf::atom_constant<caf::atom("done")>;

/// Keeps `outstanding` calls of `stub` in flight for 1 s of warm-up and
/// `seconds` measured; returns calls/s.
double closed_loop(caf::actor_system& sys, const Echo::Stub& stub) {
  caf::scoped_actor waiter{sys};
  sys.spawn([stub, to = caf::actor{waiter}](caf::event_based_actor* self) {
    struct state {
      uint64_t measured = 0;
      uint64_t failed = 0;
      std::string first_failure;
      int finished = 0;
      bool measuring = false;
      clock_type::time_point started;
      clock_type::time_point warmup_end = clock_type::now() + 1s;
      clock_type::time_point stop_at = warmup_end + std::chrono::seconds{seconds};
    };
    auto st = std::make_shared<state>();
    auto fire = std::make_shared<std::function<void()>>();
    Blob blob;
    blob.set_data(std::string(64, 'x'));
    *fire = [self, st, fire, stub, blob, to] {
      // A failed call (a typed status) counts as done but not as measured.
      auto next = [self, st, fire, to](bool ok, const caf::error& err = caf::error{}) {
        if (!ok && st->first_failure.empty())
          st->first_failure = troupe::messages::describe(err);
        auto now = clock_type::now();
        if (!st->measuring && now >= st->warmup_end) {
          st->measuring = true;
          st->started = now;
        }
        if (st->measuring && ok)
          ++st->measured;
        if (!ok)
          ++st->failed;
        if (now < st->stop_at) {
          (*fire)();
        } else if (++st->finished == outstanding) {
          if (st->failed > 0)
            std::fprintf(stderr, "%llu calls failed, the first with %s\n",
                         static_cast<unsigned long long>(st->failed),
                         st->first_failure.c_str());
          self->send(to, done_atom::value,
                     st->measured / std::chrono::duration<double>(now - st->started).count());
          self->quit();
        }
      };
      stub.echo(self, blob, 10s)
        .then([next](Blob&) { next(true); }, [next](caf::error& err) { next(false, err); });
    };
    for (int i = 0; i < outstanding; ++i)
      (*fire)();
  });
  double rate = 0;
  waiter->receive([&](done_atom, double x) { rate = x; },
                  caf::after(std::chrono::seconds{seconds + 60}) >> [] {});
  return rate;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs.empty() ? 0 : xs[xs.size() / 2];
}

double ms(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

struct member_node {
  std::optional<troupe::transport::node> n;
  std::optional<troupe::cluster::cluster> c;
};

} // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0)
      seconds = std::max(1, std::atoi(argv[i] + 10));
    else if (std::strncmp(argv[i], "--runs=", 7) == 0)
      runs = std::max(1, std::atoi(argv[i] + 7));
  }
  // Membership changes log warnings by design; the numbers are the output.
  spdlog::set_level(spdlog::level::err);
  auto etcd = troupe::testing::etcd_server::start();
  if (!etcd) {
    std::fprintf(stderr, "cannot start etcd: %s\n",
                 troupe::messages::describe(etcd.error()).c_str());
    return 1;
  }
  troupe::transport::system_config cfg;
  caf::actor_system sys{cfg};
  troupe::cluster::etcd_config ec;
  ec.endpoints = {(*etcd)->endpoint()};
  ec.lease_ttl = 2s;
  ec.request_timeout = 1s;
  auto join = [&](member_node& m) {
    auto n = troupe::transport::node::start(sys, troupe::transport::node_config{});
    m.n.emplace(std::move(*n));
    auto c = troupe::cluster::cluster::start(sys, *m.n, troupe::cluster::cluster_config{},
                                             troupe::cluster::etcd_provider(ec));
    m.c.emplace(std::move(*c));
  };
  member_node a;
  member_node b;
  join(a);
  join(b);
  troupe::supervisors::supervisor_config sup;
  sup.name = "services";
  sup.children.push_back(
    service_child<echo_service>(service_options{}.published_on(b.n->handle())));
  auto services = troupe::supervisors::spawn_supervisor(sys, sup);
  if (!services || b.c->advertise(Echo::full_name)
      || a.c->await_instances(Echo::full_name, 1, 20s).size() != 1) {
    std::fprintf(stderr, "setup failed\n");
    return 1;
  }
  Echo::Stub direct{channel::remote(a.n->handle(), "127.0.0.1", b.n->port())};
  Echo::Stub named{a.c->channel()};
  std::vector<double> direct_rates, named_rates, ratios, joins, leaves, failovers;
  for (int r = 0; r < runs; ++r) {
    // Alternate which goes first: the first of a pair runs on a colder
    // system.
    double direct_rate = 0;
    double named_rate = 0;
    if (r % 2 == 0) {
      direct_rate = closed_loop(sys, direct);
      named_rate = closed_loop(sys, named);
    } else {
      named_rate = closed_loop(sys, named);
      direct_rate = closed_loop(sys, direct);
    }
    direct_rates.push_back(direct_rate);
    named_rates.push_back(named_rate);
    ratios.push_back(direct_rate > 0 ? named_rate / direct_rate : 0);
    // Membership: a new member joins, leaves; another one's node stops.
    troupe::testing::member_watch watch{sys, *a.c};
    member_node c;
    auto t0 = clock_type::now();
    join(c);
    auto c_id = c.c->id();
    watch.await_state(c_id, member_state::up, 20s);
    auto up = watch.when(c_id, member_state::up);
    auto t1 = clock_type::now();
    c.c->stop();
    watch.await_state(c_id, member_state::removed, 20s);
    auto removed = watch.when(c_id, member_state::removed);
    member_node d;
    join(d);
    auto d_id = d.c->id();
    watch.await_state(d_id, member_state::up, 20s);
    auto t2 = clock_type::now();
    d.n->stop();
    watch.await_state(d_id, member_state::down, 20s);
    auto down = watch.when(d_id, member_state::down);
    joins.push_back(up ? ms(t0, *up) : -1);
    leaves.push_back(removed ? ms(t1, *removed) : -1);
    failovers.push_back(down ? ms(t2, *down) : -1);
    std::printf(
      "run %d: direct %.0f calls/s, by name %.0f calls/s (ratio %.3f); join %.1f ms, "
      "leave %.1f ms, failover %.1f ms\n",
      r + 1, direct_rate, named_rate, ratios.back(), joins.back(), leaves.back(),
      failovers.back());
    d.c.reset();
    d.n.reset();
    c.c.reset();
    c.n.reset();
  }
  caf::anon_send_exit(*services, caf::exit_reason::user_shutdown);
  b.c.reset();
  a.c.reset();
  b.n.reset();
  a.n.reset();
  std::printf("cluster direct_calls_per_s=%.0f named_calls_per_s=%.0f resolved_ratio=%.3f "
              "join_ms=%.1f leave_ms=%.1f failover_ms=%.1f\n",
              median(direct_rates), median(named_rates), median(ratios), median(joins),
              median(leaves), median(failovers));
  return 0;
}
