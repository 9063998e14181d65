#include "process_tools.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <future>
#include <memory>
#include <sstream>
#include <thread>

namespace troupe_examples {

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

std::string this_program() {
  char path[4096];
  auto n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  return n > 0 ? std::string(path, static_cast<size_t>(n)) : std::string{};
}

uint64_t word_value(const std::string& line, const std::string& key) {
  std::istringstream words{line};
  std::string word;
  while (words >> word)
    if (word.rfind(key + "=", 0) == 0) {
      try {
        return std::stoull(word.substr(key.size() + 1));
      } catch (...) {
        return 0;
      }
    }
  return 0;
}

long leaked_actors(caf::actor_system& sys, size_t baseline, std::chrono::seconds timeout) {
  // A detached thread, not std::async: the future of std::async would block
  // in its destructor until the (never ending) wait returns.
  auto settled = std::make_shared<std::promise<void>>();
  auto done = settled->get_future();
  std::thread{[&sys, baseline, settled] {
    sys.registry().await_running_count_equal(baseline);
    settled->set_value();
  }}.detach();
  if (done.wait_for(timeout) == std::future_status::ready)
    return 0;
  return static_cast<long>(sys.registry().running()) - static_cast<long>(baseline);
}

} // namespace troupe_examples
