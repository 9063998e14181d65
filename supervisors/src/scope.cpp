#include "troupe/supervisors/scope.hpp"

#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>
#include <troupe/actors/human_units.hpp>

#include <spdlog/logger.h>

#include <troupe/actors/flow_errc.hpp>
#include <troupe/actors/log.hpp>
#include <troupe/messages/error_category.hpp>

#include "child_control.hpp"
#include "deadline_timer.hpp"
#include "spec_check.hpp"
#include "troupe/supervisors/stop_reason.hpp"
#include "troupe/supervisors/supervisor_errc.hpp"

namespace troupe::supervisors {

caf::error task_spec::validate() const {
  auto why = internal::check_segment("id", id);
  if (why.empty() && !start)
    why = "start: must be set (task \"" + id + "\")";
  if (!why.empty())
    return caf::make_error(supervisor_errc::invalid_config, std::move(why));
  return caf::none;
}

caf::error scope_config::validate() const {
  auto fail = [](std::string why) {
    return caf::make_error(supervisor_errc::invalid_config, std::move(why));
  };
  if (auto why = internal::check_segment("name", name); !why.empty())
    return fail(std::move(why));
  if (auto why = internal::check_duration("cancel_timeout", cancel_timeout); !why.empty())
    return fail(std::move(why));
  if (auto why = internal::check_duration("deadline", deadline); !why.empty())
    return fail(std::move(why));
  std::unordered_set<std::string> ids;
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (auto err = tasks[i].validate()) {
      std::string text = "tasks[" + std::to_string(i) + "].";
      if (err.context().match_elements<std::string>())
        text += err.context().get_as<std::string>(0);
      return fail(std::move(text));
    }
    if (!ids.insert(tasks[i].id).second)
      return caf::make_error(supervisor_errc::duplicate_child_id, tasks[i].id,
                             "tasks[" + std::to_string(i) + "]");
  }
  return caf::none;
}

namespace {

using time_point = caf::actor_clock::time_point;

using kill_timer_atom = caf::atom_constant<caf::atom("trp_killt")>;
using deadline_atom = caf::atom_constant<caf::atom("trp_sdeadl")>;

/// The public protocol plus the timer messages a scope sends itself.
using scope_impl_actor =
  scope_actor::extend<caf::reacts_to<kill_timer_atom, int64_t>, caf::reacts_to<deadline_atom>>;

struct task {
  caf::actor handle;
  bool running = false;
  bool cancel_sent = false;
  bool kill_sent = false;
  time_point kill_at{};
  task_outcome outcome;
};

class scope_impl : public scope_impl_actor::base {
public:
  scope_impl(caf::actor_config& actor_cfg, scope_config cfg, std::string path)
    : scope_impl_actor::base(actor_cfg),
      path_(std::move(path)),
      mode_(cfg.mode),
      cancel_timeout_(cfg.cancel_timeout),
      owner_(std::move(cfg.owner)),
      deadline_(cfg.deadline),
      report_to_owner_(cfg.report_to_owner),
      initial_(std::move(cfg.tasks)),
      log_(actors::logger(path_)) {
    // nop
  }

  const char* name() const override {
    return "troupe.scope";
  }

  behavior_type make_behavior() override {
    set_exit_handler([this](caf::exit_msg& msg) { on_exit_message(msg); });
    set_down_handler([this](caf::down_msg& msg) { on_down(msg); });
    if (owner_)
      monitor(owner_);
    auto specs = std::move(initial_);
    for (auto& spec : specs)
      add_task(std::move(spec));
    maybe_complete();
    if (deadline_.count() > 0 && !completed_)
      delayed_send(this, deadline_, deadline_atom::value);
    return {
      [this](start_child_atom, task_spec& spec) -> caf::result<caf::actor> {
        if (auto err = spec.validate())
          return err;
        if (ids_.count(spec.id) > 0)
          return caf::make_error(supervisor_errc::duplicate_child_id, spec.id);
        if (cancelling_)
          return caf::make_error(supervisor_errc::shutting_down, path_);
        auto& t = add_task(std::move(spec));
        if (!t.running)
          return t.outcome.reason;
        return t.handle;
      },
      [](ready_atom) {
        // Tasks start in the scope's first handler: it is ready by now.
        return caf::ok_atom::value;
      },
      [this](await_atom) -> caf::result<scope_report> {
        auto rp = make_response_promise<scope_report>();
        awaiting_.push_back(rp);
        return rp;
      },
      [this](kill_timer_atom, int64_t t) {
        kill_timer_.fired(internal::decode(t));
        kill_overdue();
      },
      [this](deadline_atom) {
        if (completed_ || cancelling_)
          return;
        auto err = caf::make_error(actors::flow_errc::deadline_exceeded, path_,
                                   troupe::actors::human_duration(deadline_));
        log_->info("deadline of {} passed", troupe::actors::human_duration(deadline_));
        // The tasks see a cancellation (their cleanup runs); the scope
        // fails with the deadline, as asyncio's timeout() raises.
        external_ = err;
        cancel_all(make_cancelled(path_, err));
        maybe_complete();
      },
      [this](task_result_atom, caf::message& value) {
        auto i = by_actor_.find(caf::actor_cast<caf::actor_addr>(current_sender()).id());
        if (i != by_actor_.end())
          tasks_[i->second].outcome.result = std::move(value);
      },
    };
  }

  void on_exit() override {
    for (auto& t : tasks_)
      if (t.running && t.handle)
        internal::send_exit_urgent(this, t.handle, caf::exit_reason::kill);
    tasks_.clear();
    by_actor_.clear();
    owner_ = nullptr;
    awaiting_.clear();
  }

private:
  task& add_task(task_spec spec) {
    ids_.insert(spec.id);
    tasks_.emplace_back();
    auto index = tasks_.size() - 1;
    tasks_[index].outcome.id = spec.id;
    if (cancelling_) {
      // The scope already cancels: the task never starts, and says so.
      tasks_[index].outcome.status = task_status::cancelled;
      tasks_[index].outcome.reason = cancel_reason_;
      return tasks_[index];
    }
    start_context ctx{system(),
                      spec.id,
                      path_ + "/" + spec.id,
                      caf::message{},
                      caf::actor_cast<caf::actor>(this),
                      {}};
    auto res = internal::invoke_start(spec.start, ctx);
    auto& t = tasks_[index];
    if (!res) {
      record(t, task_status::failed, std::move(res.error()));
      on_failure(t);
      return tasks_[index];
    }
    t.handle = std::move(*res);
    t.running = true;
    ++running_;
    by_actor_[t.handle.id()] = index;
    monitor(t.handle);
    log_->debug("{} started", t.outcome.id);
    return t;
  }

  void record(task& t, task_status status, caf::error reason) {
    t.outcome.status = status;
    t.outcome.reason = std::move(reason);
    auto level = status == task_status::failed ? spdlog::level::warn : spdlog::level::debug;
    if (log_->should_log(level))
      log_->log(level, "{} {}{}", t.outcome.id, to_string(status),
                t.outcome.reason ? " (" + messages::describe(t.outcome.reason) + ")"
                                 : std::string{});
  }

  void on_down(caf::down_msg& msg) {
    if (owner_ && msg.source == owner_.address()) {
      owner_ = nullptr;
      log_->info("owner is gone; cancelling");
      external_cancel(make_cancelled(
        path_,
        caf::make_error(caf::sec::runtime_error, std::string{"owner down"}, msg.reason)));
      return;
    }
    auto i = by_actor_.find(msg.source.id());
    if (i == by_actor_.end())
      return;
    auto& t = tasks_[i->second];
    by_actor_.erase(i);
    t.running = false;
    t.handle = nullptr;
    --running_;
    auto& reason = msg.reason;
    if (!reason || reason == caf::exit_reason::normal) {
      record(t, task_status::succeeded, caf::error{});
      on_success(t);
    } else if (t.cancel_sent && (is_normal_stop(reason) || reason == caf::exit_reason::kill)) {
      record(t, task_status::cancelled, std::move(reason));
    } else if (is(reason, stop_reason::cancelled)) {
      record(t, task_status::cancelled, std::move(reason));
    } else if (is_normal_stop(reason)) {
      record(t, task_status::succeeded, std::move(reason));
      on_success(t);
    } else {
      record(t, task_status::failed, std::move(reason));
      on_failure(t);
    }
    maybe_complete();
  }

  void on_success(task& t) {
    if (!first_succeeded_.empty())
      return;
    first_succeeded_ = t.outcome.id;
    if (mode_ == scope_mode::race && !cancelling_)
      cancel_all(make_cancelled(t.outcome.id)); // the winner: the rest stop
  }

  void on_failure(task& t) {
    if (mode_ == scope_mode::cancel_on_failure && !cancelling_)
      cancel_all(make_cancelled(t.outcome.id, t.outcome.reason));
  }

  void on_exit_message(caf::exit_msg& msg) {
    if (!msg.reason || msg.reason == caf::exit_reason::normal)
      return;
    if (by_actor_.count(msg.source.id()) > 0)
      return; // a task linked to us; its down message follows
    external_cancel(std::move(msg.reason));
  }

  void external_cancel(caf::error reason) {
    if (!external_)
      external_ = reason;
    cancel_all(std::move(reason));
    maybe_complete();
  }

  void cancel_all(caf::error reason) {
    if (cancelling_)
      return;
    cancelling_ = true;
    cancel_reason_ = reason;
    log_->info("cancelling {} running tasks ({})", running_, messages::describe(reason));
    auto now = clock().now();
    for (auto& t : tasks_) {
      if (!t.running)
        continue;
      t.cancel_sent = true;
      t.kill_at = now + cancel_timeout_;
      internal::send_exit_urgent(this, t.handle, reason);
    }
    arm_kill_timer();
  }

  void arm_kill_timer() {
    auto next = time_point::max();
    for (auto& t : tasks_)
      if (t.running && t.cancel_sent && !t.kill_sent)
        next = std::min(next, t.kill_at);
    kill_timer_.schedule(this, next, kill_timer_atom::value);
  }

  void kill_overdue() {
    auto now = clock().now();
    for (auto& t : tasks_) {
      if (t.running && t.cancel_sent && !t.kill_sent && t.kill_at <= now) {
        t.kill_sent = true;
        log_->warn("{} did not stop within {}; killing", t.outcome.id,
                   troupe::actors::human_duration(cancel_timeout_));
        internal::send_exit_urgent(this, t.handle, caf::exit_reason::kill);
      }
    }
    arm_kill_timer();
  }

  void maybe_complete() {
    if (running_ > 0 || completed_)
      return;
    completed_ = true;
    scope_report report;
    report.scope = path_;
    report.cancelled_by = external_;
    report.first_succeeded = first_succeeded_;
    report.outcomes.reserve(tasks_.size());
    for (auto& t : tasks_)
      report.outcomes.push_back(t.outcome);
    auto failed = report.failures();
    caf::error reason;
    if (external_)
      reason = external_;
    else if (!failed.empty())
      reason = caf::make_error(supervisor_errc::scope_failed, path_,
                               static_cast<uint32_t>(failed.size()), failed.front().id);
    log_->log(report.ok() ? spdlog::level::debug : spdlog::level::info,
              "done: {} succeeded, {} failed, {} cancelled",
              report.count(task_status::succeeded), report.count(task_status::failed),
              report.count(task_status::cancelled));
    if (owner_ && report_to_owner_)
      caf::unsafe_send_as(this, owner_, report); // a typed actor to a caf::actor
    for (auto& rp : awaiting_)
      rp.deliver(report);
    awaiting_.clear();
    quit(std::move(reason));
  }

  std::string path_;
  scope_mode mode_;
  caf::timespan cancel_timeout_;
  caf::actor owner_;
  caf::timespan deadline_;
  bool report_to_owner_;
  std::vector<task_spec> initial_;
  std::shared_ptr<spdlog::logger> log_;

  std::vector<task> tasks_;
  std::unordered_map<caf::actor_id, size_t> by_actor_;
  std::unordered_set<std::string> ids_;
  size_t running_ = 0;
  bool cancelling_ = false;
  bool completed_ = false;
  caf::error cancel_reason_;
  caf::error external_;
  std::string first_succeeded_;
  std::vector<caf::typed_response_promise<scope_report>> awaiting_;
  internal::deadline_timer kill_timer_;
};

} // namespace

caf::expected<scope_actor> spawn_scope(caf::actor_system& sys, scope_config cfg) {
  auto path = cfg.name;
  return spawn_scope(sys, std::move(cfg), std::move(path));
}

caf::expected<scope_actor> spawn_scope(caf::actor_system& sys, scope_config cfg,
                                       std::string path) {
  if (auto err = cfg.validate())
    return err;
  if (path.empty())
    return caf::make_error(supervisor_errc::invalid_config, "path: must not be empty");
  return sys.spawn<scope_impl>(std::move(cfg), std::move(path));
}

} // namespace troupe::supervisors
