#include "omnibus/base/parker.h"

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#else
#include <chrono>
#include <thread>
#endif

namespace omnibus {

void Parker::Park(int timeout_ms) {
#if defined(__linux__)
  timespec ts{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1'000'000};
  // Sleeps only while the state is still kParked: an Unpark() between PrepareToPark() and
  // here makes the call return at once, so no wake-up is lost.
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAIT_PRIVATE, kParked,
          timeout_ms >= 0 ? &ts : nullptr, nullptr, 0);
#else
  // Portable fallback: C++20 atomic wait has no timeout, so poll in short naps.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (state_.load() == kParked &&
         (timeout_ms < 0 || std::chrono::steady_clock::now() < deadline))
    std::this_thread::sleep_for(std::chrono::microseconds(200));
#endif
  state_.store(kAwake, std::memory_order_relaxed);
}

void Parker::Unpark() {
  // Orders the caller's publication of work before reading the state (the sleeper does the
  // mirror image in PrepareToPark): one of the two always sees the other.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (state_.load(std::memory_order_seq_cst) != kParked) return;
  if (state_.exchange(kAwake, std::memory_order_seq_cst) != kParked) return;
#if defined(__linux__)
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr,
          0);
#endif
}

}  // namespace omnibus
