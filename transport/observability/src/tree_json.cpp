// `/api/tree` and the event stream's lines as JSON, with nlohmann::json.

#include <chrono>

#include <nlohmann/json.hpp>

#include <troupe/messages/error_category.hpp>

#include "render.hpp"

namespace troupe::observability::internal {

namespace {

using nlohmann::json;

// Error texts come from anywhere (a remote peer's context too): invalid
// UTF-8 is replaced, never thrown on (a throw would kill the event hub).

double ms(caf::timespan x) {
  return std::chrono::duration<double, std::milli>(x).count();
}

json flow_json(const actors::flow_stats& st) {
  return json{{"received", st.received},
              {"processed", st.processed},
              {"sent", st.sent},
              {"redelivered", st.redelivered},
              {"dead_lettered", st.dead_lettered},
              {"abandoned", st.abandoned},
              {"demand_wait_ms", static_cast<double>(st.demand_wait_ns) / 1e6},
              {"capacity", st.capacity},
              {"buffered", st.buffered},
              {"consumers", st.consumers},
              {"consumers_capacity", st.consumers_capacity},
              {"outstanding", st.outstanding}};
}

json service_json(const services::service_report& r) {
  auto methods = json::array();
  for (auto& m : r.methods) {
    auto answered = m.answered();
    json statuses = json::object();
    for (size_t code = 0; code < m.by_status.size(); ++code)
      if (m.by_status[code] > 0)
        statuses[services::method_stats::status_name(code)] = m.by_status[code];
    methods.push_back(json{{"method", m.method},
                           {"answered", answered},
                           {"by_status", std::move(statuses)},
                           {"mean_ms", answered > 0 ? ms(m.latency_sum) / answered : 0.0}});
  }
  return json{{"service", r.service},
              {"calls", r.stats.calls},
              {"expired_before_start", r.stats.expired_before_start},
              {"unknown_method", r.stats.unknown_method},
              {"exceptions", r.stats.exceptions},
              {"streams_opened", r.stats.streams_opened},
              {"methods", std::move(methods)}};
}

json transport_json(const transport::transport_stats& st) {
  return json{{"connections_up", st.connections_up},
              {"connections_handshaking", st.connections_handshaking},
              {"connections_accepted", st.connections_accepted},
              {"reconnects_pending", st.reconnects_pending},
              {"reconnects_total", st.reconnects_total},
              {"frames_in", st.frames_in},
              {"bytes_in", st.bytes_in},
              {"frames_out", st.frames_out},
              {"bytes_out", st.bytes_out}};
}

json members_json(const std::vector<cluster::member>& members) {
  auto out = json::array();
  for (auto& m : members)
    out.push_back(json{{"id", m.id},
                       {"address", m.address()},
                       {"state", to_string(m.state)},
                       {"services", m.services}});
  return out;
}

json supervisor_json(const supervisor_view& v) {
  const auto& r = v.report;
  json out{{"path", r.path}, {"answered", v.answered}};
  if (!v.answered)
    return out;
  out["strategy"] = r.strategy;
  out["max_restarts"] = r.max_restarts;
  out["window_ms"] = ms(r.window);
  out["restarts_total"] = r.restarts_total;
  out["restarts_in_window"] = r.restarts_in_window;
  out["restart_budget"] =
    r.max_restarts > r.restarts_in_window ? r.max_restarts - r.restarts_in_window : 0;
  out["next_restart_ms"] = ms(r.next_restart_in);
  auto children = json::array();
  for (auto& c : v.children) {
    json child{{"id", c.info.id},
               {"path", c.path},
               {"kind", to_string(c.info.kind)},
               {"restart", to_string(c.info.restart)},
               {"status", to_string(c.info.status)},
               {"restarts", c.info.restarts},
               {"type", c.type}};
    if (c.flow)
      child["flow"] = flow_json(*c.flow);
    if (c.service)
      child["service"] = service_json(*c.service);
    if (c.fetch)
      child["fetch"] = json{{"attempts", c.fetch->attempts},
                            {"retries", c.fetch->retries},
                            {"timeouts", c.fetch->timeouts},
                            {"short_circuited", c.fetch->short_circuited},
                            {"breaker_opened", c.fetch->breaker_opened},
                            {"in_flight", c.fetch->in_flight},
                            {"waiting", c.fetch->waiting},
                            {"breaker", c.fetch->breaker}};
    if (c.mailbox)
      child["mailbox"] =
        json{{"capacity", c.mailbox->capacity}, {"depth", c.mailbox->held},
             {"waiting", c.mailbox->waiting},   {"accepted", c.mailbox->accepted},
             {"dropped", c.mailbox->dropped},   {"rejected", c.mailbox->rejected},
             {"expired", c.mailbox->expired},   {"processed", c.mailbox->processed}};
    if (!c.supervisor.empty())
      child["supervisor"] = supervisor_json(c.supervisor.front());
    children.push_back(std::move(child));
  }
  out["children"] = std::move(children);
  return out;
}

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace

std::string reason_label(const caf::error& err) {
  if (!err)
    return "none";
  auto text = messages::describe(err);
  auto cut = text.find_first_of(" (");
  return cut == std::string::npos ? text : text.substr(0, cut);
}

std::string tree_json(const tree_snapshot& snapshot, const node_view& node) {
  const auto& node_id = node.node_id;
  const auto& peers = node.peers;
  auto roots = json::array();
  for (auto& r : snapshot.roots)
    roots.push_back(supervisor_json(r));
  json out{{"node", node_id},
           {"time_ms", unix_ms()},
           {"collect_ms", ms(snapshot.took)},
           {"supervisors", std::move(roots)}};
  if (node.has_node)
    out["peers"] = json{{"up", json(peers.up)}, {"up_events", peers.up_events}};
  if (node.transport)
    out["transport"] = transport_json(*node.transport);
  if (node.members)
    out["members"] = members_json(*node.members);
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string event_json(const supervisors::supervision_event& x) {
  json out{{"type", "supervision"},      {"time_ms", unix_ms()}, {"kind", to_string(x.kind)},
           {"supervisor", x.supervisor}, {"child", x.child},     {"restarts", x.restarts}};
  if (x.reason)
    out["reason"] = messages::describe(x.reason);
  if (x.delay.count() > 0)
    out["delay_ms"] = ms(x.delay);
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string events_json(const std::vector<std::pair<uint64_t, std::string>>& events) {
  auto out = json::array();
  for (auto& [n, line] : events)
    out.push_back(json{{"seq", n}, {"event", json::parse(line)}});
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string event_json(const transport::peer_event& x) {
  json out{{"type", "peer"},
           {"time_ms", unix_ms()},
           {"status", to_string(x.status)},
           {"node", x.node_id},
           {"address", x.address}};
  if (x.reason)
    out["reason"] = messages::describe(x.reason);
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace troupe::observability::internal
