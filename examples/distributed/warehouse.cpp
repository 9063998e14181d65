// The warehouse: a supervised pricing actor and an exported order stream.

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
  transport::node_config ncfg;
  ncfg.port = cfg.port;
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
  auto tree = supervisors::spawn_supervisor(sys, root);
  if (!tree) {
    std::cerr << "warehouse: " << sys.render(tree.error()) << "\n";
    return 1;
  }
  // The order stream: pulled only as fast as the shop consumes it.
  uint64_t next = 1;
  auto total = cfg.orders;
  auto orders = actors::spawn_producer<shop::v1::Order>(
    sys, actors::producer_config{64, 30s},
    [&next, total](size_t demand, std::vector<shop::v1::Order>& out) {
      while (out.size() < demand && next <= total) {
        out.emplace_back();
        out.back().set_id(next);
        out.back().set_cents(static_cast<uint32_t>(100 + next % 900));
        ++next;
      }
      return next > total ? actors::pull_status::done : actors::pull_status::more;
    });
  if (!orders || !transport::export_stream<shop::v1::Order>(*n, *orders, "orders")) {
    std::cerr << "warehouse: cannot export the order stream\n";
    return 1;
  }
  std::printf("warehouse listening on 127.0.0.1:%u\n", static_cast<unsigned>(n->port()));
  std::fflush(stdout);
  supervisors::graceful_shutdown_config shutdown;
  shutdown.deadline = 5s;
  auto rc = supervisors::run_with_graceful_shutdown(sys, *tree, shutdown);
  caf::anon_send_exit(*orders, caf::exit_reason::user_shutdown);
  n->stop();
  return rc;
}
