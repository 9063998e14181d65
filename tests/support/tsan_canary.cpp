// The tsan preset's canary: two threads increment one plain int with no
// synchronization. ThreadSanitizer must report the race and make the process
// exit with 66 (tests/CMakeLists.txt requires both); if it does not, the
// preset is not checking anything.

#include <cstdio>
#include <thread>

namespace {

int unguarded = 0;

void bump() {
  for (int i = 0; i < 1000; ++i)
    ++unguarded;
}

} // namespace

int main() {
  std::thread a{bump};
  std::thread b{bump};
  a.join();
  b.join();
  std::printf("canary: %d\n", unguarded);
  return 0;
}
