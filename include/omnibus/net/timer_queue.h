#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <utility>

namespace omnibus {

// The reactor's one timer structure (DESIGN §10.7): blocking timeouts, select deadlines.
// Ordered by due time, so a loop iteration costs O(log n) per timer that is due and nothing
// per timer that is not (never O(clients)).
// Runs on: reactor thread.
class TimerQueue {
 public:
  struct Id {
    int64_t when = 0;
    uint64_t seq = 0;  // 0: no timer
    explicit operator bool() const { return seq != 0; }
  };
  using Callback = void (*)(void* arg);

  Id Add(int64_t when_ms, Callback fn, void* arg) {
    Id id{when_ms, ++seq_};
    timers_.emplace(std::make_pair(when_ms, id.seq), std::make_pair(fn, arg));
    return id;
  }
  // Cancelling a timer that already ran (or none) does nothing.
  void Cancel(Id id) {
    if (id) timers_.erase(std::make_pair(id.when, id.seq));
  }
  // Runs every timer due at `now_ms` (earliest first); a callback may add or cancel timers.
  size_t RunDue(int64_t now_ms) {
    size_t n = 0;
    while (!timers_.empty() && timers_.begin()->first.first <= now_ms) {
      auto [fn, arg] = timers_.begin()->second;
      timers_.erase(timers_.begin());
      fn(arg);
      ++n;
    }
    return n;
  }
  int64_t NextDue() const {
    return timers_.empty() ? std::numeric_limits<int64_t>::max() : timers_.begin()->first.first;
  }
  size_t size() const { return timers_.size(); }

 private:
  std::map<std::pair<int64_t, uint64_t>, std::pair<Callback, void*>> timers_;
  uint64_t seq_ = 0;
};

}  // namespace omnibus
