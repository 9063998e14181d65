// The endpoint: cpp-httplib on a thread of its own (plus its worker pool),
// an event hub actor subscribed to the supervisors and the node, and the
// renderers of render.hpp.

#include "troupe/observability/endpoint.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include <httplib.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/settings.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <troupe/actors/log.hpp>
#include <troupe/actors/observers.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/transport_errc.hpp>

#include "event_feed.hpp"
#include "peer_counters.hpp"
#include "render.hpp"

namespace troupe::observability {

namespace internal {

/// The dashboard page (dashboard.html, embedded at build time).
const std::string& dashboard_html();

/// Asks the hub to answer once it handled what reached it before.
using hub_sync_atom = caf::atom_constant<caf::atom("trp_osync")>;

/// Receives every supervision event of the supervisors it is subscribed to
/// and every peer event of the node: counts peers, feeds the event stream.
using event_hub_actor =
  caf::typed_actor<caf::reacts_to<supervisors::supervision_event>,
                   caf::reacts_to<transport::peer_event>, caf::reacts_to<caf::ok_atom>,
                   caf::replies_to<hub_sync_atom>::with<caf::ok_atom>>;

class event_hub : public event_hub_actor::base {
public:
  event_hub(caf::actor_config& cfg, std::shared_ptr<event_feed> feed,
            std::shared_ptr<peer_counters> peers)
    : event_hub_actor::base(cfg), feed_(std::move(feed)), peers_(std::move(peers)) {
    // nop
  }

  const char* name() const override {
    return "troupe.observability.hub";
  }

  behavior_type make_behavior() override {
    return {
      [this](const supervisors::supervision_event& e) { feed_->push(event_json(e)); },
      [this](const transport::peer_event& e) {
        {
          std::lock_guard<std::mutex> guard{peers_->mtx};
          auto& c = peers_->counts;
          if (e.status == transport::peer_status::up) {
            c.up.insert(e.node_id);
            ++c.up_events;
          } else {
            c.up.erase(e.node_id);
            ++c.down_by_reason[reason_label(e.reason)];
          }
        }
        feed_->push(event_json(e));
      },
      [](caf::ok_atom) {
        // A supervisor's reply to a subscription.
      },
      [](hub_sync_atom) {
        // Every event queued before this request is in the feed now.
        return caf::ok_atom::value;
      },
    };
  }

private:
  std::shared_ptr<event_feed> feed_;
  std::shared_ptr<peer_counters> peers_;
};

} // namespace internal

// -- config -------------------------------------------------------------------

caf::error endpoint_config::validate() const {
  if (host.empty())
    return caf::make_error(transport::transport_errc::invalid_config,
                           "troupe.http.host must not be empty");
  if (collect_timeout <= caf::timespan{0})
    return caf::make_error(transport::transport_errc::invalid_config,
                           "collect_timeout must be > 0");
  return caf::none;
}

std::optional<endpoint_config> endpoint_config::from(const caf::actor_system_config& cfg) {
  if (caf::get_if(&cfg.content, "troupe.http.port") == nullptr)
    return std::nullopt;
  endpoint_config result;
  result.host = caf::get_or(cfg, "troupe.http.host", result.host);
  result.port = caf::get_or(cfg, "troupe.http.port", result.port);
  return result;
}

// -- endpoint -----------------------------------------------------------------

struct endpoint::impl {
  caf::actor_system* sys = nullptr;
  endpoint_config cfg;
  endpoint_sources sources;
  std::string node_id;
  /// The node actor (not kept alive by the endpoint).
  caf::actor_addr node_addr;
  std::shared_ptr<internal::event_feed> feed = std::make_shared<internal::event_feed>();
  std::shared_ptr<internal::peer_counters> peers = std::make_shared<internal::peer_counters>();
  internal::event_hub_actor hub;
  httplib::Server server;
  std::thread thread;
  /// Set once `listen_after_bind` returned (it failed, or stop ended it).
  std::atomic<bool> loop_ended{false};
  /// Open event streams; each holds one of httplib's worker threads, so
  /// they are capped below its pool and scrapes always find a thread.
  std::shared_ptr<std::atomic<int>> streams = std::make_shared<std::atomic<int>>(0);
  static constexpr int max_streams = 4;
  uint16_t port = 0;
  std::mutex mtx;
  /// Supervisors the hub is subscribed to (a restarted supervisor is a new
  /// actor: each view of the tree subscribes the new ones).
  std::vector<caf::actor_addr> subscribed;
  bool stopped = false;

  tree_snapshot snapshot() {
    std::vector<caf::actor> answered;
    auto result = take_snapshot(*sys, sources.supervisors, cfg.collect_timeout, &answered);
    subscribe(answered);
    return result;
  }

  /// The node's and the cluster's side, each asked within the collect
  /// timeout.
  /// The node's and the cluster's side: both asked within one collect
  /// timeout in total.
  internal::node_view node_view() {
    auto started = std::chrono::steady_clock::now();
    auto left = [&] {
      return std::max(caf::timespan{1},
                      std::chrono::duration_cast<caf::timespan>(
                        started + cfg.collect_timeout - std::chrono::steady_clock::now()));
    };
    internal::node_view result;
    result.has_node = sources.node != nullptr;
    result.node_id = node_id;
    result.peers = peers->read();
    caf::scoped_actor self{*sys};
    if (auto node = caf::actor_cast<transport::node_actor>(node_addr))
      self->request(node, left(), transport::stats_atom::value)
        .receive([&](transport::transport_stats& st) { result.transport = st; },
                 [](caf::error&) {});
    if (sources.cluster)
      self->request(*sources.cluster, left(), cluster::members_atom::value)
        .receive([&](std::vector<cluster::member>& ms) { result.members = std::move(ms); },
                 [](caf::error&) {});
    result.took =
      std::chrono::duration_cast<caf::timespan>(std::chrono::steady_clock::now() - started);
    return result;
  }

  /// One view for a request: the trees, then the node's side.
  std::pair<tree_snapshot, internal::node_view> view() {
    auto trees = snapshot();
    auto node = node_view();
    trees.took += node.took; // troupe_observability_collect_seconds: all of it
    return {std::move(trees), std::move(node)};
  }

  void subscribe(const std::vector<caf::actor>& sups) {
    std::lock_guard<std::mutex> guard{mtx};
    // Forget the ones that are gone.
    subscribed.erase(std::remove_if(subscribed.begin(), subscribed.end(),
                                    [](const caf::actor_addr& a) {
                                      return caf::actor_cast<caf::actor>(a) == nullptr;
                                    }),
                     subscribed.end());
    for (auto& s : sups) {
      if (std::find(subscribed.begin(), subscribed.end(), s.address()) != subscribed.end())
        continue;
      caf::anon_send(s, actors::subscribe_atom::value, caf::actor_cast<caf::actor>(hub));
      subscribed.push_back(s.address());
    }
  }

  void routes() {
    server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      auto [trees, node] = view();
      auto text = internal::metrics_text(trees, node);
      res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
    });
    server.Get("/api/tree", [this](const httplib::Request&, httplib::Response& res) {
      auto [trees, node] = view();
      res.set_content(internal::tree_json(trees, node), "application/json");
    });
    server.Get("/api/events", [this](const httplib::Request& req, httplib::Response& res) {
      // The tree is walked once so that every supervisor's events arrive.
      (void)snapshot();
      if (req.has_param("recent")) {
        // The kept events as one JSON array, for a page's first draw. A
        // round trip through the hub first: an event that happened before
        // this request (and so reached the hub before it) is in the answer.
        caf::scoped_actor self{*sys};
        self->request(hub, cfg.collect_timeout, internal::hub_sync_atom::value)
          .receive([](caf::ok_atom) {}, [](caf::error&) {});
        res.set_content(internal::events_json(feed->recent()), "application/json");
        return;
      }
      if (streams->fetch_add(1) >= max_streams) {
        streams->fetch_sub(1);
        res.status = 503;
        res.set_content("too many open event streams (at most " + std::to_string(max_streams)
                          + ")",
                        "text/plain");
        return;
      }
      res.set_header("Cache-Control", "no-cache");
      auto seen = std::make_shared<uint64_t>(0);
      auto feed_ref = feed;
      auto open = streams;
      res.set_chunked_content_provider(
        "text/event-stream",
        [feed_ref, seen](size_t, httplib::DataSink& sink) {
          auto events = feed_ref->after(*seen, std::chrono::seconds{1});
          if (feed_ref->closed()) {
            sink.done();
            return true;
          }
          std::string out;
          for (auto& [n, json] : events)
            out += "id: " + std::to_string(n) + "\ndata: " + json + "\n\n";
          if (out.empty())
            out = ": keep-alive\n\n"; // finds clients that left
          return sink.write(out.data(), out.size());
        },
        [open](bool) { open->fetch_sub(1); });
    });
    server.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(internal::dashboard_html(), "text/html; charset=utf-8");
    });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (stopped)
        return;
      stopped = true;
    }
    feed->close();
    server.stop();
    if (thread.joinable())
      thread.join();
    // The node monitors its observers: the hub's exit unsubscribes it, and
    // the node (possibly gone by now) is not touched.
    caf::anon_send_exit(hub, caf::exit_reason::user_shutdown);
  }
};

endpoint::endpoint(std::unique_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

endpoint::~endpoint() {
  stop();
}

caf::expected<std::unique_ptr<endpoint>>
endpoint::start(caf::actor_system& sys, endpoint_config cfg, endpoint_sources sources) {
  if (auto err = cfg.validate())
    return err;
  auto ptr = std::make_unique<impl>();
  ptr->sys = &sys;
  ptr->cfg = std::move(cfg);
  ptr->sources = std::move(sources);
  if (ptr->sources.node != nullptr) {
    ptr->node_id = ptr->sources.node->id();
    ptr->node_addr = caf::actor_cast<caf::actor_addr>(ptr->sources.node->handle());
  }
  ptr->hub = sys.spawn<internal::event_hub>(ptr->feed, ptr->peers);
  if (ptr->sources.node != nullptr)
    ptr->sources.node->subscribe(caf::actor_cast<caf::actor>(ptr->hub));
  ptr->routes();
  auto where = ptr->cfg.host + ":" + std::to_string(ptr->cfg.port);
  bool bound = false;
  if (ptr->cfg.port == 0) {
    auto port = ptr->server.bind_to_any_port(ptr->cfg.host);
    bound = port > 0;
    ptr->port = static_cast<uint16_t>(port);
  } else {
    bound = ptr->server.bind_to_port(ptr->cfg.host, ptr->cfg.port);
    ptr->port = ptr->cfg.port;
  }
  if (!bound) {
    caf::anon_send_exit(ptr->hub, caf::exit_reason::user_shutdown);
    return caf::make_error(transport::transport_errc::listen_failed, where,
                           "the observability endpoint cannot listen");
  }
  auto* server = &ptr->server;
  auto* ended = &ptr->loop_ended;
  ptr->thread = std::thread{[server, ended] {
    server->listen_after_bind();
    *ended = true;
  }};
  // httplib 0.11's stop() does nothing before its loop runs, and it has no
  // readiness signal: wait until the loop runs (or already ended), so that a
  // stop right after start cannot leave the loop running forever. The loop
  // starts at once on a free machine; no bound would be right on a loaded
  // one, and the wait ends either way.
  while (!server->is_running() && !ended->load())
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  if (ended->load()) {
    ptr->stop();
    return caf::make_error(transport::transport_errc::listen_failed, where,
                           "the observability endpoint did not start serving");
  }
  actors::logger("troupe.observability")
    ->info("observability endpoint on http://{}:{} (/metrics, /api/tree, /api/events, /)",
           ptr->cfg.host, ptr->port);
  return std::unique_ptr<endpoint>{new endpoint{std::move(ptr)}};
}

uint16_t endpoint::port() const noexcept {
  return impl_->port;
}

std::string endpoint::url() const {
  return "http://" + impl_->cfg.host + ":" + std::to_string(impl_->port);
}

void endpoint::stop() {
  if (impl_)
    impl_->stop();
}

} // namespace troupe::observability
