#include "troupe/observability/tree_snapshot.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <caf/actor_cast.hpp>
#include <caf/monitorable_actor.hpp>
#include <caf/scoped_actor.hpp>

#include <troupe/actors/credit.hpp>
#include <troupe/supervisors/atoms.hpp>

namespace troupe::observability {

namespace {

/// CAF's `name()` of a running actor (a string literal of its class).
std::string type_of(const caf::actor& x) {
  if (!x)
    return {};
  // Every actor CAF spawns is a monitorable_actor, where name() lives.
  auto* self = dynamic_cast<caf::monitorable_actor*>(caf::actor_cast<caf::abstract_actor*>(x));
  return self != nullptr ? self->name() : std::string{};
}

class collector {
public:
  collector(caf::actor_system& sys, caf::timespan timeout)
    : self_(sys),
      timeout_(timeout),
      deadline_(std::chrono::steady_clock::now() + 4 * timeout) {
    // nop
  }

  /// Bound of the next ask: `timeout`, and the whole walk at most four
  /// times that (a tree of slow actors cannot hold a scrape for long).
  caf::timespan bound() const {
    auto left =
      std::chrono::duration_cast<caf::timespan>(deadline_ - std::chrono::steady_clock::now());
    return std::max(caf::timespan{1}, std::min(timeout_, left));
  }

  bool seen(const caf::actor& x) {
    for (auto& v : visited_)
      if (v == x)
        return true;
    return false;
  }

  supervisor_view visit(const caf::actor& sup, const std::string& fallback_path) {
    supervisor_view view;
    view.report.path = fallback_path;
    self_->request(sup, bound(), supervisors::report_atom::value)
      .receive(
        [&](supervisors::supervisor_report& r) {
          view.answered = true;
          view.report = std::move(r);
        },
        [&](caf::error&) { view.answered = false; });
    if (!view.answered)
      return view;
    for (auto& info : view.report.children) {
      child_view child;
      child.info = info;
      child.path = view.report.path + "/" + info.id;
      child.type = type_of(info.handle);
      if (child.type == "troupe.supervisor") {
        child.supervisor.push_back(visit(info.handle, child.path));
      } else if (child.type == "troupe.flow" || child.type == "troupe.fetcher") {
        self_->request(info.handle, bound(), actors::flow_stats_atom::value)
          .receive([&](actors::flow_stats& st) { child.flow = st; }, [](caf::error&) {});
        if (child.type == "troupe.fetcher")
          self_->request(info.handle, bound(), actors::fetch_stats_atom::value)
            .receive([&](actors::fetch_stats& st) { child.fetch = std::move(st); },
                     [](caf::error&) {});
      } else if (child.type == "troupe.mailbox") {
        self_->request(info.handle, bound(), actors::mailbox_stats_atom::value)
          .receive([&](actors::mailbox_stats& st) { child.mailbox = st; }, [](caf::error&) {});
      } else if (child.type == "troupe.service") {
        self_->request(info.handle, bound(), services::service_report_atom::value)
          .receive([&](services::service_report& r) { child.service = std::move(r); },
                   [](caf::error&) {});
      }
      view.children.push_back(std::move(child));
    }
    // The handles were for asking; a snapshot holds no actor alive.
    for (auto& info : view.report.children)
      info.handle = nullptr;
    for (auto& c : view.children)
      c.info.handle = nullptr;
    visited_.push_back(sup);
    return view;
  }

  std::vector<caf::actor> visited() {
    return std::move(visited_);
  }

private:
  caf::scoped_actor self_;
  caf::timespan timeout_;
  std::chrono::steady_clock::time_point deadline_;
  std::vector<caf::actor> visited_;
};

} // namespace

tree_snapshot take_snapshot(caf::actor_system& sys, const std::vector<caf::actor>& roots,
                            caf::timespan timeout, std::vector<caf::actor>* answered) {
  auto started = std::chrono::steady_clock::now();
  tree_snapshot result;
  collector c{sys, timeout};
  for (size_t i = 0; i < roots.size(); ++i)
    if (roots[i] && !c.seen(roots[i])) // a root listed twice is walked once
      result.roots.push_back(c.visit(roots[i], "root" + std::to_string(i)));
  if (answered != nullptr)
    *answered = c.visited();
  result.took =
    std::chrono::duration_cast<caf::timespan>(std::chrono::steady_clock::now() - started);
  return result;
}

} // namespace troupe::observability
