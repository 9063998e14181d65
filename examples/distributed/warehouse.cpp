// The warehouse: a supervised pricing actor and a supervised, exported order
// stream.

#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <unordered_map>
#include <utility>

#include "shop.pb.h"

#include <caf/all.hpp>

#include <troupe/actors/producer.hpp>
#include <troupe/supervisors/graceful_shutdown.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/atoms.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/remote_stream.hpp>

#include "demo.hpp"

using namespace std::chrono_literals;

namespace {

using answer_atom = caf::atom_constant<caf::atom("answer")>;

/// The pricing actor. A request with `think_ms` is answered later: its promise
/// waits in `pending` under an id, and a delayed `(answer_atom, id)` delivers
/// it. The request handler stays installed meanwhile, so other requests (slow
/// or not) are served while replies are pending. (Not `become(keep_behavior,
/// ...)` with only an answer handler: that would turn every request arriving
/// in the meantime into `unexpected_message`.)
caf::behavior pricing(caf::event_based_actor* self, uint32_t incarnation) {
  using promise = caf::typed_response_promise<shop::v1::Quote>;
  auto quote = [=](const shop::v1::QuoteRequest& req) {
    shop::v1::Quote q;
    q.set_item(req.item());
    q.set_total_cents(req.quantity() * 250);
    q.set_priced_by(incarnation);
    return q;
  };
  auto pending =
    std::make_shared<std::unordered_map<uint64_t, std::pair<promise, shop::v1::Quote>>>();
  auto next_id = std::make_shared<uint64_t>(0);
  return {
    [=](const shop::v1::QuoteRequest& req) -> caf::result<shop::v1::Quote> {
      if (req.crash())
        throw std::runtime_error("pricing table corrupted");
      if (req.think_ms() == 0)
        return quote(req);
      auto rp = self->make_response_promise<shop::v1::Quote>();
      auto id = ++*next_id;
      pending->emplace(id, std::make_pair(rp, quote(req)));
      self->delayed_send(self, std::chrono::milliseconds{req.think_ms()}, answer_atom::value,
                         id);
      return rp;
    },
    [=](answer_atom, uint64_t id) {
      auto i = pending->find(id);
      if (i != pending->end()) {
        i->second.first.deliver(i->second.second);
        pending->erase(i);
      }
    },
  };
}

} // namespace

int run_warehouse(caf::actor_system& sys, const demo_config& cfg) {
  using namespace troupe;
  auto ncfg = transport::node_config::from(sys.config()); // --troupe.node.* settings
  if (cfg.port != 0)
    ncfg.port = cfg.port; // --port, the demo's short form
  auto n = transport::node::start(sys, ncfg);
  if (!n) {
    std::cerr << "warehouse: " << sys.render(n.error()) << "\n";
    return 1;
  }
  // The pricing actor runs under a supervisor; each incarnation publishes
  // itself, so the name keeps working across restarts.
  auto node_handle = n->handle();
  auto incarnations = std::make_shared<uint32_t>(0);
  supervisors::supervisor_config root;
  root.name = "warehouse";
  root.intensity = {3, 10s};
  root.restart_backoff =
    actors::backoff::exponential(50ms, 1s).with_jitter(actors::jitter::full);
  root.children.push_back(supervisors::child_spec{
    "pricing", [=](const supervisors::start_context& ctx) -> caf::expected<caf::actor> {
      auto a = ctx.system.spawn(pricing, ++*incarnations);
      caf::anon_send(node_handle, transport::publish_atom::value, a, std::string{"pricing"},
                     transport::delivery::payload);
      return a;
    }});
  // The order stream: a supervised producer, pulled only as fast as the
  // shop consumes it. A restarted incarnation resumes after the last order
  // the shop acknowledged (the committed position); a SIGTERM drains it (the
  // shop gets what was sent before the warehouse stops); a finished stream
  // is not a crash (transient).
  auto committed = std::make_shared<std::atomic<actors::seq_t>>(0);
  actors::producer_config pcfg{64, 30s};
  pcfg.drain_timeout = 2s;
  pcfg.on_commit = [committed](actors::seq_t at) { committed->store(at); };
  auto total = cfg.orders;
  supervisors::child_spec orders_spec{
    "orders", [=](const supervisors::start_context& ctx) -> caf::expected<caf::actor> {
      auto from = committed->load();
      auto ocfg = pcfg;
      ocfg.first_seq = from + 1; // order ids are sequence numbers
      return actors::spawn_producer<shop::v1::Order>(
        ctx.system, ocfg,
        [next = from + 1, total](size_t demand, std::vector<shop::v1::Order>& out) mutable {
          while (out.size() < demand && next <= total) {
            out.emplace_back();
            out.back().set_id(next);
            out.back().set_cents(static_cast<uint32_t>(100 + next % 900));
            ++next;
          }
          return next > total ? actors::pull_status::done : actors::pull_status::more;
        });
    }};
  orders_spec.restart = supervisors::restart_type::transient;
  orders_spec.shutdown = supervisors::shutdown_policy::timeout(3s);
  root.children.push_back(orders_spec);
  auto tree = supervisors::spawn_supervisor(sys, root);
  if (!tree) {
    std::cerr << "warehouse: " << sys.render(tree.error()) << "\n";
    return 1;
  }
  // Exported by name in the supervisor: the stream survives restarts.
  auto orders = actors::upstream_ref::lookup(caf::actor_cast<caf::actor>(*tree), "orders");
  if (!transport::export_stream<shop::v1::Order>(*n, orders, "orders")) {
    std::cerr << "warehouse: cannot export the order stream\n";
    return 1;
  }
  std::printf("warehouse listening on 127.0.0.1:%u\n", static_cast<unsigned>(n->port()));
  std::fflush(stdout);
  supervisors::graceful_shutdown_config shutdown;
  shutdown.deadline = 5s;
  auto rc = supervisors::run_with_graceful_shutdown(sys, *tree, shutdown);
  n->stop();
  return rc;
}
