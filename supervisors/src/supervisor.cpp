#include "troupe/supervisors/supervisor.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <unordered_map>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <troupe/actors/human_units.hpp>

#include <spdlog/logger.h>

#include <troupe/actors/log.hpp>
#include <troupe/actors/observers.hpp>
#include <troupe/messages/error_category.hpp>

#include "child_control.hpp"
#include "deadline_timer.hpp"
#include "troupe/supervisors/stop_reason.hpp"
#include "troupe/supervisors/supervision_event.hpp"
#include "troupe/supervisors/supervisor_errc.hpp"

namespace troupe::supervisors {

namespace {

using time_point = caf::actor_clock::time_point;

using kill_timer_atom = caf::atom_constant<caf::atom("trp_killt")>;
using restart_timer_atom = caf::atom_constant<caf::atom("trp_restt")>;

/// The public protocol plus the timer messages a supervisor sends itself.
/// Spawning the implementation yields this handle, which converts to
/// `supervisor_actor`; nobody else ever sees the timer messages.
using supervisor_impl_actor =
  supervisor_actor::extend<caf::reacts_to<kill_timer_atom, int64_t>,
                           caf::reacts_to<restart_timer_atom, int64_t>>;

/// Where a child is in its life, as the supervisor sees it.
enum class child_state : uint8_t {
  /// Started and monitored.
  running,
  /// Asked to stop (or killed); waiting for its down message.
  stopping,
  /// Not running and nothing planned (transient after a normal exit, or
  /// between the stop and the restart of a group).
  stopped,
  /// Waiting in `pending_` for its restart time.
  pending,
  /// Waiting in `start_queue_` for its turn to start.
  queued,
};

struct child {
  /// Position in start order; never reused.
  uint64_t seq = 0;
  std::string id;
  std::shared_ptr<const child_spec> spec;
  /// Start arguments of a dynamic child.
  caf::message args;
  caf::actor handle;
  child_state state = child_state::stopped;
  bool ever_started = false;
  bool kill_sent = false;
  /// Set by stop_child: the child goes away once stopped.
  bool removing = false;
  /// Ended and not restarted (a transient child that stopped normally):
  /// lookups answer "finished" and auto_shutdown counts it.
  bool finished = false;
  time_point started_at{};
  time_point kill_at{};
  time_point due{};
  /// Created at the first restart that needs a delay (a backoff_state holds a
  /// 2.5 KB random engine; most children never need one).
  std::unique_ptr<actors::backoff_state> backoff;
  uint32_t restarts = 0;
};

/// A sequence of waves; the children of one wave stop in parallel, the waves
/// one after the other.
struct stop_job {
  std::deque<std::vector<uint64_t>> waves;
  /// Children of the current wave still waiting for their down message.
  std::vector<uint64_t> current;
  /// What to do once every wave has stopped.
  std::function<void()> done;
  /// What to do instead if a shutdown takes the job over.
  std::function<void()> abort;
};

/// A lookup waiting for a child to run (as an actor other than `stale`).
struct lookup_waiter {
  caf::typed_response_promise<caf::actor> promise;
  caf::actor_addr stale;
};

/// Work that must wait until no stop job runs.
struct queued_op {
  std::function<void()> run;
  std::function<void()> abort;
};

class supervisor_impl : public supervisor_impl_actor::base {
public:
  supervisor_impl(caf::actor_config& actor_cfg, supervisor_config cfg, std::string path,
                  std::vector<caf::actor> inherited_observers)
    : supervisor_impl_actor::base(actor_cfg),
      path_(std::move(path)),
      strategy_(cfg.strategy),
      intensity_(cfg.intensity),
      backoff_(cfg.restart_backoff),
      has_backoff_(cfg.restart_backoff != actors::backoff::none()),
      stable_period_(cfg.stable_period),
      shutdown_order_(cfg.shutdown_order),
      auto_shutdown_(cfg.auto_shutdown),
      seed_(cfg.seed != 0 || !has_backoff_ ? cfg.seed : std::random_device{}()),
      log_(actors::logger(path_)) {
    for (auto& x : cfg.observers)
      observers_.add(std::move(x));
    for (auto& x : inherited_observers)
      observers_.add(std::move(x));
    if (strategy_ == restart_strategy::dynamic) {
      template_ = std::make_shared<const child_spec>(std::move(cfg.children.front()));
    } else {
      by_id_.reserve(cfg.children.size());
      by_actor_.reserve(cfg.children.size());
      for (auto& spec : cfg.children) {
        auto id = spec.id;
        add_child(std::move(id), std::make_shared<const child_spec>(std::move(spec)), {});
      }
    }
  }

  const char* name() const override {
    return "troupe.supervisor";
  }

  behavior_type make_behavior() override {
    set_exit_handler([this](caf::exit_msg& msg) { on_exit_message(msg); });
    set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
    for (auto& obs : observers_.members())
      monitor(obs);
    log_->debug("starting {} children ({})", children_.size(), to_string(strategy_));
    for (auto& kvp : children_) {
      kvp.second.state = child_state::queued;
      start_queue_.push_back(kvp.first);
    }
    pump();
    return {
      [this](start_child_atom, child_spec& spec) -> caf::result<caf::actor> {
        return start_static_child(std::move(spec));
      },
      [this](start_child_atom, caf::message& args) -> caf::result<caf::actor> {
        return start_dynamic_child(std::move(args));
      },
      [this](stop_child_atom, std::string& id) -> caf::result<caf::ok_atom> {
        if (strategy_ == restart_strategy::dynamic)
          return caf::make_error(supervisor_errc::unsupported_operation, "stop_child by id",
                                 to_string(strategy_));
        auto i = by_id_.find(id);
        if (i == by_id_.end())
          return caf::make_error(supervisor_errc::unknown_child, std::move(id));
        return stop_child(i->second);
      },
      [this](stop_child_atom, caf::actor& who) -> caf::result<caf::ok_atom> {
        auto i = who ? by_actor_.find(who.id()) : by_actor_.end();
        if (i == by_actor_.end())
          return caf::make_error(supervisor_errc::unknown_child,
                                 who ? caf::to_string(who.address()) : "invalid handle");
        return stop_child(i->second);
      },
      [this](which_children_atom) { return children_info(); },
      [this](report_atom) { return report(); },
      [this](ready_atom) -> caf::result<caf::ok_atom> {
        if (started_)
          return caf::ok_atom::value;
        auto rp = make_response_promise<caf::ok_atom>();
        ready_promises_.push_back(rp);
        return rp;
      },
      [this](actors::lookup_atom, std::string& id, caf::actor_addr& stale)
        -> caf::result<caf::actor> { return lookup(std::move(id), std::move(stale)); },
      [this](actors::subscribe_atom, caf::actor& observer) {
        if (observers_.add(observer))
          monitor(observer);
        return caf::ok_atom::value;
      },
      [this](actors::unsubscribe_atom, caf::actor& observer) {
        // A child that is also an observer keeps its monitor (demonitor
        // would remove both).
        if (observers_.remove(observer.address()) && by_actor_.count(observer.id()) == 0)
          demonitor(observer);
        return caf::ok_atom::value;
      },
      [this](kill_timer_atom, int64_t t) {
        kill_timer_.fired(internal::decode(t));
        kill_overdue();
      },
      [this](restart_timer_atom, int64_t t) {
        restart_timer_.fired(internal::decode(t));
        start_due();
      },
    };
  }

  void on_exit() override {
    // Last resort: whatever still runs dies with us (no child outlives its
    // supervisor). After an orderly shutdown nothing is left here.
    for (auto& kvp : children_)
      if (kvp.second.handle)
        internal::send_exit_urgent(this, kvp.second.handle, caf::exit_reason::kill);
    end_lookups();
    children_.clear();
    by_actor_.clear();
    by_id_.clear();
    observers_.clear();
    job_.reset();
    queued_.clear();
    template_.reset();
    ready_promises_.clear();
  }

private:
  // -- bookkeeping ------------------------------------------------------------

  child& add_child(std::string id, std::shared_ptr<const child_spec> spec, caf::message args) {
    auto seq = next_seq_++;
    auto& c = children_[seq];
    c.seq = seq;
    c.id = std::move(id);
    c.spec = std::move(spec);
    c.args = std::move(args);
    if (strategy_ != restart_strategy::dynamic)
      by_id_.emplace(c.id, seq);
    return c;
  }

  child* find(uint64_t seq) {
    auto i = children_.find(seq);
    return i != children_.end() ? &i->second : nullptr;
  }

  void erase(uint64_t seq) {
    auto i = children_.find(seq);
    if (i == children_.end())
      return;
    auto& c = i->second;
    end_lookups_with(c.id, caf::make_error(supervisor_errc::unknown_child, c.id));
    if (c.handle)
      by_actor_.erase(c.handle.id());
    if (c.state == child_state::pending)
      pending_.erase({c.due, seq});
    if (strategy_ != restart_strategy::dynamic)
      by_id_.erase(c.id);
    children_.erase(i);
  }

  // -- lookups (the directory protocol of upstream_ref) -----------------------

  caf::result<caf::actor> lookup(std::string id, caf::actor_addr stale) {
    if (strategy_ == restart_strategy::dynamic)
      return caf::make_error(supervisor_errc::unsupported_operation, "lookup",
                             to_string(strategy_));
    if (shutting_down_)
      return stopped_reply();
    auto i = by_id_.find(id);
    if (i == by_id_.end())
      return caf::make_error(supervisor_errc::unknown_child, std::move(id));
    auto& c = children_.at(i->second);
    if (c.state == child_state::running && c.handle.address() != stale)
      return c.handle;
    if (c.finished)
      return caf::actor{};
    // Not running yet, restarting, or still the incarnation the asker saw
    // die (its down message has not reached us): answer at the next start.
    auto rp = make_response_promise<caf::actor>();
    lookups_[id].push_back(lookup_waiter{rp, std::move(stale)});
    return rp;
  }

  /// Answers every lookup for `id` with `reply`: the started child, an
  /// invalid handle for "finished", or an error.
  template <class Reply>
  void end_lookups_with(const std::string& id, Reply reply) {
    auto i = lookups_.find(id);
    if (i == lookups_.end())
      return;
    auto waiters = std::move(i->second);
    lookups_.erase(i);
    for (auto& w : waiters)
      w.promise.deliver(reply);
  }

  /// What a lookup gets once we stop: nothing runs again. A normal stop
  /// ends the asker's input cleanly (an invalid handle, as for a finished
  /// child); a failure (intensity exceeded, a parent's error) is passed on,
  /// so downstream does not report a failed stream as complete.
  caf::result<caf::actor> stopped_reply() const {
    if (is_normal_stop(shutdown_reason_))
      return caf::actor{};
    return shutdown_reason_;
  }

  /// Stopping: answers every waiting lookup as `stopped_reply()` does.
  void end_lookups() {
    while (!lookups_.empty()) {
      auto id = lookups_.begin()->first;
      if (is_normal_stop(shutdown_reason_))
        end_lookups_with(id, caf::actor{});
      else
        end_lookups_with(id, shutdown_reason_);
    }
  }

  // -- events -----------------------------------------------------------------

  static spdlog::level::level_enum level_of(event_kind kind, const child* c,
                                            const caf::error& reason) {
    switch (kind) {
      case event_kind::started:
      case event_kind::stopped:
        return spdlog::level::debug;
      case event_kind::exited:
        if (is_normal_stop(reason))
          return spdlog::level::info;
        return c != nullptr && c->spec->expected_exit && c->spec->expected_exit(reason)
          ? spdlog::level::info
          : spdlog::level::warn;
      case event_kind::restarting:
        return spdlog::level::info;
      case event_kind::killed:
        return spdlog::level::warn;
      case event_kind::intensity_exceeded:
      case event_kind::escalated:
        return spdlog::level::err;
    }
    return spdlog::level::info;
  }

  void emit(event_kind kind, const child* c, const caf::error& reason,
            caf::timespan delay = caf::timespan{0}) {
    auto level = level_of(kind, c, reason);
    auto to_log = log_->should_log(level);
    if (!to_log && observers_.empty())
      return;
    supervision_event ev;
    ev.kind = kind;
    ev.supervisor = path_;
    if (c != nullptr) {
      ev.child = c->id;
      ev.restarts = c->restarts;
    }
    ev.reason = reason;
    ev.delay = delay;
    if (to_log) {
      std::string text = ev.child.empty() ? to_string(kind) : ev.child + " " + to_string(kind);
      if (kind == event_kind::restarting)
        text += " in " + troupe::actors::human_duration(delay);
      if (reason)
        text += " (" + messages::describe(reason) + ")";
      if (ev.restarts > 0)
        text += " [restarts: " + std::to_string(ev.restarts) + "]";
      log_->log(level, "{}", text);
    }
    observers_.notify(this, ev);
  }

  // -- starting ---------------------------------------------------------------

  /// Starts `c` now; returns the start error, if any (the child then stays
  /// stopped).
  caf::error start(child& c) {
    start_context ctx{system(),
                      c.id,
                      path_ + "/" + c.id,
                      c.args,
                      caf::actor_cast<caf::actor>(this),
                      observers_.members()};
    c.started_at = clock().now();
    auto res = internal::invoke_start(c.spec->start, ctx);
    if (!res) {
      c.state = child_state::stopped;
      return std::move(res.error());
    }
    c.handle = std::move(*res);
    c.state = child_state::running;
    c.kill_sent = false;
    c.finished = false;
    by_actor_[c.handle.id()] = c.seq;
    monitor(c.handle);
    if (c.ever_started) {
      ++c.restarts;
      ++restarts_total_;
    }
    c.ever_started = true;
    emit(event_kind::started, &c, caf::error{});
    // A new incarnation is never the one a waiting asker saw die. (Most
    // supervisors have no lookups: skip the search on the restart path.)
    if (!lookups_.empty())
      end_lookups_with(c.id, c.handle);
    return caf::none;
  }

  caf::result<caf::actor> start_static_child(child_spec spec) {
    if (strategy_ == restart_strategy::dynamic)
      return caf::make_error(supervisor_errc::unsupported_operation,
                             "start_child with a child_spec", to_string(strategy_));
    if (auto err = spec.validate())
      return err;
    if (shutting_down_)
      return caf::make_error(supervisor_errc::shutting_down, path_);
    if (by_id_.count(spec.id) > 0)
      return caf::make_error(supervisor_errc::duplicate_child_id, spec.id);
    auto id = spec.id;
    auto& c =
      add_child(std::move(id), std::make_shared<const child_spec>(std::move(spec)), {});
    if (auto err = start(c)) {
      erase(c.seq);
      return err;
    }
    return c.handle;
  }

  caf::result<caf::actor> start_dynamic_child(caf::message args) {
    if (strategy_ != restart_strategy::dynamic)
      return caf::make_error(supervisor_errc::unsupported_operation,
                             "start_child with arguments", to_string(strategy_));
    if (shutting_down_)
      return caf::make_error(supervisor_errc::shutting_down, path_);
    auto& c = add_child(template_->id + "-" + std::to_string(++dynamic_count_), template_,
                        std::move(args));
    if (auto err = start(c)) {
      erase(c.seq);
      return err;
    }
    return c.handle;
  }

  // -- reacting to children ---------------------------------------------------

  void on_down(caf::down_msg& msg) {
    auto aid = msg.source.id();
    auto i = by_actor_.find(aid);
    if (i == by_actor_.end()) {
      // An observer went away (or a stale monitor fired).
      observers_.remove(msg.source);
      return;
    }
    auto seq = i->second;
    by_actor_.erase(i);
    auto& c = children_.at(seq);
    c.handle = nullptr;
    if (c.state == child_state::stopping) {
      c.state = child_state::stopped;
      emit(event_kind::stopped, &c, msg.reason);
      if (job_) {
        auto& cur = job_->current;
        cur.erase(std::remove(cur.begin(), cur.end(), seq), cur.end());
        if (cur.empty())
          next_wave();
      }
      return;
    }
    c.state = child_state::stopped;
    emit(event_kind::exited, &c, msg.reason);
    if (awaiting_ready_ && *awaiting_ready_ == seq) {
      // A nested supervisor died before it finished starting.
      awaiting_ready_.reset();
      ++ready_token_;
      if (!started_) {
        begin_shutdown(caf::make_error(supervisor_errc::start_failed, c.id, msg.reason));
        return;
      }
      on_child_stopped(c, msg.reason, false);
      pump();
      return;
    }
    on_child_stopped(c, msg.reason, false);
  }

  static bool should_restart(const child& c, const caf::error& reason) {
    switch (c.spec->restart) {
      case restart_type::permanent:
        return true;
      case restart_type::transient:
        return !is_normal_stop(reason);
      case restart_type::temporary:
        return false;
    }
    return false;
  }

  /// A child stopped on its own (or failed to start): decide what happens.
  void on_child_stopped(child& c, const caf::error& reason, bool failed_start) {
    if (c.removing) {
      // stop_child is waiting for it; nothing to restart.
      return;
    }
    if (shutting_down_)
      return;
    if (!should_restart(c, reason)) {
      c.finished = true;
      end_lookups_with(c.id, caf::actor{});
      bool significant = c.spec->significant;
      if (c.spec->restart == restart_type::temporary || strategy_ == restart_strategy::dynamic)
        erase(c.seq);
      if (significant)
        check_auto_shutdown();
      return;
    }
    auto now = clock().now();
    if (!intensity_.record(now)) {
      emit(event_kind::intensity_exceeded, &c, reason);
      begin_shutdown(caf::make_error(supervisor_errc::intensity_exceeded, path_,
                                     to_string(intensity_.limits())));
      return;
    }
    auto delay = next_delay(c, now);
    emit(event_kind::restarting, &c, reason, delay);
    switch (strategy_) {
      case restart_strategy::one_for_one:
      case restart_strategy::dynamic:
        if (delay.count() == 0 && !failed_start && !starting()
            && c.spec->kind == child_kind::worker) {
          // The fast path: no timer, no message, no queue.
          if (auto err = start(c)) {
            emit(event_kind::exited, &c, err);
            on_child_stopped(c, err, true);
          }
        } else if (delay.count() == 0 && !failed_start) {
          c.state = child_state::queued;
          start_queue_.push_back(c.seq);
          pump();
        } else {
          make_pending(c, now + delay);
          arm_restart_timer();
        }
        break;
      case restart_strategy::one_for_all:
      case restart_strategy::rest_for_one: {
        auto seq = c.seq;
        schedule_op({[this, seq, delay] { restart_group(seq, delay); }, [] {}});
        break;
      }
    }
  }

  /// A significant child ended for good: maybe the supervisor ends too.
  void check_auto_shutdown() {
    switch (auto_shutdown_) {
      case auto_shutdown::never:
        return;
      case auto_shutdown::any_significant:
        break;
      case auto_shutdown::all_significant:
        for (auto& kvp : children_)
          if (kvp.second.spec->significant && !kvp.second.finished)
            return;
        break;
    }
    log_->info("significant children ended: shutting down ({})", to_string(auto_shutdown_));
    begin_shutdown(make_shutdown(path_));
  }

  /// The children in start order, as `which_children_atom` reports them.
  std::vector<child_info> children_info() const {
    std::vector<child_info> result;
    result.reserve(children_.size());
    for (auto& kvp : children_) {
      auto& c = kvp.second;
      result.push_back(
        child_info{c.id, c.handle, c.spec->kind, c.spec->restart, c.restarts, status_of(c)});
    }
    return result;
  }

  static child_status status_of(const child& c) {
    switch (c.state) {
      case child_state::running:
        return child_status::running;
      case child_state::stopping:
        return child_status::stopping;
      case child_state::pending:
        return child_status::restarting;
      case child_state::queued:
        return c.ever_started ? child_status::restarting : child_status::starting;
      default:
        return child_status::stopped;
    }
  }

  /// What `report_atom` answers.
  supervisor_report report() {
    auto now = clock().now();
    supervisor_report r;
    r.path = path_;
    r.strategy = to_string(strategy_);
    r.max_restarts = intensity_.limits().max_restarts;
    r.window = intensity_.limits().window;
    r.restarts_in_window = static_cast<uint32_t>(intensity_.count(now));
    r.restarts_total = restarts_total_;
    for (auto& kvp : children_) {
      auto& c = kvp.second;
      if (c.state == child_state::pending && c.due > now) {
        auto left = caf::timespan{c.due - now};
        if (r.next_restart_in.count() == 0 || left < r.next_restart_in)
          r.next_restart_in = left;
      }
    }
    r.children = children_info();
    return r;
  }

  caf::timespan next_delay(child& c, time_point now) {
    if (!has_backoff_)
      return caf::timespan{0};
    if (!c.backoff)
      c.backoff = std::make_unique<actors::backoff_state>(backoff_, seed_ + c.seq);
    else if (now - c.started_at >= stable_period_)
      c.backoff->reset();
    return c.backoff->next();
  }

  /// Stops the group of `failed` (everyone, or everyone after it) in reverse
  /// order, then plans their restart after `delay`, in order.
  void restart_group(uint64_t failed, caf::timespan delay) {
    if (find(failed) == nullptr)
      return;
    std::vector<uint64_t> members;
    for (auto& kvp : children_)
      if (strategy_ == restart_strategy::one_for_all || kvp.first >= failed)
        members.push_back(kvp.first);
    std::deque<std::vector<uint64_t>> waves;
    for (auto i = members.rbegin(); i != members.rend(); ++i)
      waves.push_back({*i});
    begin_job(
      std::move(waves),
      [this, members, delay] {
        auto due = clock().now() + delay;
        for (auto seq : members) {
          auto c = find(seq);
          if (c == nullptr || c->state == child_state::running)
            continue;
          if (c->spec->restart == restart_type::temporary) {
            erase(seq); // OTP: temporary children are not restarted with a group
            continue;
          }
          if (c->state == child_state::pending)
            pending_.erase({c->due, seq});
          make_pending(*c, due);
        }
        start_due();
      },
      [] {});
  }

  // -- restarting -------------------------------------------------------------

  void make_pending(child& c, time_point due) {
    c.state = child_state::pending;
    c.due = due;
    pending_.emplace(due, c.seq);
  }

  void arm_restart_timer() {
    if (pending_.empty())
      return;
    restart_timer_.schedule(this, pending_.begin()->first, restart_timer_atom::value);
  }

  /// Queues every child whose restart is due, in (due, start order).
  void start_due() {
    if (shutting_down_ || job_)
      return;
    auto now = clock().now();
    while (!pending_.empty() && pending_.begin()->first <= now) {
      auto seq = pending_.begin()->second;
      pending_.erase(pending_.begin());
      if (auto c = find(seq); c != nullptr && c->state == child_state::pending) {
        c->state = child_state::queued;
        start_queue_.push_back(seq);
      }
    }
    pump();
    arm_restart_timer();
  }

  bool starting() const noexcept {
    return awaiting_ready_.has_value() || !start_queue_.empty();
  }

  /// Starts queued children in order. After a child of kind supervisor, waits
  /// for its `ready` reply (or its death) before starting the next one.
  void pump() {
    if (in_pump_)
      return;
    in_pump_ = true;
    while (!awaiting_ready_ && !start_queue_.empty() && !shutting_down_ && !job_) {
      auto seq = start_queue_.front();
      start_queue_.pop_front();
      auto c = find(seq);
      if (c == nullptr || c->state != child_state::queued)
        continue;
      if (auto err = start(*c)) {
        emit(event_kind::exited, c, err);
        if (!started_) {
          in_pump_ = false;
          begin_shutdown(std::move(err));
          return;
        }
        if (strategy_ == restart_strategy::one_for_all
            || strategy_ == restart_strategy::rest_for_one) {
          // The group restart that follows covers whoever still waits.
          for (auto other : start_queue_)
            if (auto d = find(other); d != nullptr && d->state == child_state::queued)
              d->state = child_state::stopped;
          start_queue_.clear();
        }
        on_child_stopped(*c, err, true);
        continue;
      }
      if (c->spec->kind == child_kind::supervisor) {
        awaiting_ready_ = seq;
        auto token = ++ready_token_;
        request(c->handle, caf::infinite, ready_atom::value)
          .then([this, token](caf::ok_atom) { on_ready(token); },
                [this, token](caf::error&) { on_ready(token); });
      }
    }
    in_pump_ = false;
    if (!starting() && !shutting_down_)
      on_started();
  }

  void on_ready(uint64_t token) {
    if (token != ready_token_ || !awaiting_ready_)
      return;
    awaiting_ready_.reset();
    pump();
  }

  /// Every queued child started.
  void on_started() {
    if (!started_) {
      started_ = true;
      log_->debug("started");
    }
    for (auto& rp : ready_promises_)
      rp.deliver(caf::ok_atom::value);
    ready_promises_.clear();
    run_queued();
  }

  // -- stopping ---------------------------------------------------------------

  caf::result<caf::ok_atom> stop_child(uint64_t seq) {
    if (shutting_down_)
      return caf::make_error(supervisor_errc::shutting_down, path_);
    auto rp = make_response_promise<caf::ok_atom>();
    schedule_op(
      {[this, seq, rp]() mutable {
         auto c = find(seq);
         if (c == nullptr) {
           rp.deliver(caf::ok_atom::value);
           return;
         }
         c->removing = true;
         if (c->state != child_state::running && c->state != child_state::stopping) {
           erase(seq);
           rp.deliver(caf::ok_atom::value);
           return;
         }
         begin_job(
           {{seq}},
           [this, seq, rp]() mutable {
             erase(seq);
             rp.deliver(caf::ok_atom::value);
           },
           [rp]() mutable { rp.deliver(caf::make_error(supervisor_errc::shutting_down)); });
       },
       [rp]() mutable { rp.deliver(caf::make_error(supervisor_errc::shutting_down)); }});
    return rp;
  }

  void schedule_op(queued_op op) {
    if (!job_ && !starting() && queued_.empty() && !shutting_down_) {
      op.run();
      return;
    }
    queued_.push_back(std::move(op));
  }

  void run_queued() {
    while (!job_ && !starting() && !queued_.empty() && !shutting_down_) {
      auto op = std::move(queued_.front());
      queued_.pop_front();
      op.run();
    }
  }

  void begin_job(std::deque<std::vector<uint64_t>> waves, std::function<void()> done,
                 std::function<void()> abort) {
    job_.emplace();
    job_->waves = std::move(waves);
    job_->done = std::move(done);
    job_->abort = std::move(abort);
    next_wave();
  }

  /// Starts the next wave of the current job, or finishes the job.
  void next_wave() {
    while (job_ && job_->current.empty()) {
      if (job_->waves.empty()) {
        auto done = std::move(job_->done);
        job_.reset();
        done();
        run_queued();
        start_due();
        return;
      }
      auto wave = std::move(job_->waves.front());
      job_->waves.pop_front();
      auto now = clock().now();
      for (auto seq : wave) {
        auto c = find(seq);
        if (c == nullptr)
          continue;
        if (c->state == child_state::running)
          ask_to_stop(*c, now);
        if (c->state == child_state::stopping)
          job_->current.push_back(seq);
      }
      arm_kill_timer();
    }
  }

  void ask_to_stop(child& c, time_point now) {
    c.state = child_state::stopping;
    if (c.spec->shutdown.is_brutal_kill()) {
      kill(c);
      return;
    }
    c.kill_at = now + c.spec->shutdown.grace();
    internal::send_exit_urgent(this, c.handle, make_shutdown(path_));
  }

  void kill(child& c) {
    c.kill_sent = true;
    emit(event_kind::killed, &c, caf::exit_reason::kill);
    internal::send_exit_urgent(this, c.handle, caf::exit_reason::kill);
  }

  void arm_kill_timer() {
    if (!job_)
      return;
    auto next = time_point::max();
    for (auto seq : job_->current) {
      auto c = find(seq);
      if (c != nullptr && c->state == child_state::stopping && !c->kill_sent)
        next = std::min(next, c->kill_at);
    }
    kill_timer_.schedule(this, next, kill_timer_atom::value);
  }

  /// Kills every stopping child whose shutdown timeout passed.
  void kill_overdue() {
    if (!job_)
      return;
    auto now = clock().now();
    auto current = job_->current; // kill() may not change it, but be safe
    for (auto seq : current) {
      auto c = find(seq);
      if (c != nullptr && c->state == child_state::stopping && !c->kill_sent
          && c->kill_at <= now)
        kill(*c);
    }
    arm_kill_timer();
  }

  // -- shutting down ----------------------------------------------------------

  void on_exit_message(caf::exit_msg& msg) {
    if (!msg.reason || msg.reason == caf::exit_reason::normal)
      return; // a linked actor finished
    if (by_actor_.count(msg.source.id()) > 0)
      return; // a child linked to us; its down message follows
    begin_shutdown(std::move(msg.reason));
  }

  /// Stops every child in reverse order (dynamic children in parallel), then
  /// exits with `reason`. The first reason wins.
  void begin_shutdown(caf::error reason) {
    if (shutting_down_)
      return;
    shutting_down_ = true;
    shutdown_reason_ = std::move(reason);
    end_lookups();
    log_->log(is_normal_stop(shutdown_reason_) ? spdlog::level::info : spdlog::level::err,
              "shutting down ({})", messages::describe(shutdown_reason_));
    for (auto& op : queued_)
      op.abort();
    queued_.clear();
    for (auto& entry : pending_)
      if (auto c = find(entry.second))
        c->state = child_state::stopped;
    pending_.clear();
    for (auto seq : start_queue_)
      if (auto c = find(seq); c != nullptr && c->state == child_state::queued)
        c->state = child_state::stopped;
    start_queue_.clear();
    awaiting_ready_.reset();
    ++ready_token_;
    std::deque<std::vector<uint64_t>> waves;
    if (strategy_ == restart_strategy::dynamic) {
      std::vector<uint64_t> all;
      for (auto& kvp : children_)
        all.push_back(kvp.first);
      waves.push_back(std::move(all));
    } else if (shutdown_order_ == stop_order::start) {
      for (auto& kvp : children_)
        waves.push_back({kvp.first});
    } else {
      for (auto i = children_.rbegin(); i != children_.rend(); ++i)
        waves.push_back({i->first});
    }
    auto finish = [this] { finish_shutdown(); };
    if (job_) {
      // Let the children of the current wave finish stopping, then continue
      // with the shutdown's waves instead of the job's.
      auto abort = std::move(job_->abort);
      job_->waves = std::move(waves);
      job_->done = finish;
      job_->abort = [] {};
      abort();
      if (job_->current.empty())
        next_wave();
    } else {
      begin_job(std::move(waves), finish, [] {});
    }
  }

  void finish_shutdown() {
    if (!is_normal_stop(shutdown_reason_))
      emit(event_kind::escalated, nullptr, shutdown_reason_);
    log_->debug("stopped");
    quit(shutdown_reason_);
  }

  // -- state ------------------------------------------------------------------

  std::string path_;
  restart_strategy strategy_;
  restart_intensity_window intensity_;
  /// Restarts of any child since this supervisor started (a counter for
  /// monitoring: children of a dynamic supervisor come and go).
  uint64_t restarts_total_ = 0;
  actors::backoff backoff_;
  bool has_backoff_;
  caf::timespan stable_period_;
  stop_order shutdown_order_;
  supervisors::auto_shutdown auto_shutdown_;
  uint64_t seed_;
  std::shared_ptr<spdlog::logger> log_;
  actors::observer_set observers_;
  std::shared_ptr<const child_spec> template_;
  uint64_t dynamic_count_ = 0;

  std::map<uint64_t, child> children_;
  std::unordered_map<caf::actor_id, uint64_t> by_actor_;
  std::unordered_map<std::string, uint64_t> by_id_;
  uint64_t next_seq_ = 0;
  std::unordered_map<std::string, std::vector<lookup_waiter>> lookups_;

  std::set<std::pair<time_point, uint64_t>> pending_;
  internal::deadline_timer restart_timer_;
  internal::deadline_timer kill_timer_;
  std::deque<uint64_t> start_queue_;
  std::optional<uint64_t> awaiting_ready_;
  uint64_t ready_token_ = 0;
  bool in_pump_ = false;
  bool started_ = false;
  std::vector<caf::typed_response_promise<caf::ok_atom>> ready_promises_;

  std::optional<stop_job> job_;
  std::deque<queued_op> queued_;
  bool shutting_down_ = false;
  caf::error shutdown_reason_;
};

/// Validates `cfg` and spawns a supervisor at `path`, adding
/// `inherited_observers` to its own observers. Tree plumbing: only
/// `spawn_supervisor` (a root) and `supervisor_child` (a nested supervisor,
/// from its `start_context`) call it.
caf::expected<supervisor_actor> spawn_at(caf::actor_system& sys, supervisor_config cfg,
                                         std::string path,
                                         std::vector<caf::actor> inherited_observers) {
  if (auto err = cfg.validate())
    return err;
  if (path.empty())
    return caf::make_error(supervisor_errc::invalid_config, "path: must not be empty");
  return sys.spawn<supervisor_impl>(std::move(cfg), std::move(path),
                                    std::move(inherited_observers));
}

} // namespace

caf::expected<supervisor_actor> spawn_supervisor(caf::actor_system& sys,
                                                 supervisor_config cfg) {
  auto path = cfg.name;
  return spawn_at(sys, std::move(cfg), std::move(path), {});
}

child_spec supervisor_child(std::string id, supervisor_config cfg) {
  child_spec result;
  result.id = std::move(id);
  result.kind = child_kind::supervisor;
  result.shutdown = shutdown_policy::timeout(cfg.shutdown_bound());
  auto shared = std::make_shared<const supervisor_config>(std::move(cfg));
  result.start = [shared](const start_context& ctx) -> caf::expected<caf::actor> {
    auto sup = spawn_at(ctx.system, *shared, ctx.path, ctx.observers);
    if (!sup)
      return std::move(sup.error());
    // Children are dynamically typed handles.
    return caf::actor_cast<caf::actor>(std::move(*sup));
  };
  return result;
}

void request_shutdown(const caf::actor& target, caf::error reason) {
  if (target)
    internal::send_exit_urgent(target, target.address(), std::move(reason));
}

void request_shutdown(const caf::actor& target) {
  request_shutdown(target, make_shutdown("request_shutdown"));
}

bool stop_and_wait(caf::actor_system& sys, const caf::actor& target, caf::timespan limit) {
  if (!target)
    return true;
  caf::scoped_actor self{sys};
  // Monitored first: a target that is down already answers at once.
  self->monitor(target);
  request_shutdown(target);
  bool down = false;
  self->receive([&](const caf::down_msg&) { down = true; },
                caf::after(std::max(limit, caf::timespan{0})) >> [] {});
  return down;
}

} // namespace troupe::supervisors
