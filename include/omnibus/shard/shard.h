#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "omnibus/base/parker.h"
#include "omnibus/shard/shard_queue.h"
#include "omnibus/shard/spsc_ring.h"
#include "omnibus/shard/work.h"
#include "omnibus/store/keyspace.h"

namespace omnibus {

struct ShardOptions {
  int num_dbs = 16;
  size_t queue_capacity = 64 * 1024;           // shard-queue-depth (a power of two)
  int hz = 10;                                 // active expire cycles per second
  const ContainerLimits* limits = nullptr;     // owned by the server; null: Redis's defaults
  const NoticeListeners* listeners = nullptr;  // owned by the server; null: nobody listens
  // Scripting: this shard's own interpreter (a parked script runs in the engine of the
  // thread that runs it), and the command table for redis.call.
  LuaEngine* script = nullptr;
  FunctionEngine* functions = nullptr;  // FUNCTION/FCALL's libraries
  const CommandTable* commands = nullptr;
  // Test seam: the keyspace clock (Unix ms) read before each batch instead of the real time,
  // so two servers in one process (the command fuzzer) expire keys at the same instant.
  const std::atomic<int64_t>* TEST_clock_ms = nullptr;
  // Overload control (§4); null: the defaults.
  const QueuePolicyOptions* queue_policy = nullptr;
  // maxmemory (§10.8), both owned by the server; null: no maxmemory.
  const EvictionSettings* eviction = nullptr;
  MemoryBudget* budget = nullptr;
};

// One shard thread: the only thread that touches its keyspace (invariant 1). Executes its
// inbound queue in order (invariant 2) and hands finished work back through its completion
// ring, waking the reactor only when it may be asleep.
// Runs on: its own thread; the Stage/Publish/Drain methods run on the reactor thread.
class Shard {
 public:
  Shard(int index, int num_shards, const ShardOptions& options, Notifier* reactor);
  ~Shard();

  void Start();
  void Stop();         // blocks until the thread has exited
  void RequestStop();  // Stop without the wait (stop every shard, then join each)

  int index() const { return index_; }
  Keyspace* keyspace() { return &keyspace_; }

  // Reactor thread: stage work, then make the whole batch visible with one PostToShard().
  bool Stage(Work* w) { return inbound_.Stage(w); }
  void PostToShard() {
    if (inbound_.Publish()) parker_.Unpark();
  }
  // Any thread: wakes the shard if it is parked (another shard asks it to evict).
  void Wake() { parker_.Unpark(); }
  template <typename F>
  size_t DrainCompletions(F&& fn) {
    return completions_.ConsumeAll(fn);
  }
  bool HasCompletions() const { return !completions_.Empty(); }
  // Key notices of events outside any Work (active expiry), in the order they happened.
  // Reactor thread.
  bool HasLooseNotices() const { return has_loose_notices_.load(std::memory_order_acquire); }
  std::vector<KeyNotice> TakeLooseNotices();
  // After Stop(): hands back the work its thread never took (the reactor frees it).
  template <typename F>
  size_t DrainUnexecuted(F&& fn) {
    if (thread_.joinable()) return 0;  // still running: the queue is not ours to read
    size_t n = queue_.size();
    queue_.DrainAll(fn);
    return n + inbound_.ConsumeAll(fn);
  }
  // Work published to the shard and not yet taken into its queue.
  size_t ring_depth() const { return inbound_.SizeApprox(); }
  // What the shard's queue did (INFO overload), read from any thread.
  const QueueStats& queue_stats() const { return queue_stats_; }
  void ResetQueueStats() { queue_stats_.Reset(); }
  size_t queue_capacity() const { return inbound_.capacity(); }

  uint64_t processed() const { return processed_.load(std::memory_order_relaxed); }
  // Any thread (MEMORY PURGE): the shard returns its thread's free memory to the OS now,
  // decommitting at once (ReleaseFreeMemory(true)), at its next loop turn. Without it, a
  // shard that goes idle after serving work does so on its own (ReleaseFreeMemory(false)),
  // at most once per idle release period.
  void RequestMemoryRelease() {
    release_requested_.store(true, std::memory_order_relaxed);
    parker_.Unpark();
  }
  // How many times the shard returned free memory (tests).
  uint64_t memory_releases() const { return memory_releases_.load(std::memory_order_relaxed); }
  // The script this shard runs, if any (read by the reactor: busy scripts, SCRIPT KILL).
  ScriptActivity& script_activity() { return activity_; }

 private:
  // Work taken from the ring and served per pick between two looks at the ring (and two
  // publications of completions).
  static constexpr size_t kServeSlice = 64;

  void Run();
  void Execute(Work* w);
  // Answers a shed item or one whose deadline passed, without executing it (§4).
  void Refuse(Work* w, ShardQueue::Action action);
  void RunParked(Work* w);
  // maxmemory: before a deny-oom command, evicts as the policy says; false: -OOM.
  bool MakeRoomFor(uint16_t command_id);
  // Shutdown: releases the shards parked at `g` unless a runner already claimed it (it
  // releases them when done).
  static void Abandon(ParkGroup* g);
  // ScriptActivity::hand_over: while a script runs, publishes the replies of the commands
  // that ran before it in this batch; past busy-reply-threshold (busy), also
  // answers the client commands queued behind it -BUSY, up to the first fence, part or
  // transaction (those wait for the script).
  static void HandOver(void* shard, bool busy);
  // EXEC on this thread: in one shard step (`all` is this keyspace alone) or parked.
  void RunTransaction(const ExecContext& base, Keyspace* const* all, Transaction* tx);

  const int index_;
  const int num_shards_;
  const ShardOptions options_;
  Notifier* const reactor_;
  Keyspace keyspace_;
  SpscRing<Work*> inbound_;
  SpscRing<Work*> completions_;
  QueueStats queue_stats_;
  ShardQueue queue_;  // after queue_stats_ (it writes there)
  // On a line of its own: the reactor reads it on every post, and the counters next to it are
  // written per slice by this shard.
  alignas(64) Parker parker_;
  alignas(64) std::atomic<bool> stop_{false};
  ScriptActivity activity_;
  std::atomic<ParkGroup*> parked_on_{nullptr};  // the fence this shard waits at, if any
  std::atomic<uint64_t> processed_{0};
  // Notices of active expiry (and later eviction), which no Work carries back. A small list
  // under a lock rather than a notice-only completion: the completion ring is sized by the
  // work in flight and must never fill, while these come at most once per expire cycle.
  // They are ordered after the last Work this shard executed (last_dispatch_).
  std::mutex loose_mu_;
  std::vector<KeyNotice> loose_notices_;
  std::atomic<bool> has_loose_notices_{false};
  uint64_t last_dispatch_ = 0;
  std::atomic<bool> release_requested_{false};  // RequestMemoryRelease
  std::atomic<uint64_t> memory_releases_{0};
  // Idle memory releases still due after the last work served (see Run).
  static constexpr int kReleasesAfterWork = 12;
  int releases_due_ = 0;
  int64_t next_release_ns_ = 0;
  std::thread thread_;
};

}  // namespace omnibus
