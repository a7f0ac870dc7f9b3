#pragma once

#include <atomic>
#include <cstdint>

namespace omnibus {

// Lets one thread sleep until another wakes it or a timeout passes, with no system call on
// the waker's side unless the sleeper really is (or is about to be) asleep.
// Sleeper: PrepareToPark(); re-check for work; Park(timeout) or CancelPark().
// Waker: make work visible; Unpark().
class Parker {
 public:
  void PrepareToPark() { state_.store(kParked, std::memory_order_seq_cst); }
  void CancelPark() { state_.store(kAwake, std::memory_order_relaxed); }
  // Sleeps until Unpark() or timeout_ms (negative: no timeout).
  void Park(int timeout_ms);
  // Wakes the sleeper if it is parked. Cheap (one load) when it is not.
  void Unpark();

 private:
  static constexpr uint32_t kAwake = 0;
  static constexpr uint32_t kParked = 1;
  std::atomic<uint32_t> state_{kAwake};
};

// Something that wakes the reactor (eventfd on Linux, EVFILT_USER on BSD). Shards call it
// after publishing completions.
class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void Notify() = 0;
};

}  // namespace omnibus
