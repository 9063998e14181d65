// The proxy: turns every message it receives into an envelope frame
// (requests get a correlation id, a deadline and a trace context) and turns
// reply / error frames back into responses. See proxy.hpp for why it is not
// a scheduled actor.

#include "proxy.hpp"

#include <algorithm>
#include <functional>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/make_actor.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

#include <google/protobuf/message.h>

#include <troupe/actors/log.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/messages/message_errc.hpp>
#include <troupe/messages/type_registry.hpp>

#include "envelope_writer.hpp"
#include "framing.hpp"
#include "payload.hpp"
#include "troupe/actors/call_context.hpp"
#include "troupe/actors/flow_errc.hpp"
#include "troupe/transport/call_options.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"
#include "troupe/wire.pb.h"

namespace troupe::transport::internal {

namespace {

/// At most this many finished request nodes are kept for reuse.
constexpr size_t max_spare = 128;

/// Per-thread scratch strings for the trace part of an envelope: a request
/// then costs no allocation once they have grown.
struct scratch {
  std::string request_id;
  std::string trace;
};

scratch& thread_scratch() {
  thread_local scratch result;
  return result;
}

bool is_closed_error(const caf::error& err) {
  return err == transport_errc::node_stopped;
}

} // namespace

remote_proxy::remote_proxy(caf::actor_config& cfg, proxy_args args)
  : caf::monitorable_actor(cfg),
    args_(std::move(args)),
    log_(actors::logger("troupe.transport")),
    clock_(&home_system().clock()) {
  append_address_fields(args_.local_node, "", args_.peer_node, args_.name, addresses_);
  requests_.reserve(64);
}

remote_proxy::~remote_proxy() = default;

const char* remote_proxy::name() const {
  return "troupe.transport.proxy";
}

uint64_t remote_proxy::next_correlation_id() {
  seq_ = (seq_ + 1) & ((uint64_t{1} << proxy_shift) - 1);
  if (seq_ == 0)
    seq_ = 1;
  return (uint64_t{args_.index} << proxy_shift) | seq_;
}

void remote_proxy::enqueue(caf::mailbox_element_ptr what, caf::execution_unit* host) {
  // Exit messages (a link, `send_exit`) and CAF's system queries.
  if (handle_system_message(*what, host, false))
    return;
  auto& content = what->content();
  if (what->sender == nullptr && content.size() == 1 && content.match_element<sweep_atom>(0)) {
    sweep();
    return;
  }
  if (what->mid.is_response())
    return; // the proxy never asks anything
  if (auto err = forward(*what, host)) {
    if (what->mid.is_request()) {
      request req{std::move(what->sender), what->mid, std::move(what->stages)};
      respond(req, caf::make_message(std::move(err)), host);
    }
  }
}

caf::error remote_proxy::forward(caf::mailbox_element& what, caf::execution_unit* host) {
  auto& content = what.content();
  auto is_request = what.mid.is_request();
  // Optional call_options or call_context first, then exactly one protobuf
  // message.
  size_t pos = 0;
  const call_options* opts = nullptr;
  const actors::call_context* ctx = nullptr;
  if (content.size() >= 2 && content.match_element<call_options>(0)) {
    opts = &content.get_as<call_options>(0);
    pos = 1;
  } else if (content.size() >= 2 && content.match_element<actors::call_context>(0)) {
    ctx = &content.get_as<actors::call_context>(0);
    pos = 1;
  }
  if (content.size() != pos + 1)
    return caf::make_error(messages::message_errc::not_a_protobuf_message,
                           content.stringify());
  payload_ref payload;
  if (auto err = view_payload(content, pos, payload)) {
    log_->warn("proxy {}@{}: cannot send {}: {}", args_.name, args_.peer_node,
               content.stringify(), messages::describe(err));
    return err;
  }
  auto deadline = args_.cfg->default_deadline;
  if (opts != nullptr && opts->deadline > caf::timespan{0}) {
    deadline = opts->deadline;
  } else if (ctx != nullptr && ctx->has_deadline()) {
    // A call whose deadline passed is not sent (the stub checks it before
    // sending; this catches the time spent in between).
    deadline = ctx->remaining(clock_->now());
    if (deadline <= caf::timespan{0})
      return caf::make_error(actors::flow_errc::deadline_exceeded,
                             "the call's deadline passed before it was sent");
  }
  uint64_t corr = 0;
  if (is_request) {
    auto due = clock_->now() + deadline;
    std::lock_guard<adaptive_mutex> guard{mtx_};
    if (dead_)
      // Never sent: a caller may safely try again elsewhere (a stub looks
      // the name up again), which CAF's own "receiver down" says.
      return caf::make_error(caf::sec::request_receiver_down,
                             "the proxy's connection ended: " + messages::describe(reason_));
    corr = next_correlation_id();
    request req{std::move(what.sender), what.mid, std::move(what.stages)};
    if (!spare_.empty()) {
      auto node = std::move(spare_.back());
      spare_.pop_back();
      node.key() = corr;
      node.mapped() = std::move(req);
      requests_.insert(std::move(node));
    } else {
      requests_.emplace(corr, std::move(req));
    }
    deadlines_.emplace_back(due, corr);
    std::push_heap(deadlines_.begin(), deadlines_.end(), std::greater<deadline_entry>{});
    if (deadlines_.size() > 2 * requests_.size() + 64)
      compact();
    arm(due);
  }
  // Trace context: given, or generated as "<node id>/<correlation id>".
  auto& tmp = thread_scratch();
  std::string_view request_id;
  if (ctx != nullptr && !ctx->request_id.empty()) {
    request_id = ctx->request_id;
  } else if (opts != nullptr && !opts->request_id.empty()) {
    request_id = opts->request_id;
  } else if (corr != 0) {
    tmp.request_id.assign(args_.local_node);
    tmp.request_id += '/';
    char digits[20];
    auto* end = digits + sizeof(digits);
    auto* first = end;
    for (auto x = corr; x != 0; x /= 10)
      *--first = static_cast<char>('0' + x % 10);
    tmp.request_id.append(first, end);
    request_id = tmp.request_id;
  }
  tmp.trace.clear();
  if (ctx != nullptr) {
    append_trace_fields(
      trace_fields{ctx->trace_id.empty() ? request_id : std::string_view{ctx->trace_id},
                   request_id, ctx->span_id, ctx->attempt, ctx->method},
      tmp.trace);
  } else {
    std::string_view trace_id = opts != nullptr && !opts->trace_id.empty()
      ? std::string_view{opts->trace_id}
      : request_id;
    append_trace_fields(trace_id, request_id, opts != nullptr ? opts->attempt : 1, tmp.trace);
  }
  envelope_view env;
  env.addresses = addresses_;
  env.type = payload.type->full_name;
  env.payload = payload.message;
  env.correlation_id = corr;
  env.deadline_remaining_us = std::max<int64_t>(
    1, std::chrono::duration_cast<std::chrono::microseconds>(deadline).count());
  env.trace = tmp.trace;
  auto err = args_.io->write(
    [&](std::string& buf) {
      return append_envelope_frame(envelope_kind::request, env, args_.cfg->max_frame_size,
                                   buf);
    },
    host);
  if (!err)
    return caf::none;
  if (is_closed_error(err))
    return caf::none; // the connection is ending: its reason fails the request
  log_->warn("proxy {}@{}: {}", args_.name, args_.peer_node, messages::describe(err));
  if (is_request) {
    // Take it back: the caller answers with `err`.
    request_map::node_type node;
    if (take(corr, node)) {
      what.sender = std::move(node.mapped().sender);
      what.stages = std::move(node.mapped().stages);
      recycle(std::move(node));
    }
  }
  return err;
}

bool remote_proxy::take(uint64_t corr, request_map::node_type& out) {
  std::lock_guard<adaptive_mutex> guard{mtx_};
  auto i = requests_.find(corr);
  if (i == requests_.end())
    return false;
  out = requests_.extract(i);
  return true;
}

void remote_proxy::recycle(request_map::node_type&& node) {
  node.mapped() = request{};
  std::lock_guard<adaptive_mutex> guard{mtx_};
  if (spare_.size() < max_spare)
    spare_.push_back(std::move(node));
}

void remote_proxy::respond(request& req, caf::message msg, caf::execution_unit* host) {
  if (!req.stages.empty()) {
    auto next = std::move(req.stages.back());
    req.stages.pop_back();
    next->enqueue(caf::make_mailbox_element(std::move(req.sender), req.mid,
                                            std::move(req.stages), std::move(msg)),
                  host);
    return;
  }
  if (req.sender)
    req.sender->enqueue(caf::make_mailbox_element(caf::strong_actor_ptr{ctrl()},
                                                  req.mid.response_id(), {}, std::move(msg)),
                        host);
}

void remote_proxy::complete(uint64_t corr, caf::message msg) {
  request_map::node_type node;
  if (!take(corr, node))
    return; // answered already (e.g. timed out)
  respond(node.mapped(), std::move(msg), nullptr);
  recycle(std::move(node));
}

void remote_proxy::compact() {
  // Answered requests leave their deadline behind (removing it from the
  // middle of a heap costs more than keeping it); rebuilding once the heap
  // is mostly stale keeps memory proportional to what is pending, at an
  // amortized constant cost per request.
  auto stale = [this](const deadline_entry& x) { return requests_.count(x.second) == 0; };
  deadlines_.erase(std::remove_if(deadlines_.begin(), deadlines_.end(), stale),
                   deadlines_.end());
  std::make_heap(deadlines_.begin(), deadlines_.end(), std::greater<deadline_entry>{});
}

void remote_proxy::arm(time_point t) {
  if (t >= armed_)
    return;
  armed_ = t;
  clock_->schedule_message(
    t, caf::strong_actor_ptr{ctrl()},
    caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, sweep_atom::value));
}

void remote_proxy::sweep() {
  std::vector<request> expired;
  {
    std::lock_guard<adaptive_mutex> guard{mtx_};
    auto now = clock_->now();
    if (armed_ <= now)
      armed_ = time_point::max();
    while (!deadlines_.empty() && deadlines_.front().first <= now) {
      auto corr = deadlines_.front().second;
      std::pop_heap(deadlines_.begin(), deadlines_.end(), std::greater<deadline_entry>{});
      deadlines_.pop_back();
      auto i = requests_.find(corr);
      if (i == requests_.end())
        continue;
      expired.push_back(std::move(i->second));
      requests_.erase(i);
    }
    // Drop stale entries (answered requests) from the top.
    while (!deadlines_.empty() && requests_.count(deadlines_.front().second) == 0) {
      std::pop_heap(deadlines_.begin(), deadlines_.end(), std::greater<deadline_entry>{});
      deadlines_.pop_back();
    }
    if (!deadlines_.empty())
      arm(deadlines_.front().first);
  }
  for (auto& req : expired)
    respond(req,
            caf::make_message(caf::make_error(transport_errc::request_timeout,
                                              args_.name + "@" + args_.peer_node)),
            nullptr);
}

void remote_proxy::kill(caf::error reason) {
  cleanup(std::move(reason), nullptr);
}

void remote_proxy::on_cleanup(const caf::error& reason) {
  auto why = reason ? reason : caf::make_error(transport_errc::node_stopped);
  request_map failed;
  {
    std::lock_guard<adaptive_mutex> guard{mtx_};
    if (dead_)
      return;
    dead_ = true;
    reason_ = why;
    failed.swap(requests_);
    deadlines_.clear();
    spare_.clear();
  }
  for (auto& kvp : failed)
    respond(kvp.second, caf::make_message(why), nullptr);
}

caf::actor make_proxy(caf::actor_system& sys, proxy_args args) {
  caf::actor_config cfg;
  return caf::make_actor<remote_proxy, caf::actor>(sys.next_actor_id(), sys.node(), &sys, cfg,
                                                   std::move(args));
}

remote_proxy& proxy_of(const caf::actor& handle) {
  return static_cast<remote_proxy&>(*caf::actor_cast<caf::abstract_actor*>(handle));
}

} // namespace troupe::transport::internal
