// The proxy actor: the local handle of one remote actor. Turns every message
// it receives into an envelope frame (requests get a correlation id, a
// deadline and a trace context), and turns reply / error frames back into
// responses. Fails every pending request when its connection ends, then
// quits with the same typed reason, so monitors see why.

#include <map>
#include <unordered_map>

#include <caf/all.hpp>

#include <troupe/actors/log.hpp>
#include <troupe/messages/protobuf_payload.hpp>

#include "actors.hpp"
#include "troupe/flow.pb.h"
#include "troupe/transport/call_options.hpp"
#include "troupe/transport/framing.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"

namespace troupe::transport::detail {

namespace {

using time_point = caf::actor_clock::time_point;

struct pending_request {
  caf::response_promise promise;
  std::multimap<time_point, uint64_t>::iterator timeout;
};

struct proxy_state {
  explicit proxy_state(proxy_args a)
    : args(std::move(a)), log(actors::logger("troupe.transport")) {
    // nop
  }

  proxy_args args;
  std::shared_ptr<spdlog::logger> log;
  uint64_t seq = 0;
  std::unordered_map<uint64_t, pending_request> pending;
  /// Deadline -> correlation id, for the sweep timer.
  std::multimap<time_point, uint64_t> deadlines;
  /// When the earliest scheduled sweep fires (max = none scheduled).
  time_point sweep_at = time_point::max();

  uint64_t next_correlation_id() {
    seq = (seq + 1) & ((uint64_t{1} << proxy_shift) - 1);
    if (seq == 0)
      seq = 1;
    return (uint64_t{args.index} << proxy_shift) | seq;
  }

  /// Completes the pending request a reply or error frame answers.
  void on_frame(wire::Frame& frame) {
    uint64_t corr = 0;
    if (frame.kind_case() == wire::Frame::kReply)
      corr = frame.reply().correlation_id();
    else if (frame.kind_case() == wire::Frame::kError)
      corr = frame.error().correlation_id();
    auto i = pending.find(corr);
    if (i == pending.end())
      return; // answered already (e.g. timed out)
    auto promise = std::move(i->second.promise);
    deadlines.erase(i->second.timeout);
    pending.erase(i);
    if (frame.kind_case() == wire::Frame::kError) {
      promise.deliver(from_wire_error(frame.error().error()));
      return;
    }
    auto& reply = *frame.mutable_reply();
    if (reply.type().empty()) {
      promise.deliver(caf::unit);
      return;
    }
    caf::message msg;
    if (auto err = messages::decode_payload({reply.type(), reply.payload()}, msg)) {
      log->warn("proxy {}@{}: undecodable reply: {}", args.name,
                    args.peer_node, describe(err));
      promise.deliver(std::move(err));
      return;
    }
    promise.deliver(std::move(msg));
  }

  void fail_all(const caf::error& reason) {
    for (auto& kvp : pending)
      kvp.second.promise.deliver(reason);
    pending.clear();
    deadlines.clear();
  }
};

/// Fills sender / receiver of a credit frame; returns false if `msg` is no
/// credit message.
bool make_credit_frame(const proxy_state& st, const caf::message& msg, wire::Frame& frame) {
  if (msg.size() != 1)
    return false;
  if (msg.match_element<troupe::flow::Demand>(0))
    *frame.mutable_demand() = msg.get_as<troupe::flow::Demand>(0);
  else if (msg.match_element<troupe::flow::Done>(0))
    *frame.mutable_done() = msg.get_as<troupe::flow::Done>(0);
  else if (msg.match_element<troupe::flow::Cancel>(0))
    *frame.mutable_cancel() = msg.get_as<troupe::flow::Cancel>(0);
  else
    return false;
  frame.mutable_sender()->set_node(st.args.local_node);
  frame.mutable_receiver()->set_node(st.args.peer_node);
  frame.mutable_receiver()->set_name(st.args.name);
  return true;
}

} // namespace

caf::behavior proxy_actor(caf::event_based_actor* self, proxy_args args) {
  auto st = std::make_shared<proxy_state>(std::move(args));

  auto schedule_sweep = [self, st](time_point at) {
    if (at >= st->sweep_at)
      return;
    st->sweep_at = at;
    auto now = self->clock().now();
    self->delayed_send(self, at > now ? caf::timespan{at - now} : caf::timespan{0},
                       sweep_atom::value);
  };

  // Every message that is not one of the proxy's own goes to the remote actor.
  self->set_default_handler([self, st, schedule_sweep](caf::scheduled_actor*,
                                                       caf::message_view& view)
                              -> caf::result<caf::message> {
    auto is_request = self->current_mailbox_element()->mid.is_request();
    auto msg = view.move_content_to_message();
    call_options opts;
    if (msg.size() >= 2 && msg.match_element<call_options>(0)) {
      opts = msg.get_as<call_options>(0);
      msg = msg.drop(1);
    }
    wire::Frame frame;
    std::string bytes;
    // REMOTE CREDIT: local flow messages to a proxy cross as credit frames.
    if (make_credit_frame(*st, msg, frame)) {
      if (auto err = append_frame(frame, st->args.cfg->max_frame_size, bytes))
        return err;
      st->args.io->send(std::move(bytes));
      return caf::delegated<caf::message>{};
    }
    messages::protobuf_payload payload;
    if (auto err = messages::encode_payload(msg, payload)) {
      st->log->warn("proxy {}@{}: cannot send {}: {}", st->args.name, st->args.peer_node,
                    caf::to_string(msg), describe(err));
      if (is_request)
        return err;
      return caf::delegated<caf::message>{};
    }
    auto deadline = opts.deadline > caf::timespan{0} ? opts.deadline
                                                     : st->args.cfg->default_deadline;
    uint64_t corr = is_request ? st->next_correlation_id() : 0;
    auto* env = frame.mutable_envelope();
    env->mutable_sender()->set_node(st->args.local_node);
    env->mutable_receiver()->set_node(st->args.peer_node);
    env->mutable_receiver()->set_name(st->args.name);
    env->set_type(std::move(payload.type));
    env->set_payload(std::move(payload.bytes));
    env->set_correlation_id(corr);
    env->set_deadline_remaining_us(
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::microseconds>(deadline)
                             .count()));
    auto* trace = env->mutable_trace();
    if (!opts.request_id.empty())
      trace->set_request_id(std::move(opts.request_id));
    else if (corr != 0)
      trace->set_request_id(st->args.local_node + "/" + std::to_string(corr));
    if (!opts.trace_id.empty())
      trace->set_trace_id(std::move(opts.trace_id));
    else
      trace->set_trace_id(trace->request_id());
    env->set_attempt(opts.attempt);
    if (auto err = append_frame(frame, st->args.cfg->max_frame_size, bytes)) {
      st->log->warn("proxy {}@{}: {}", st->args.name, st->args.peer_node, describe(err));
      if (is_request)
        return err;
      return caf::delegated<caf::message>{};
    }
    st->args.io->send(std::move(bytes));
    if (is_request) {
      auto due = self->clock().now() + deadline;
      auto pos = st->deadlines.emplace(due, corr);
      st->pending.emplace(corr, pending_request{self->make_response_promise(), pos});
      schedule_sweep(due);
    }
    return caf::delegated<caf::message>{};
  });

  // The connection ended (or the node stopped): fail what is pending and
  // quit with the same reason, so monitors of this proxy learn why.
  self->set_exit_handler([self, st](caf::exit_msg& msg) {
    auto reason = msg.reason ? msg.reason : caf::make_error(transport_errc::node_stopped);
    st->fail_all(reason);
    self->quit(reason);
  });

  return {
    [st](frame_atom, std::vector<wire::Frame>& frames) {
      for (auto& frame : frames)
        st->on_frame(frame);
    },
    [self, st, schedule_sweep](sweep_atom) {
      auto now = self->clock().now();
      if (st->sweep_at <= now)
        st->sweep_at = time_point::max();
      while (!st->deadlines.empty() && st->deadlines.begin()->first <= now) {
        auto corr = st->deadlines.begin()->second;
        st->deadlines.erase(st->deadlines.begin());
        auto i = st->pending.find(corr);
        if (i == st->pending.end())
          continue;
        i->second.promise.deliver(caf::make_error(transport_errc::request_timeout,
                                                  st->args.name + "@" + st->args.peer_node));
        st->pending.erase(i);
      }
      if (!st->deadlines.empty())
        schedule_sweep(st->deadlines.begin()->first);
    },
  };
}

} // namespace troupe::transport::detail
