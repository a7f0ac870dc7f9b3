#pragma once

#include <atomic>
#include <cstdint>

namespace omnibus {

// The script a shard thread is running, as the reactor sees it (busy scripts, SCRIPT KILL /
// FUNCTION KILL; DESIGN §6). One per shard: written by the shard thread when a script
// starts and ends, read (and `state` changed) by the reactor.
struct ScriptActivity {
  // Whether the script may still be killed: it starts kRunning; its first write command
  // moves it to kWrote (unkillable, as in Redis) unless SCRIPT KILL moved it to kKill first.
  // One word, so a kill and a first write cannot both win.
  enum State : uint32_t { kRunning = 0, kWrote = 1, kKill = 2 };

  std::atomic<int64_t> started_ms{0};  // monotonic ms; 0: no script running
  std::atomic<uint32_t> state{kRunning};
  std::atomic<bool> parked{false};    // running over every shard (all are busy)
  std::atomic<bool> function{false};  // FCALL (FUNCTION KILL) rather than EVAL (SCRIPT KILL)
  std::atomic<bool> stopping{false};  // the server stops: the script ends, written or not

  void Begin(int64_t now_ms, bool over_all_shards, bool is_function) {
    state.store(kRunning, std::memory_order_relaxed);
    parked.store(over_all_shards, std::memory_order_relaxed);
    function.store(is_function, std::memory_order_relaxed);
    started_ms.store(now_ms, std::memory_order_release);
  }
  void End() { started_ms.store(0, std::memory_order_release); }
  // Before a write command: false if the script was killed first (it must not write).
  bool MarkWrite() {
    uint32_t s = kRunning;
    return state.compare_exchange_strong(s, kWrote, std::memory_order_acq_rel) || s == kWrote;
  }
  bool ShouldStop() const {
    return state.load(std::memory_order_relaxed) == kKill ||
           stopping.load(std::memory_order_relaxed);
  }
};

}  // namespace omnibus
