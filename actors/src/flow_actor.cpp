#include "troupe/actors/flow/flow_actor.hpp"

#include <troupe/messages/error_category.hpp>

#include <caf/mailbox_element.hpp>

namespace troupe::actors {

typed_failure::typed_failure(caf::error err)
  : err_(std::move(err)), what_(messages::describe(err_)) {
  // nop
}

caf::error error_from_exception(std::exception_ptr ep, flow_errc code,
                                const std::string& where) {
  try {
    std::rethrow_exception(ep);
  } catch (const typed_failure& e) {
    return e.error();
  } catch (const std::exception& e) {
    return caf::make_error(code, where + " threw: " + e.what());
  } catch (...) {
    return caf::make_error(code, where + " threw a non-standard exception");
  }
}

flow_actor::flow_actor(caf::actor_config& cfg, flow_output::config out)
  : caf::event_based_actor(cfg) {
  out_.emplace(this, out);
}

flow_actor::flow_actor(caf::actor_config& cfg, upstream_ref upstream, uint32_t capacity)
  : caf::event_based_actor(cfg), upstream_(std::move(upstream)) {
  in_.emplace(this, capacity);
}

flow_actor::flow_actor(caf::actor_config& cfg, upstream_ref upstream, uint32_t capacity,
                       flow_output::config out)
  : caf::event_based_actor(cfg), upstream_(std::move(upstream)) {
  in_.emplace(this, capacity);
  out_.emplace(this, out);
}

caf::behavior flow_actor::make_behavior() {
  set_down_handler([this](caf::down_msg& dm) {
    if (out_ && out_->on_down(dm))
      return;
    if (in_ && in_->on_down(dm))
      return;
    on_down(dm);
  });
  if (in_)
    in_->start(std::move(upstream_)); // from now on only `in_` holds it
  // Items first, then the credit protocol: CAF tries the cases in order.
  auto result = input_handlers();
  if (out_)
    result = result.or_else(out_->handlers());
  if (in_)
    result = result.or_else(in_->handlers());
  return result.or_else(handlers()).or_else([this](flow_stats_atom) { return stats(); });
}

bool flow_actor::from_upstream() {
  // Raw pointers: no reference count touched on the per-batch path.
  auto* up = caf::actor_cast<caf::actor_control_block*>(in_->upstream());
  return up != nullptr && current_sender().get() == up;
}

caf::message flow_actor::current_batch() {
  return current_mailbox_element()->move_content_to_message();
}

flow_stats flow_actor::stats() const {
  flow_stats result;
  if (out_) {
    result = out_->stats();
    for (auto& l : out_->links_) {
      result.consumers_capacity += l.capacity;
      result.outstanding += l.outstanding;
    }
    result.consumers = out_->links_.size();
  }
  if (in_) {
    // The input's counters (with both sides: next to the output's).
    auto& x = in_->stats();
    result.received = x.received;
    result.processed = x.processed;
    result.abandoned = x.abandoned;
    result.max_buffered = x.max_buffered;
    result.resubscribed = x.resubscribed;
    result.capacity = in_->capacity_;
    result.buffered = in_->buffered();
  }
  return result;
}

const char* flow_actor::name() const {
  return "troupe.flow";
}

caf::message_handler flow_actor::handlers() {
  return {};
}

caf::message_handler flow_actor::input_handlers() {
  return {};
}

pulled_batch flow_actor::pull_batch(size_t, seq_t) {
  pulled_batch result;
  result.status = pull_status::done;
  return result;
}

caf::message flow_actor::slice(const caf::message&, size_t, size_t) {
  return {};
}

void flow_actor::send_single(const caf::actor&, seq_t, const single_item&) {
  // nop: this actor never fills `pulled_batch::single`
}

caf::message flow_actor::single_batch(seq_t, const single_item&) {
  return {};
}

void flow_actor::on_acknowledged(seq_t, uint32_t) {
  // nop
}

void flow_actor::on_input_finished(const caf::error& err) {
  if (!out_) {
    quit_with(err);
  } else if (err && err != flow_errc::cancelled) {
    out_->fail(err); // errors flow downstream at once
  } else {
    out_->resume(); // lets `pull` report `done` once everything is out
  }
}

void flow_actor::on_output_finished(const caf::error& err) {
  if (err == flow_errc::cancelled && in_)
    in_->cancel(); // all our consumers left: cancellation flows upstream
  quit_with(err);
}

void flow_actor::on_upstream_replaced() {
  // nop
}

void flow_actor::on_down(const caf::down_msg&) {
  // nop
}

void flow_actor::quit_with(const caf::error& err) {
  if (!err || err == flow_errc::cancelled)
    quit();
  else
    quit(err);
}

} // namespace troupe::actors
