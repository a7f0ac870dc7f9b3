#pragma once

#include <atomic>
#include <cstdint>

namespace omnibus {

// The state word of a singleflight flight (DESIGN §5): settles the race between the reactor
// joining a flight and the shard starting to execute it. A request may share a flight's reply
// only if it joined before the flight started, because then the flight's one read of the key
// happens after that request arrived: every waiter sees a value the key held while its own
// request was in flight (linearizable).
//
// Reactor: Open() before staging the work, TryJoin() per identical request (false once the
// shard has started). Shard: Start() when it takes the work, before reading any key; it
// returns how many joined, which is final from then on.
// Runs on: reactor (Open, TryJoin, Close) and the executing shard (Start).
class FlightWord {
 public:
  void Open() { word_.store(kOpen, std::memory_order_relaxed); }
  void Close() { word_.store(0, std::memory_order_relaxed); }
  bool is_open() const { return word_.load(std::memory_order_relaxed) != 0; }

  // OPEN -> OPEN + 1 waiter; fails once STARTED is set.
  bool TryJoin() {
    uint32_t s = word_.load(std::memory_order_acquire);
    while ((s & kStarted) == 0) {
      if (word_.compare_exchange_weak(s, s + kWaiter, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        return true;
      }
    }
    return false;
  }

  // OPEN -> STARTED. Returns the number of requests that joined.
  uint32_t Start() {
    uint32_t s = word_.fetch_or(kStarted, std::memory_order_acq_rel);
    return s / kWaiter;
  }

 private:
  static constexpr uint32_t kOpen = 1;
  static constexpr uint32_t kStarted = 2;
  static constexpr uint32_t kWaiter = 4;
  std::atomic<uint32_t> word_{0};
};

}  // namespace omnibus
