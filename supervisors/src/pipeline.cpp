#include "troupe/supervisors/pipeline.hpp"

#include <spdlog/logger.h>

#include <troupe/actors/log.hpp>
#include <troupe/messages/error_category.hpp>

namespace troupe::supervisors {

pipeline::pipeline(pipeline_config cfg)
  : cfg_(std::move(cfg)), state_(std::make_shared<detail::pipeline_state>()) {
  // nop
}

void pipeline::add(std::string id, start_function start, caf::timespan stop_timeout) {
  child_spec spec;
  spec.id = std::move(id);
  spec.start = std::move(start);
  // A finished stream ends a member normally: not restarted, not a crash.
  spec.restart = restart_type::transient;
  spec.significant = true;
  spec.shutdown = shutdown_policy::timeout(stop_timeout);
  members_.push_back(std::move(spec));
}

std::function<void(const actors::dead_letter&)>
pipeline::dead_letter_handler(const std::string& id) {
  auto state = state_;
  auto user = cfg_.on_dead_letter;
  auto log = actors::logger(cfg_.name);
  return [state, user, log, id](const actors::dead_letter& letter) {
    ++state->dead_letters;
    if (user)
      user(id, letter);
    else
      log->warn("{}: dead letter: item {} failed {} handlers ({})", id, letter.seq,
                letter.failures, messages::describe(letter.error));
  };
}

supervisor_config pipeline::config() const {
  supervisor_config result;
  result.name = cfg_.name;
  result.strategy = restart_strategy::one_for_one;
  result.intensity = cfg_.intensity;
  result.restart_backoff = cfg_.restart_backoff;
  result.shutdown_order = stop_order::start;
  result.auto_shutdown = auto_shutdown::all_significant;
  result.children = members_;
  return result;
}

pipeline_stats pipeline::stats() const {
  pipeline_stats result;
  result.committed = committed(state_->first_source);
  result.dead_letters = state_->dead_letters.load();
  result.drains = state_->drains.load();
  result.unfinished_at_shutdown = state_->unfinished_at_shutdown.load();
  return result;
}

actors::seq_t pipeline::committed(const std::string& id) const {
  auto i = state_->committed.find(id);
  return i != state_->committed.end() ? i->second->load() : 0;
}

} // namespace troupe::supervisors
