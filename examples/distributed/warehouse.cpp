// The warehouse: the generated Warehouse service, supervised and published
// under its name on this process's node. No hand-written publish, no
// re-publish after a restart: `service_child` does both.

#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <stdexcept>

#include "shop.pb.h"

#include <caf/all.hpp>

#include <troupe/actors/log.hpp>
#include <troupe/observability/endpoint.hpp>
#include <troupe/services/service_child.hpp>
#include <troupe/supervisors/graceful_shutdown.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/node.hpp>

#include "demo.hpp"

using namespace std::chrono_literals;
using namespace troupe::services;

namespace {

class warehouse final : public shop::v1::Warehouse::Service {
public:
  warehouse(std::shared_ptr<std::atomic<uint32_t>> incarnations, uint64_t total_orders)
    : incarnations_(std::move(incarnations)), total_orders_(total_orders) {
    // nop
  }

  void on_start() override {
    incarnation_ = ++*incarnations_;
  }

  reply<shop::v1::Quote> get_quote(server_call& call,
                                   const shop::v1::QuoteRequest& req) override {
    // The line carries the call's trace and request id, as the shop's does.
    troupe::actors::logger("warehouse")->info("quoting {} x{}", req.item(), req.quantity());
    if (req.crash())
      throw std::runtime_error("pricing table corrupted"); // the caller gets `internal`
    shop::v1::Quote q;
    q.set_item(req.item());
    q.set_total_cents(req.quantity() * 250);
    q.set_priced_by(incarnation_);
    if (req.think_ms() == 0)
      return q;
    // Answered later; other calls are served meanwhile.
    auto later = call.defer<shop::v1::Quote>();
    after(std::chrono::milliseconds{req.think_ms()},
          [later, q]() mutable { later.deliver(q); });
    return later;
  }

  stream_reply<shop::v1::Order> orders(server_call&,
                                       const shop::v1::OrderQuery& query) override {
    auto last = query.count() != 0 ? std::min(query.count(), total_orders_) : total_orders_;
    // A SIGTERM drains the stream: what was sent is finished before the
    // warehouse stops (within 2 s).
    troupe::actors::producer_config cfg{64, 30s};
    cfg.drain_timeout = 2s;
    return {[next = query.after() + 1, last](size_t demand,
                                             std::vector<shop::v1::Order>& out) mutable {
              while (out.size() < demand && next <= last) {
                out.emplace_back();
                out.back().set_id(next);
                out.back().set_cents(static_cast<uint32_t>(100 + next % 900));
                ++next;
              }
              return next > last ? troupe::actors::pull_status::done
                                 : troupe::actors::pull_status::more;
            },
            cfg};
  }

private:
  std::shared_ptr<std::atomic<uint32_t>> incarnations_;
  uint64_t total_orders_;
  uint32_t incarnation_ = 0;
};

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
  supervisors::supervisor_config root;
  root.name = "warehouse";
  root.intensity = {3, 10s};
  root.restart_backoff =
    actors::backoff::exponential(50ms, 1s).with_jitter(actors::jitter::full);
  root.children.push_back(service_child<warehouse>(service_options{}.published_on(n->handle()),
                                                   std::make_shared<std::atomic<uint32_t>>(0),
                                                   cfg.orders));
  auto tree = supervisors::spawn_supervisor(sys, root);
  if (!tree) {
    std::cerr << "warehouse: " << sys.render(tree.error()) << "\n";
    return 1;
  }
  std::printf("warehouse listening on 127.0.0.1:%u\n", static_cast<unsigned>(n->port()));
  // --troupe.http.port=<p>: metrics, the live tree, events and the dashboard.
  std::unique_ptr<observability::endpoint> http;
  if (auto http_cfg = observability::endpoint_config::from(sys.config())) {
    auto started = observability::endpoint::start(
      sys, *http_cfg, {{caf::actor_cast<caf::actor>(*tree), n->supervisor()}, &*n, {}});
    if (!started) {
      std::cerr << "warehouse: " << sys.render(started.error()) << "\n";
      return 1;
    }
    http = std::move(*started);
    std::printf("warehouse dashboard on %s/\n", http->url().c_str());
  }
  std::fflush(stdout);
  // [cookbook:graceful_shutdown]
  supervisors::graceful_shutdown_config shutdown;
  shutdown.deadline = 5s;
  auto rc = supervisors::run_with_graceful_shutdown(sys, *tree, shutdown);
  // [/cookbook:graceful_shutdown]
  if (http)
    http->stop();
  n->stop();
  return rc;
}
