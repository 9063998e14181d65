#include "troupe/actors/bounded_mailbox.hpp"

#include <algorithm>
#include <deque>
#include <functional>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>
#include <caf/message_id.hpp>
#include <caf/message_view.hpp>
#include <caf/response_promise.hpp>
#include <caf/scheduled_actor.hpp>
#include <caf/type_erased_tuple.hpp>
#include <troupe/actors/human_units.hpp>

namespace troupe::actors {

std::string to_string(const overflow& x) {
  switch (x.what()) {
    case overflow::kind::wait:
      return "wait(" + human_duration(x.max_wait()) + ")";
    case overflow::kind::drop_newest:
      return "drop_newest";
    case overflow::kind::drop_oldest:
      return "drop_oldest";
    case overflow::kind::reject:
      return "reject";
  }
  return "overflow(?)";
}

caf::error mailbox_config::validate() const {
  auto fail = [](std::string why) {
    return caf::make_error(flow_errc::invalid_config, "mailbox_config: " + std::move(why));
  };
  auto check_policy = [&](const overflow& p, const std::string& where) -> caf::error {
    if (p.what() == overflow::kind::wait && p.max_wait().count() <= 0)
      return fail(where + ": wait needs a max_wait > 0");
    return caf::none;
  };
  if (capacity == 0)
    return fail("capacity must be >= 1 (got 0)");
  if (worker_window > capacity)
    return fail("worker_window must be <= capacity (got " + std::to_string(worker_window)
                + " > " + std::to_string(capacity) + ")");
  if (auto err = check_policy(policy, "policy"))
    return err;
  for (size_t i = 0; i < per_type.size(); ++i) {
    auto where = "per_type[" + std::to_string(i) + "]";
    if (auto err = check_policy(per_type[i].policy, where))
      return err;
    if (per_type[i].capacity > capacity)
      return fail(where + ".capacity must be <= capacity");
    for (size_t j = 0; j < i; ++j)
      if (per_type[j].key == per_type[i].key)
        return fail(where + " repeats the key of per_type[" + std::to_string(j) + "]");
  }
  return caf::none;
}

namespace {

using ack_request_atom = caf::atom_constant<caf::atom("trp_mbareq")>;
using ack_atom = caf::atom_constant<caf::atom("trp_mback")>;
using expire_atom = caf::atom_constant<caf::atom("trp_mbexp")>;

class gate_actor final : public caf::event_based_actor {
public:
  gate_actor(caf::actor_config& cfg, mailbox_config mcfg,
             std::function<caf::actor(caf::actor)> factory)
    : caf::event_based_actor(cfg), cfg_(std::move(mcfg)), factory_(std::move(factory)) {
    if (cfg_.max_parked == 0)
      cfg_.max_parked = cfg_.capacity;
    if (cfg_.worker_window == 0)
      cfg_.worker_window = std::max<uint32_t>(1, cfg_.capacity / 4);
    counts_.resize(cfg_.per_type.size() + 1);
  }

  caf::behavior make_behavior() override {
    worker_ = factory_(caf::actor_cast<caf::actor>(this));
    factory_ = nullptr;
    link_to(worker_);
    // A sender that does not handle a refusal drops it as unexpected, and
    // CAF 0.17 bounces an `unexpected_message` error back to us: that must
    // not stop the gate. Any other error stops it, as by default.
    set_error_handler([this](caf::error& err) {
      if (err != caf::sec::unexpected_message)
        quit(std::move(err));
    });
    set_default_handler(
      [this](caf::scheduled_actor*, caf::message_view& view) -> caf::result<caf::message> {
        on_message(view);
        return caf::delegated<caf::message>();
      });
    return {
      [this](ack_atom, uint64_t n) {
        in_worker_ -= std::min(in_worker_, n);
        stats_.processed += n;
        admit_parked();
        pump();
      },
      [this](expire_atom, uint64_t id) { expire(id); },
      [this](mailbox_stats_atom) {
        auto result = stats_;
        result.capacity = cfg_.capacity;
        result.held = queue_.size() + in_worker_;
        result.waiting = parked_.size();
        return result;
      },
    };
  }

  const char* name() const override {
    return "troupe.mailbox";
  }

  void on_exit() override {
    // Nobody waits forever: every queued or parked requester learns why.
    caf::error reason = fail_state();
    if (!reason)
      reason = caf::make_error(flow_errc::cancelled);
    for (auto& e : queue_)
      refuse(e, reason);
    for (auto& e : parked_)
      refuse(e, reason);
    queue_.clear();
    parked_.clear();
    caf::event_based_actor::on_exit();
  }

private:
  struct entry {
    caf::response_promise promise;
    caf::message content;
    size_t policy_index; // into counts_; per_type.size() = the default policy
    uint64_t id;
  };

  size_t policy_of(const caf::message& msg) const {
    if (!msg.empty()) {
      auto rtti = msg.type(0);
      std::type_index type =
        rtti.second != nullptr ? std::type_index{*rtti.second} : std::type_index{typeid(void)};
      bool is_atom = rtti.first == caf::type_nr<caf::atom_value>::value;
      for (size_t i = 0; i < cfg_.per_type.size(); ++i) {
        auto& key = cfg_.per_type[i].key;
        if (is_atom) {
          if (key.type == typeid(caf::atom_value)
              && key.atom == msg.get_as<caf::atom_value>(0))
            return i;
        } else if (key.type == type) {
          return i;
        }
      }
    }
    return cfg_.per_type.size();
  }

  const overflow& policy_at(size_t i) const {
    return i < cfg_.per_type.size() ? cfg_.per_type[i].policy : cfg_.policy;
  }

  bool has_room(size_t i) const {
    if (queue_.size() + in_worker_ >= cfg_.capacity)
      return false;
    if (i < cfg_.per_type.size() && cfg_.per_type[i].capacity > 0)
      return counts_[i] < cfg_.per_type[i].capacity;
    return true;
  }

  void on_message(caf::message_view& view) {
    entry e{make_response_promise(), view.move_content_to_message(), 0, next_id_++};
    e.policy_index = policy_of(e.content);
    if (has_room(e.policy_index)) {
      accept(std::move(e));
      pump();
      return;
    }
    auto& policy = policy_at(e.policy_index);
    switch (policy.what()) {
      case overflow::kind::reject:
        ++stats_.rejected;
        refuse(e, caf::make_error(flow_errc::mailbox_full, cfg_.capacity));
        break;
      case overflow::kind::drop_newest:
        ++stats_.dropped;
        drop(e);
        break;
      case overflow::kind::drop_oldest: {
        auto victim = std::find_if(queue_.begin(), queue_.end(), [&](const entry& x) {
          return x.policy_index == e.policy_index;
        });
        if (victim == queue_.end()) {
          // Nothing of its kind is queued (all handed to the worker): the
          // newest is the only one we can drop.
          ++stats_.dropped;
          drop(e);
          break;
        }
        ++stats_.dropped;
        --counts_[victim->policy_index];
        drop(*victim);
        queue_.erase(victim);
        accept(std::move(e));
        break;
      }
      case overflow::kind::wait:
        if (parked_.size() >= cfg_.max_parked) {
          ++stats_.rejected;
          refuse(e, caf::make_error(flow_errc::mailbox_full, cfg_.capacity));
          break;
        }
        ++stats_.parked;
        delayed_send(this, policy.max_wait(), expire_atom::value, e.id);
        parked_.push_back(std::move(e));
        break;
    }
  }

  /// A refused request gets the error as its reply. A refused plain send
  /// gets `(mailbox_refused_atom, error, message)` back, a message its
  /// sender may handle (to retry, count, log) or leave unhandled: a bare
  /// error message would run the sender's error handler, whose default in
  /// CAF 0.17 makes an event-based sender quit.
  void refuse(entry& e, caf::error err) {
    if (!e.promise.async()) {
      e.promise.deliver(std::move(err));
      return;
    }
    if (auto sender = caf::actor_cast<caf::actor>(e.promise.source()))
      send(sender, mailbox_refused_atom::value, std::move(err), std::move(e.content));
  }

  /// A dropped request still gets an answer; a dropped send just vanishes.
  void drop(entry& e) {
    if (e.promise.async())
      return;
    e.promise.deliver(caf::make_error(flow_errc::mailbox_full, cfg_.capacity));
  }

  void accept(entry e) {
    ++stats_.accepted;
    ++counts_[e.policy_index];
    queue_.push_back(std::move(e));
    stats_.max_held = std::max<uint64_t>(stats_.max_held, queue_.size() + in_worker_);
  }

  void admit_parked() {
    // Oldest first; a parked message waits for room of its own kind.
    for (auto i = parked_.begin(); i != parked_.end();) {
      if (!has_room(i->policy_index)) {
        ++i;
        continue;
      }
      accept(std::move(*i));
      i = parked_.erase(i);
    }
  }

  void expire(uint64_t id) {
    auto i =
      std::find_if(parked_.begin(), parked_.end(), [&](const entry& e) { return e.id == id; });
    if (i == parked_.end())
      return; // admitted in time
    ++stats_.expired;
    refuse(
      *i,
      caf::make_error(flow_errc::mailbox_wait_expired, policy_at(i->policy_index).max_wait()));
    parked_.erase(i);
  }

  void pump() {
    uint64_t handed = 0;
    while (!queue_.empty() && in_worker_ < cfg_.worker_window) {
      auto e = std::move(queue_.front());
      queue_.pop_front();
      --counts_[e.policy_index];
      ++in_worker_;
      ++handed;
      if (e.promise.async()) {
        // A plain send goes on as a plain send from its sender: what the
        // worker returns reaches the sender as an ordinary message, as
        // without a gate. (Delegating it through the promise would make
        // that answer a response nobody asked for, and an event-based
        // sender dies of an unexpected response.)
        worker_->enqueue(e.promise.source(), caf::make_message_id(), std::move(e.content),
                         context());
      } else {
        // The promise forwards sender and request id: the worker's reply goes
        // straight to the original sender.
        e.promise.delegate(worker_, std::move(e.content));
      }
    }
    if (handed > 0) {
      // Messages from one sender arrive in order, so when the worker handles
      // this request it has processed the `handed` messages before it.
      send(worker_, ack_request_atom::value, handed);
    }
  }

  mailbox_config cfg_;
  std::function<caf::actor(caf::actor)> factory_;
  caf::actor worker_;
  std::deque<entry> queue_;
  std::deque<entry> parked_;
  std::vector<uint64_t> counts_; // queued messages per policy index
  uint64_t in_worker_ = 0;
  uint64_t next_id_ = 1;
  mailbox_stats stats_;
};

} // namespace

namespace detail {

caf::actor spawn_gate(caf::actor_system& sys, mailbox_config cfg,
                      std::function<caf::actor(caf::actor gate)> worker_factory) {
  return sys.spawn<gate_actor>(std::move(cfg), std::move(worker_factory));
}

void install_gate_acks(caf::event_based_actor* self, caf::actor gate) {
  // A worker that calls `become` drops its first behavior and with it the
  // handler `with_gate_acks` adds; the default handler catches
  // acknowledgement requests then, so the gate never stalls. Anything else
  // unexpected is printed and dropped, as CAF's own default does. Installed
  // before the worker's own code runs, so a worker may still replace it.
  self->set_default_handler(
    [self, gate](caf::scheduled_actor* ptr,
                 caf::message_view& view) -> caf::result<caf::message> {
      auto& content = view.content();
      if (content.match_elements<ack_request_atom, uint64_t>()) {
        self->send(gate, ack_atom::value, content.get_as<uint64_t>(1));
        return caf::message{};
      }
      return caf::print_and_drop(ptr, view);
    });
}

caf::behavior with_gate_acks(caf::event_based_actor* self, caf::actor gate,
                             caf::behavior user) {
  caf::message_handler acks{
    [self, gate](ack_request_atom, uint64_t n) { self->send(gate, ack_atom::value, n); }};
  // Acknowledgement requests first: a user catch-all must not swallow them.
  return acks.or_else(user);
}

} // namespace detail

} // namespace troupe::actors
