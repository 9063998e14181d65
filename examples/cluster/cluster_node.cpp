// troupe-cluster-node: one member of the cluster demo (scripts/run-cluster-demo).
//
// Every member joins the cluster through the provider its config names
// (etcd by default: --troupe.cluster.etcd-endpoints=...), runs the
// Inventory service supervised, publishes it on its node and advertises it.
// It prints "READY <member id> <host:port>", one "EVENT <address> <state>
// <member id>" line per membership change it sees, and serves until
// SIGTERM / SIGINT or --lifetime-s.
//
// With --workload, it also calls Inventory.Check by service name (no host,
// no port) from --call-threads threads, streams Inventory.Changes from
// another member, and takes commands, one per line, from the --control
// FIFO, answering on stdout:
//
//   expect <n>      waits until n members run the service    -> INSTANCES <n>
//   kill <address>  that member was just killed: times the
//                   moment it is seen down                     -> FAILOVER <ms>
//   cut <address>   its link was just cut                      -> PARTITION DETECTED <ms>
//   heal <address>  its link is back: waits until it is up and
//                   one of its calls succeeded                 -> PARTITION HEALED <ms>
//   finish          stops the calls and prints the summary:
//   cluster hosts=<n> members_up=<n> calls=<n> ok=<n> failed_typed=<n> lost=<n>
//           failover_ms=<ms> partition_healed=<yes|no>
// `lost` counts calls that got neither a reply nor a typed status.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>

#include <troupe/actors/consumer.hpp>
#include <troupe/cluster/cluster.hpp>
#include <troupe/cluster/system_config.hpp>
#include <troupe/services/rpc_errc.hpp>
#include <troupe/services/service_child.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/node.hpp>

#include "inventory.pb.h"
#include "inventory_service.hpp"
#include "stop_signals.hpp" // examples/common

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using inventory::v1::Inventory;

namespace {

struct node_config_t : troupe::cluster::system_config {
  node_config_t() {
    opt_group{custom_options_, "global"}
      .add(workload, "workload", "also run the workload (calls, a stream, commands)")
      .add(control, "control", "workload: the FIFO to read commands from")
      .add(hosts, "hosts", "workload: hosts in the demo, for the summary line")
      .add(call_threads, "call-threads", "workload: threads calling by service name")
      .add(stream_items, "stream-items",
           "workload: stock changes to stream from another member")
      .add(lifetime_s, "lifetime-s", "exit after this many seconds whatever happens");
  }
  bool workload = false;
  std::string control;
  uint32_t hosts = 1;
  uint32_t call_threads = 4;
  uint32_t stream_items = 1000;
  uint32_t lifetime_s = 300;
};

/// What the member sees of the cluster: the latest state per member and
/// when each member was last seen in each state.
class membership_view {
public:
  void on_event(const troupe::cluster::member_event& ev) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& m = members_[ev.who.id];
    m.address = ev.who.address();
    m.state = ev.who.state;
    m.since[ev.who.state] = clock_type::now();
    std::printf("EVENT %s %s %s\n", m.address.c_str(), to_string(ev.who.state).c_str(),
                ev.who.id.c_str());
    cv_.notify_all();
  }

  /// Waits until a member at `address` is in `state` (entered after
  /// `after`); the time it entered it.
  std::optional<clock_type::time_point> await(const std::string& address,
                                              troupe::cluster::member_state state,
                                              clock_type::time_point after,
                                              std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> guard{mtx_};
    std::optional<clock_type::time_point> result;
    cv_.wait_for(guard, timeout, [&] {
      for (auto& [id, m] : members_) {
        auto i = m.since.find(state);
        if (m.address == address && i != m.since.end() && i->second >= after) {
          result = i->second;
          return true;
        }
      }
      return false;
    });
    return result;
  }

  std::string address_of(const std::string& id) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = members_.find(id);
    return i != members_.end() ? i->second.address : std::string{};
  }

  int up() {
    std::lock_guard<std::mutex> guard{mtx_};
    return count_up();
  }

  /// Waits (at most `timeout`) until `n` members are up; how many are.
  int await_up(int n, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> guard{mtx_};
    cv_.wait_for(guard, timeout, [&] { return count_up() >= n; });
    return count_up();
  }

private:
  int count_up() const {
    int n = 0;
    for (auto& [id, m] : members_)
      n += m.state == troupe::cluster::member_state::up ? 1 : 0;
    return n;
  }

  struct seen {
    std::string address;
    troupe::cluster::member_state state = troupe::cluster::member_state::joining;
    std::map<troupe::cluster::member_state, clock_type::time_point> since;
  };
  std::mutex mtx_;
  std::condition_variable cv_;
  std::map<std::string, seen> members_;
};

/// Calls by service name from several threads and counts the outcomes.
class call_load {
public:
  call_load(const troupe::services::channel& ch, membership_view& view, uint32_t threads)
    : stub_(ch), view_(view) {
    for (uint32_t i = 0; i < threads; ++i)
      threads_.emplace_back([this, i] { run(i); });
  }

  ~call_load() {
    stop();
  }

  void stop() {
    done_ = true;
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
  }

  /// Waits until a call served by a member at `address` succeeded after
  /// `after`.
  bool await_served_by(const std::string& address, clock_type::time_point after,
                       std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, timeout, [&] {
      auto i = last_ok_by_.find(address);
      return i != last_ok_by_.end() && i->second >= after;
    });
  }

  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed_typed{0};
  std::atomic<uint64_t> untyped{0};

private:
  void run(uint32_t index) {
    inventory::v1::StockQuery q;
    for (uint64_t n = 0; !done_; ++n) {
      q.set_sku("sku-" + std::to_string(index) + "-" + std::to_string(n % 100));
      ++calls;
      auto reply = stub_.check(q, 1s);
      if (reply) {
        ++ok;
        auto address = view_.address_of(reply->served_by());
        std::lock_guard<std::mutex> guard{mtx_};
        last_ok_by_[address] = clock_type::now();
        cv_.notify_all();
      } else if (reply.error().category() == troupe::services::rpc_errc_category) {
        ++failed_typed;
        std::lock_guard<std::mutex> guard{mtx_};
        ++failures_[to_string(static_cast<troupe::services::rpc_errc>(reply.error().code()))];
      } else {
        ++untyped;
      }
    }
  }

public:
  /// "unavailable=12 deadline_exceeded=3" (typed failures by status).
  std::string failures() {
    std::lock_guard<std::mutex> guard{mtx_};
    std::string result;
    for (auto& [status, n] : failures_)
      result += (result.empty() ? "" : " ") + status + "=" + std::to_string(n);
    return result.empty() ? "none" : result;
  }

private:
  std::map<std::string, uint64_t> failures_;
  Inventory::Stub stub_;
  membership_view& view_;
  std::atomic<bool> done_{false};
  std::vector<std::thread> threads_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::map<std::string, clock_type::time_point> last_ok_by_;
};

long long ms_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

/// Streams `n` stock changes from the member at `address`; returns how
/// many arrived.
uint64_t stream_from(caf::actor_system& sys, troupe::transport::node& node,
                     const troupe::cluster::member& m, uint32_t n) {
  Inventory::Stub stub{troupe::services::channel::remote(node.handle(), m.host, m.port)};
  inventory::v1::ChangesQuery q;
  q.set_sku("sku-stream");
  q.set_count(n);
  // Opening the stream only reads, so a call that failed `unavailable` (it
  // may have been sent on a connection dropped as a duplicate when both
  // nodes dialed each other) is simply made again, a few times.
  auto producer = stub.changes(q, 64, 10s);
  for (int retry = 1; retry <= 3 && !producer
       && troupe::services::status_of(producer.error())
         == troupe::services::rpc_errc::unavailable;
       ++retry) {
    std::printf("STREAM retry %d after %s\n", retry, sys.render(producer.error()).c_str());
    producer = stub.changes(q, 64, 10s);
  }
  if (!producer) {
    std::printf("STREAM failed: %s\n", sys.render(producer.error()).c_str());
    return 0;
  }
  auto received = std::make_shared<std::atomic<uint64_t>>(0);
  caf::scoped_actor self{sys};
  auto consumer = troupe::actors::spawn_consumer<inventory::v1::StockChange>(
    sys, *producer, troupe::actors::consumer_config{16},
    [received](const inventory::v1::StockChange&) { ++*received; },
    [to = caf::actor{self}](const caf::error& err) { caf::anon_send(to, err); });
  if (!consumer)
    return 0;
  self->receive([](caf::error&) {}, caf::after(60s) >> [] {});
  return *received;
}

int run_workload(caf::actor_system& sys, const node_config_t& cfg,
                 troupe::transport::node& node, troupe::cluster::cluster& cl,
                 membership_view& view) {
  const std::string service = Inventory::full_name;
  // Every host's member first, then the stream from another one.
  auto running = cl.await_instances(service, cfg.hosts, 60s);
  std::printf("INSTANCES %zu\n", running.size());
  std::optional<troupe::cluster::member> other;
  if (auto members = cl.members())
    for (auto& m : *members)
      if (m.id != cl.id() && m.state == troupe::cluster::member_state::up)
        other = m;
  if (other) {
    auto got = stream_from(sys, node, *other, cfg.stream_items);
    std::printf("STREAM received %llu of %u stock changes from %s\n",
                static_cast<unsigned long long>(got), cfg.stream_items,
                other->address().c_str());
  }
  call_load load{cl.channel(), view, cfg.call_threads};
  std::printf("WORKLOAD STARTED\n");
  long long failover_ms = -1;
  bool healed = false;
  std::ifstream control{cfg.control};
  std::string line;
  while (std::getline(control, line)) {
    std::istringstream in{line};
    std::string cmd;
    std::string arg;
    in >> cmd >> arg;
    auto now = clock_type::now();
    if (cmd == "expect") {
      auto n = static_cast<uint32_t>(std::stoul(arg));
      auto got = cl.await_instances(service, n, 60s);
      std::printf("INSTANCES %zu\n", got.size());
    } else if (cmd == "kill") {
      auto down = view.await(arg, troupe::cluster::member_state::down, now, 30s);
      failover_ms = down ? ms_between(now, *down) : -1;
      std::printf("FAILOVER %lld\n", failover_ms);
    } else if (cmd == "cut") {
      auto down = view.await(arg, troupe::cluster::member_state::down, now, 30s);
      std::printf("PARTITION DETECTED %lld\n", down ? ms_between(now, *down) : -1LL);
    } else if (cmd == "heal") {
      auto up = view.await(arg, troupe::cluster::member_state::up, now, 60s);
      healed = up && load.await_served_by(arg, now, 60s);
      std::printf("PARTITION %s %lld\n", healed ? "HEALED" : "NOT HEALED",
                  up ? ms_between(now, *up) : -1LL);
    } else if (cmd == "finish") {
      break;
    } else {
      std::printf("UNKNOWN COMMAND %s\n", line.c_str());
    }
  }
  load.stop();
  // Members up once things settled: a member that a slow machine's failure
  // detector took down for a moment right after the heal counts once back.
  auto members_up = view.await_up(static_cast<int>(cfg.hosts), 30s);
  std::printf("FAILURES %s\n", load.failures().c_str());
  // Every call the threads made ended (the stub's deadline bounds each):
  // one that got neither a reply nor a typed status is lost.
  auto lost = load.calls - load.ok - load.failed_typed;
  std::printf("cluster hosts=%u members_up=%d calls=%llu ok=%llu failed_typed=%llu lost=%llu "
              "failover_ms=%lld partition_healed=%s\n",
              cfg.hosts, members_up, static_cast<unsigned long long>(load.calls.load()),
              static_cast<unsigned long long>(load.ok.load()),
              static_cast<unsigned long long>(load.failed_typed.load()),
              static_cast<unsigned long long>(lost), failover_ms, healed ? "yes" : "no");
  return lost == 0 && healed && failover_ms >= 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  troupe_examples::stop_signals stop_signals; // first: every thread inherits the mask
  node_config_t cfg;
  if (auto err = cfg.parse_args(argc, argv)) {
    std::cerr << "troupe-cluster-node: " << to_string(err) << "\n";
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  caf::actor_system sys{cfg};
  auto node = troupe::transport::node::start(sys);
  if (!node) {
    std::cerr << "cannot start the node: " << sys.render(node.error()) << "\n";
    return 1;
  }
  auto provider = troupe::cluster::provider_from(sys.config());
  if (!provider) {
    std::cerr << "bad cluster settings: " << sys.render(provider.error()) << "\n";
    return 2;
  }
  auto cl = troupe::cluster::cluster::start(
    sys, *node, troupe::cluster::cluster_config_from(sys.config()), std::move(*provider));
  if (!cl) {
    std::cerr << "cannot start the cluster: " << sys.render(cl.error()) << "\n";
    return 2;
  }
  membership_view view;
  auto recorder = sys.spawn([&view]() -> caf::behavior {
    return {[&view](const troupe::cluster::member_event& ev) { view.on_event(ev); }};
  });
  cl->subscribe(recorder);
  if (auto err = cl->wait_joined(30s))
    std::cerr << "not registered yet: " << sys.render(err) << " (still trying)\n";
  troupe::supervisors::supervisor_config sup;
  sup.name = "services";
  sup.children.push_back(troupe::services::service_child<inventory_service>(
    troupe::services::service_options{}.published_on(node->handle()), cl->id()));
  auto services = troupe::supervisors::spawn_supervisor(sys, sup);
  if (!services) {
    std::cerr << "cannot start the services: " << sys.render(services.error()) << "\n";
    return 1;
  }
  if (auto err = cl->advertise(Inventory::full_name)) {
    std::cerr << "cannot advertise: " << sys.render(err) << "\n";
    return 1;
  }
  auto members = cl->members();
  if (!members || members->empty()) {
    std::cerr << "cannot ask the cluster for its members\n";
    return 1;
  }
  std::printf("READY %s %s\n", cl->id().c_str(), members->front().address().c_str());
  int rc = 0;
  if (cfg.workload) {
    rc = run_workload(sys, cfg, *node, *cl, view);
  } else {
    stop_signals.wait(std::chrono::seconds{cfg.lifetime_s});
  }
  cl->stop();
  caf::anon_send_exit(recorder, caf::exit_reason::user_shutdown);
  troupe::supervisors::stop_and_wait(sys, *services, 10s);
  node->stop();
  return rc;
}
