#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

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
  // Which run this is (Begin counts), and the run the reactor found past
  // busy-reply-threshold: from then on the shard answers the commands queued behind it -BUSY
  // (hand_over), as Redis does. Naming the run keeps a verdict about one script from
  // reaching the next.
  std::atomic<uint64_t> run{0};
  std::atomic<uint64_t> busy_run{0};
  // The shard's hand-over (set once by the shard; called on its thread from a long script's
  // hook): sends the replies of the commands that ran before the script in its batch, and
  // (busy) answers those queued behind it. Not at the start of every script: publishing per
  // script costs a hot shard a third of its pipelined throughput (docs/benchmarks.md).
  void (*hand_over)(void* shard, bool busy) = nullptr;
  void* shard = nullptr;

  // The running command's arguments (FUNCTION STATS names a busy function), published with
  // the run: views into the Work that carries it, which only the reactor frees, and only
  // after the run ended.
  std::atomic<const std::string_view*> argv{nullptr};
  std::atomic<size_t> argc{0};

  // A function's registered name (FCALL's lookup ignores case; FUNCTION STATS shows this).
  std::mutex name_mu;
  std::string function_name;

  void Begin(int64_t now_ms, bool over_all_shards, bool is_function,
             std::span<const std::string_view> command = {}, std::string_view name = {}) {
    if (is_function) {
      std::lock_guard lock(name_mu);
      function_name.assign(name);
    }
    argv.store(command.data(), std::memory_order_relaxed);
    argc.store(command.size(), std::memory_order_relaxed);
    state.store(kRunning, std::memory_order_relaxed);
    run.fetch_add(1, std::memory_order_acq_rel);
    parked.store(over_all_shards, std::memory_order_relaxed);
    function.store(is_function, std::memory_order_relaxed);
    started_ms.store(now_ms, std::memory_order_release);
  }
  void End() { started_ms.store(0, std::memory_order_release); }
  // From the script's hook (every 100,000 Lua instructions, so never for a short script):
  // hands over what finished before the script, and past the threshold what waits behind it.
  void WhileRunning() {
    if (hand_over == nullptr) return;
    hand_over(shard,
              busy_run.load(std::memory_order_relaxed) == run.load(std::memory_order_relaxed));
  }
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
