#pragma once

// A small live system for the observability tests: supervisor "demo" with a
// worker that crashes on demand and a supervised pipeline "orders" (a source
// of 200 numbers, then waiting, and a consumer "sink"), plus a node. Forcing
// restarts waits for the supervisor's own `started` event: no sleeps.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

#include <caf/all.hpp>

#include <troupe/actors/observers.hpp>
#include <troupe/observability/system_config.hpp>
#include <troupe/supervisors/atoms.hpp>
#include <troupe/supervisors/pipeline.hpp>
#include <troupe/supervisors/supervision_event.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/node.hpp>

namespace troupe::testing {

/// Bounds reading an event stream that should have delivered long before.
inline constexpr std::chrono::seconds stream_bound{30};

using crash_atom = caf::atom_constant<caf::atom("crash")>;

inline caf::behavior crashable_worker(caf::event_based_actor* self) {
  return {[self](crash_atom) {
            self->quit(caf::make_error(caf::sec::runtime_error, "forced by the test"));
          },
          [self](crash_atom, const std::string& why) {
            self->quit(caf::make_error(caf::sec::runtime_error, why));
          }};
}

struct observed_tree {
  static constexpr int64_t items = 200;

  troupe::observability::system_config cfg;
  caf::actor_system sys{cfg};
  caf::actor root;
  std::optional<troupe::transport::node> node;
  std::mutex mtx;
  std::condition_variable cv;
  int64_t handled = 0;

  observed_tree() {
    supervisors::pipeline orders{supervisors::pipeline_config{"orders"}};
    orders.source<int64_t>("source", [](actors::seq_t committed) {
      auto next = std::make_shared<int64_t>(static_cast<int64_t>(committed));
      return [next](size_t n, std::vector<int64_t>& out) {
        while (out.size() < n && *next < items)
          out.push_back(++*next);
        return *next < items ? actors::pull_status::more : actors::pull_status::wait;
      };
    });
    orders.consumer<int64_t>(
      "sink", "source",
      [this](int64_t) {
        std::lock_guard<std::mutex> guard{mtx};
        ++handled;
        cv.notify_all();
      },
      actors::consumer_config{16});
    supervisors::supervisor_config scfg;
    scfg.name = "demo";
    scfg.intensity = {10, std::chrono::seconds{10}};
    scfg.children = {supervisors::child_spec{
                       "worker",
                       [](const supervisors::start_context& ctx) -> caf::expected<caf::actor> {
                         return ctx.system.spawn(crashable_worker);
                       }},
                     supervisors::supervisor_child("orders", orders.config())};
    auto sup = supervisors::spawn_supervisor(sys, scfg);
    REQUIRE(sup);
    root = caf::actor_cast<caf::actor>(*sup);
    auto n = troupe::transport::node::start(sys);
    REQUIRE(n);
    node.emplace(std::move(*n));
  }

  ~observed_tree() {
    node.reset();
    supervisors::request_shutdown(root);
  }

  /// Waits (bounded) until the sink handled every item.
  bool drained() {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, std::chrono::seconds{30}, [this] { return handled >= items; });
  }

  /// Crashes the worker `times` times, each time waiting for its restart;
  /// with `why` as the error's text if not empty.
  void crash_worker(int times, const std::string& why = "") {
    caf::scoped_actor self{sys};
    self
      ->request(root, std::chrono::seconds{5}, actors::subscribe_atom::value, caf::actor{self})
      .receive([](caf::ok_atom) {}, [](caf::error& err) { FAIL(caf::to_string(err)); });
    for (int i = 0; i < times; ++i) {
      supervisors::child_info worker;
      self->request(root, std::chrono::seconds{5}, supervisors::which_children_atom::value)
        .receive(
          [&](std::vector<supervisors::child_info>& xs) {
            for (auto& x : xs)
              if (x.id == "worker")
                worker = x;
          },
          [](caf::error& err) { FAIL(caf::to_string(err)); });
      REQUIRE(worker.handle);
      if (why.empty())
        self->send(worker.handle, crash_atom::value);
      else
        self->send(worker.handle, crash_atom::value, why);
      bool restarted = false;
      while (!restarted)
        self->receive(
          [&](const supervisors::supervision_event& e) {
            restarted = e.kind == supervisors::event_kind::started && e.child == "worker"
              && e.restarts == worker.restarts + 1;
          },
          caf::after(std::chrono::seconds{10}) >> [&] { FAIL("worker not restarted"); });
    }
    self->send(root, actors::unsubscribe_atom::value, caf::actor{self});
  }
};

} // namespace troupe::testing
