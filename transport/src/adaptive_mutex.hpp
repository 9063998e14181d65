#pragma once

// Internal: a mutex for the transport's short, hot critical sections (the
// pending-request tables of proxies and responders, a connection's write
// buffer), which an I/O thread and a scheduler thread take for each request.
//
// # Why not std::mutex?
//
// glibc's default mutex sleeps in the kernel (futex) as soon as it is taken;
// with an I/O thread and a scheduler thread touching the same table for every
// request, that made about one futex wait and wake (and a context switch)
// per five requests. These critical sections last well under a microsecond,
// so waiting a little is cheaper: an adaptive mutex spins briefly before it
// sleeps (and still sleeps, so a preempted holder costs no busy CPU).
//
// Meets the Lockable requirements (std::lock_guard, std::unique_lock).

#include <pthread.h>

namespace troupe::transport::internal {

class adaptive_mutex {
public:
  adaptive_mutex() noexcept {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(&mtx_, &attr);
    pthread_mutexattr_destroy(&attr);
  }

  ~adaptive_mutex() {
    pthread_mutex_destroy(&mtx_);
  }

  adaptive_mutex(const adaptive_mutex&) = delete;
  adaptive_mutex& operator=(const adaptive_mutex&) = delete;

  void lock() noexcept {
    pthread_mutex_lock(&mtx_);
  }

  bool try_lock() noexcept {
    return pthread_mutex_trylock(&mtx_) == 0;
  }

  void unlock() noexcept {
    pthread_mutex_unlock(&mtx_);
  }

private:
  pthread_mutex_t mtx_;
};

} // namespace troupe::transport::internal
