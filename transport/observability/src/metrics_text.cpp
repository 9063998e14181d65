// `/metrics`: Prometheus families built from one snapshot at scrape time
// with prometheus-cpp's data model and text serializer.

#include <array>
#include <limits>
#include <map>

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "render.hpp"

namespace troupe::observability::internal {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

class families {
public:
  /// Adds a family (once) and returns it.
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    for (auto& f : list_)
      if (f.name == name)
        return f;
    list_.push_back(MetricFamily{name, help, type, {}});
    return list_.back();
  }

  void gauge(const std::string& name, const std::string& help, ClientMetric::Label label,
             double value) {
    gauge(name, help, std::vector<ClientMetric::Label>{std::move(label)}, value);
  }

  void gauge(const std::string& name, const std::string& help,
             std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    family(name, help, MetricType::Gauge).metric.push_back(std::move(m));
  }

  void counter(const std::string& name, const std::string& help,
               std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    family(name, help, MetricType::Counter).metric.push_back(std::move(m));
  }

  /// A histogram from per-bucket counts (not cumulative) over `bounds`
  /// (seconds), the last count above every bound.
  template <size_t N>
  void histogram(const std::string& name, const std::string& help,
                 std::vector<ClientMetric::Label> labels, const std::array<double, N>& bounds,
                 const std::array<uint64_t, N + 1>& counts, double sum) {
    ClientMetric m;
    m.label = std::move(labels);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < N; ++i) {
      cumulative += counts[i];
      m.histogram.bucket.push_back({cumulative, bounds[i]});
    }
    cumulative += counts[N];
    m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = sum;
    family(name, help, MetricType::Histogram).metric.push_back(std::move(m));
  }

  std::string text() const {
    return prometheus::TextSerializer{}.Serialize(list_);
  }

private:
  std::vector<MetricFamily> list_;
};

/// `labels` and one more.
std::vector<ClientMetric::Label> plus(std::vector<ClientMetric::Label> labels, std::string key,
                                      std::string value) {
  labels.push_back({std::move(key), std::move(value)});
  return labels;
}

double seconds(caf::timespan x) {
  return std::chrono::duration<double>(x).count();
}

void flow_series(families& out, const std::string& path, const actors::flow_stats& st) {
  std::vector<ClientMetric::Label> l{{"actor", path}};
  out.counter("troupe_flow_items_received_total",
              "Items a flow actor received from upstream (redeliveries included).", l,
              static_cast<double>(st.received));
  out.counter("troupe_flow_items_processed_total",
              "Items a flow actor finished (handled, or emitted downstream).", l,
              static_cast<double>(st.processed));
  out.counter("troupe_flow_items_sent_total",
              "Items a flow actor sent downstream (redeliveries included).", l,
              static_cast<double>(st.sent));
  out.counter("troupe_flow_items_redelivered_total",
              "Items sent again after their consumer died or cancelled.", l,
              static_cast<double>(st.redelivered));
  out.counter("troupe_flow_items_dead_lettered_total",
              "Items handed to the dead-letter hook after max_deliveries failed handlers.", l,
              static_cast<double>(st.dead_lettered));
  out.counter("troupe_flow_items_abandoned_total",
              "Items given up unfinished (upstream gone, or cancelled); redelivered upstream.",
              l, static_cast<double>(st.abandoned));
  out.counter("troupe_flow_demand_wait_seconds_total",
              "Time a flow actor's source had items but no consumer had credit "
              "(backpressure holding the producer back).",
              l, static_cast<double>(st.demand_wait_ns) / 1e9);
  out.gauge("troupe_flow_input_capacity", "Most items a flow actor's input may hold.", l,
            static_cast<double>(st.capacity));
  out.gauge("troupe_flow_input_buffered", "Items received and not finished, now.", l,
            static_cast<double>(st.buffered));
  out.gauge("troupe_flow_output_capacity",
            "Sum of the capacities of a flow actor's consumers, now.", l,
            static_cast<double>(st.consumers_capacity));
  out.gauge("troupe_flow_output_outstanding",
            "Items sent to consumers and not yet paid back with credit, now (equal to "
            "troupe_flow_output_capacity: the consumers hold all they may).",
            l, static_cast<double>(st.outstanding));
  out.gauge("troupe_flow_consumers", "Consumers subscribed to a flow actor, now.", l,
            static_cast<double>(st.consumers));
}

void service_series(families& out, const std::string& path,
                    const services::service_report& r) {
  std::vector<ClientMetric::Label> l{{"actor", path}, {"service", r.service}};
  out.counter("troupe_service_calls_total", "Calls a service received (all methods).", l,
              static_cast<double>(r.stats.calls));
  out.counter("troupe_service_not_started_total",
              "Calls a service refused before starting them, by reason.",
              plus(l, "reason", "deadline_passed"),
              static_cast<double>(r.stats.expired_before_start));
  out.counter("troupe_service_not_started_total",
              "Calls a service refused before starting them, by reason.",
              plus(l, "reason", "unknown_method"),
              static_cast<double>(r.stats.unknown_method));
  out.counter("troupe_service_exceptions_total", "Service methods that threw.", l,
              static_cast<double>(r.stats.exceptions));
  out.counter("troupe_service_streams_opened_total",
              "Streams a service opened (server-streaming calls).", l,
              static_cast<double>(r.stats.streams_opened));
  out.counter("troupe_service_streams_unclaimed_total",
              "Streams nobody subscribed to in time (stopped).", l,
              static_cast<double>(r.stats.streams_unclaimed));
  for (auto& m : r.methods) {
    auto ml = plus(l, "method", m.method);
    out.histogram("troupe_service_handling_seconds",
                  "Time from a call's start to its answer, per method.", ml,
                  services::method_stats::bucket_bounds, m.buckets, seconds(m.latency_sum));
    for (size_t code = 0; code < m.by_status.size(); ++code) {
      // ok always; a failure status once it happened (a bounded set: rpc_errc).
      if (code != 0 && m.by_status[code] == 0)
        continue;
      out.counter("troupe_service_handled_total",
                  "Calls answered, per method and status (ok, or an rpc_errc name: "
                  "deadline_exceeded counts the deadline expirations).",
                  plus(ml, "status", services::method_stats::status_name(code)),
                  static_cast<double>(m.by_status[code]));
    }
  }
}

void mailbox_series(families& out, const std::string& path, const actors::mailbox_stats& st) {
  std::vector<ClientMetric::Label> l{{"actor", path}};
  const char* help = "Messages a bounded mailbox took or refused, by outcome (accepted; "
                     "dropped by drop_newest/drop_oldest; rejected by reject or a full "
                     "parking lot; expired waiting).";
  out.counter("troupe_mailbox_messages_total", help, plus(l, "outcome", "accepted"),
              static_cast<double>(st.accepted));
  out.counter("troupe_mailbox_messages_total", help, plus(l, "outcome", "dropped"),
              static_cast<double>(st.dropped));
  out.counter("troupe_mailbox_messages_total", help, plus(l, "outcome", "rejected"),
              static_cast<double>(st.rejected));
  out.counter("troupe_mailbox_messages_total", help, plus(l, "outcome", "expired"),
              static_cast<double>(st.expired));
  out.counter("troupe_mailbox_processed_total", "Messages the worker behind a gate processed.",
              l, static_cast<double>(st.processed));
  out.gauge("troupe_mailbox_capacity", "Most messages a bounded mailbox holds.", l,
            static_cast<double>(st.capacity));
  out.gauge("troupe_mailbox_depth",
            "Messages a bounded mailbox holds now (queued, or with the worker and not "
            "processed).",
            l, static_cast<double>(st.held));
  out.gauge("troupe_mailbox_waiting", "Messages parked at the gate, waiting for room, now.", l,
            static_cast<double>(st.waiting));
}

void fetch_series(families& out, const std::string& path, const actors::fetch_stats& st) {
  std::vector<ClientMetric::Label> l{{"actor", path}};
  out.counter("troupe_fetcher_attempts_total",
              "Attempts a fetcher started (retries included).", l,
              static_cast<double>(st.attempts));
  out.counter("troupe_fetcher_retries_total", "Attempts that were retries.", l,
              static_cast<double>(st.retries));
  out.counter("troupe_fetcher_timeouts_total", "Attempts cut off by attempt_timeout.", l,
              static_cast<double>(st.timeouts));
  out.counter("troupe_fetcher_short_circuited_total",
              "Requests an open circuit breaker refused without an attempt.", l,
              static_cast<double>(st.short_circuited));
  out.counter("troupe_fetcher_breaker_opened_total", "Times the circuit breaker opened.", l,
              static_cast<double>(st.breaker_opened));
  out.gauge("troupe_fetcher_in_flight", "Attempts running now.", l,
            static_cast<double>(st.in_flight));
  out.gauge("troupe_fetcher_waiting", "Requests queued or waiting out a retry's backoff, now.",
            l, static_cast<double>(st.waiting));
  for (const char* state : {"closed", "open", "half_open"}) {
    out.gauge("troupe_fetcher_breaker_state",
              "1 for the circuit breaker's state now (closed, open, half_open), else 0.",
              plus(l, "state", state), st.breaker == state ? 1 : 0);
  }
}

void transport_series(families& out, const transport::transport_stats& st) {
  using labels = std::vector<ClientMetric::Label>;
  out.gauge("troupe_transport_connections", "Connections of this node, by state.",
            labels{{"state", "up"}}, st.connections_up);
  out.gauge("troupe_transport_connections", "Connections of this node, by state.",
            labels{{"state", "handshaking"}}, st.connections_handshaking);
  out.gauge("troupe_transport_connections_accepted",
            "Open connections that other nodes dialed (counted against max_connections).",
            labels{}, st.connections_accepted);
  out.gauge("troupe_transport_reconnects_pending",
            "Lost peers this node will dial again (in backoff, or dialing).", labels{},
            st.reconnects_pending);
  out.counter("troupe_transport_reconnects_total", "Reconnect attempts scheduled.", {},
              static_cast<double>(st.reconnects_total));
  out.counter("troupe_transport_receive_frames_total", "Frames read from every connection.",
              {}, static_cast<double>(st.frames_in));
  out.counter("troupe_transport_receive_bytes_total", "Bytes read from every connection.", {},
              static_cast<double>(st.bytes_in));
  out.counter("troupe_transport_transmit_frames_total",
              "Frames handed to the sockets of every connection.", {},
              static_cast<double>(st.frames_out));
  out.counter("troupe_transport_transmit_bytes_total",
              "Bytes handed to the sockets of every connection.", {},
              static_cast<double>(st.bytes_out));
}

void members_series(families& out, const std::vector<cluster::member>& members) {
  std::map<cluster::member_state, int> by_state;
  for (auto s : {cluster::member_state::joining, cluster::member_state::up,
                 cluster::member_state::leaving, cluster::member_state::down,
                 cluster::member_state::removed})
    by_state[s] = 0;
  for (auto& m : members)
    ++by_state[m.state];
  for (auto& [state, n] : by_state)
    out.gauge("troupe_cluster_members", "Cluster members this node knows, by state.",
              ClientMetric::Label{"state", to_string(state)}, n);
}

void supervisor_series(families& out, const supervisor_view& v) {
  const auto& r = v.report;
  ClientMetric::Label sup{"supervisor", r.path};
  out.gauge("troupe_supervisor_up", "1 if the supervisor answered the scrape, else 0.", sup,
            v.answered ? 1 : 0);
  if (!v.answered)
    return;
  out.counter("troupe_supervisor_restarts_total",
              "Child restarts a supervisor made since it started.", {sup},
              static_cast<double>(r.restarts_total));
  out.gauge("troupe_supervisor_restarts_in_window",
            "Restarts within the supervisor's current intensity window.", sup,
            r.restarts_in_window);
  out.gauge("troupe_supervisor_restart_budget",
            "Restarts left before the supervisor gives up (max_restarts minus the "
            "restarts in the window).",
            sup,
            r.max_restarts > r.restarts_in_window ? r.max_restarts - r.restarts_in_window : 0);
  out.gauge("troupe_supervisor_next_restart_seconds",
            "Until the next planned restart (a child waiting out its backoff); 0: none.", sup,
            seconds(r.next_restart_in));
  std::map<supervisors::child_status, int> by_status;
  for (auto s : {supervisors::child_status::running, supervisors::child_status::stopping,
                 supervisors::child_status::stopped, supervisors::child_status::restarting,
                 supervisors::child_status::starting})
    by_status[s] = 0;
  for (auto& c : v.children)
    ++by_status[c.info.status];
  for (auto& [status, n] : by_status)
    out.gauge("troupe_supervisor_children", "Children of a supervisor by status.",
              {sup, {"status", to_string(status)}}, n);
  // A dynamic supervisor's children (one per connection, say) get ids that
  // are never reused: no series of their own, nor for anything below them.
  if (r.strategy == "dynamic")
    return;
  size_t labelled = 0;
  for (auto& c : v.children) {
    if (++labelled > max_labelled_children)
      break;
    out.counter("troupe_child_restarts_total", "How often a child was restarted.",
                {sup, {"child", c.info.id}}, c.info.restarts);
    if (c.flow)
      flow_series(out, c.path, *c.flow);
    if (c.service)
      service_series(out, c.path, *c.service);
    if (c.mailbox)
      mailbox_series(out, c.path, *c.mailbox);
    if (c.fetch)
      fetch_series(out, c.path, *c.fetch);
    for (auto& s : c.supervisor)
      supervisor_series(out, s);
  }
}

} // namespace

std::string metrics_text(const tree_snapshot& snapshot, const node_view& node) {
  families out;
  for (auto& root : snapshot.roots)
    supervisor_series(out, root);
  if (node.has_node) {
    const auto& peers = node.peers;
    out.gauge("troupe_transport_peers_up", "Peers connected to this node, now.",
              std::vector<ClientMetric::Label>{}, static_cast<double>(peers.up.size()));
    out.counter("troupe_transport_peer_up_total",
                "Times a peer came up (first connections and reconnects).", {},
                static_cast<double>(peers.up_events));
    for (auto& [reason, n] : peers.down_by_reason)
      out.counter("troupe_transport_peer_down_total", "Times a peer went down, by reason.",
                  {{"reason", reason}}, static_cast<double>(n));
    if (node.transport)
      transport_series(out, *node.transport);
  }
  if (node.members)
    members_series(out, *node.members);
  out.gauge("troupe_observability_collect_seconds",
            "How long collecting this scrape's view of the tree took.",
            std::vector<ClientMetric::Label>{}, seconds(snapshot.took));
  return out.text();
}

} // namespace troupe::observability::internal
