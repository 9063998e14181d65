#include "stop_signals.hpp"

#include <pthread.h>

#include <ctime>

namespace troupe_examples {

stop_signals::stop_signals() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
}

bool stop_signals::wait(std::chrono::seconds limit) const {
  timespec t{static_cast<time_t>(limit.count()), 0};
  return sigtimedwait(&set_, nullptr, &t) > 0;
}

bool stop_signals::pending() const {
  timespec zero{0, 0};
  return sigtimedwait(&set_, nullptr, &zero) > 0;
}

} // namespace troupe_examples
