#include "troupe/actors/progress.hpp"

#include <unistd.h>

#include <cmath>

#include "troupe/actors/human_units.hpp"

namespace troupe::actors {

std::string progress::line(const std::string& label, uint64_t done, uint64_t total,
                           caf::timespan elapsed) {
  auto seconds = std::chrono::duration<double>(elapsed).count();
  auto rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  std::string result = label + " " + human_count(static_cast<double>(done));
  if (total > 0) {
    char pct[16];
    std::snprintf(pct, sizeof(pct), "%.1f", 100.0 * static_cast<double>(done) / total);
    result += "/" + human_count(static_cast<double>(total)) + " (" + pct + " %)";
  }
  result += ", " + human_count(rate) + "/s";
  if (total > 0 && rate > 0 && done < total) {
    auto left = static_cast<double>(total - done) / rate;
    result += ", "
      + human_duration(
                std::chrono::duration_cast<caf::timespan>(std::chrono::duration<double>(left)))
      + " left";
  }
  return result;
}

progress::progress(config cfg)
  : cfg_(std::move(cfg)), started_(std::chrono::steady_clock::now()) {
  if (!cfg_.terminal)
    cfg_.terminal = ::isatty(::fileno(cfg_.out)) == 1;
  if (cfg_.interval <= caf::timespan{0})
    cfg_.interval = *cfg_.terminal ? caf::timespan{std::chrono::milliseconds{200}}
                                   : caf::timespan{std::chrono::seconds{5}};
  reporter_ = std::thread{[this] { run(); }};
}

progress::progress(std::string label, uint64_t total, std::function<uint64_t()> done)
  : progress(
    config{std::move(label), total, std::move(done), stderr, std::nullopt, caf::timespan{0}}) {
  // nop
}

progress::~progress() {
  finish();
}

void progress::run() {
  std::unique_lock<std::mutex> guard{mtx_};
  // A timer, not synchronisation: the wait ends early only to stop.
  while (!cv_.wait_for(guard, cfg_.interval, [this] { return stopping_; })) {
    auto text = line(cfg_.label, cfg_.done ? cfg_.done() : 0, cfg_.total,
                     std::chrono::steady_clock::now() - started_);
    if (*cfg_.terminal)
      std::fprintf(cfg_.out, "\r\033[K%s", text.c_str()); // redraw in place
    else
      std::fprintf(cfg_.out, "%s\n", text.c_str());
    std::fflush(cfg_.out);
  }
}

void progress::finish() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (finished_)
      return;
    finished_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  reporter_.join();
  auto elapsed = std::chrono::steady_clock::now() - started_;
  auto done = cfg_.done ? cfg_.done() : 0;
  auto seconds = std::chrono::duration<double>(elapsed).count();
  auto text = cfg_.label + " " + human_count(static_cast<double>(done)) + " in "
    + human_duration(std::chrono::duration_cast<caf::timespan>(elapsed)) + ", "
    + human_count(seconds > 0 ? static_cast<double>(done) / seconds : 0.0) + "/s";
  std::fprintf(cfg_.out, "%s%s\n", *cfg_.terminal ? "\r\033[K" : "", text.c_str());
  std::fflush(cfg_.out);
}

} // namespace troupe::actors
