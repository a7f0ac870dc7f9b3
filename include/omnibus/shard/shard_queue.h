#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "omnibus/shard/work.h"

namespace omnibus {

// Overload control settings (DESIGN §4), read by the shard before each pick so CONFIG SET
// takes effect at once. Owned by the server.
struct QueuePolicyOptions {
  std::atomic<int64_t> target_ms{5};      // queue-target-ms: the sojourn CoDel tolerates
  std::atomic<int64_t> interval_ms{100};  // queue-interval-ms: how long a standing queue lasts
  std::atomic<int64_t> shed_ms{50};       // queue-shed-ms: in overload, older runs are shed
  std::atomic<bool> adaptive{true};       // queue-policy adaptive|fifo
};

// What a shard's queue did, readable from the reactor (INFO overload). Written only by the
// shard thread.
struct QueueStats {
  static constexpr int kBuckets = 64;  // sojourn histogram, two buckets per power of two (µs)
  std::atomic<uint64_t> depth{0};
  std::atomic<uint64_t> max_depth{0};
  std::atomic<uint64_t> max_sojourn_us{0};
  std::atomic<uint64_t> mode_switches{0};
  std::atomic<uint64_t> lifo_us{0};       // time spent overloaded (closed periods)
  std::atomic<int64_t> lifo_since_ns{0};  // when the current overload began (0: not overloaded)
  std::atomic<uint64_t> shed{0};
  std::atomic<uint64_t> deadlines_missed{0};
  std::atomic<uint64_t> served{0};
  std::array<std::atomic<uint64_t>, kBuckets> sojourn{};

  static int BucketOf(uint64_t us);
  static uint64_t BucketUpperUs(int b);
  // The largest sojourn (µs, to the bucket) of the `fraction` of items that waited least.
  uint64_t Percentile(double fraction) const;
  void Reset();
};

// A shard's local queue (DESIGN §4): the work taken from the reactor's ring, served FIFO while
// healthy and newest-first while overloaded, with CoDel's overload test and shedding.
//
// - Items of one client connection that arrive together form a run; runs are the unit of
//   reordering and of shedding: a run once started is served to its end before another
//   starts (the connection's replies leave only when its whole group is done, and a
//   client's own pipeline is not a queue of others' work), in order. A run that must follow
//   an earlier run of the same connection (`Work::follows_own`: dispatched after a barrier)
//   is never served before it.
// - Fences (parts of multi-shard commands, parked steps, transactions, blocking pops,
//   scripts) are never reordered with anything and never shed: LIFO applies to the runs
//   between the queue's head and its first fence.
// - Priority items (INFO's parts) are served before anything else: admin reads never wait
//   behind a queue.
// - Overloaded when the depth reaches 80% of the bound, or when the queue has not been empty
//   for queue-interval-ms and its oldest waiting run waited longer than queue-target-ms. Then
//   the oldest run, if it waited longer than queue-shed-ms, is shed whole (unless a fence or
//   a connection that opted out), else the newest run is served first.
// - An item whose client deadline passed before it ran is answered with the timeout error.
//
// Runs on: its shard thread (tests: any one thread; the clock is passed in).
class ShardQueue {
 public:
  enum class Action : uint8_t { kRun, kShed, kDeadline };
  struct Pick {
    Work* work = nullptr;
    Action action = Action::kRun;
    explicit operator bool() const { return work != nullptr; }
  };

  ShardQueue(size_t bound, const QueuePolicyOptions* options, QueueStats* stats);
  ~ShardQueue();
  ShardQueue(const ShardQueue&) = delete;
  ShardQueue& operator=(const ShardQueue&) = delete;

  void Push(Work* w, int64_t now_ns);
  // The next item to serve, and how; an empty Pick when the queue is empty.
  Pick Next(int64_t now_ns);
  // Busy scripts: takes the client commands at the head (in order) while `pred` holds, up to
  // the first fence.
  template <typename P, typename F>
  void TakeLeading(P&& pred, F&& fn);
  // Shutdown: hands back everything still queued.
  template <typename F>
  void DrainAll(F&& fn);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool overloaded() const { return overloaded_; }
  // The retry hint of a shed reply: how long the queue takes to drain at the recent service
  // rate, in ms (at least 1).
  int64_t DrainEstimateMs() const;
  // The shard tells how long each item took to serve (the drain estimate's rate).
  void NoteServiceNs(int64_t ns) { service_ewma_ns_ += (ns - service_ewma_ns_) / 16; }

 private:
  struct Run {
    Run* prev = nullptr;
    Run* next = nullptr;
    uintptr_t conn = 0;  // the client connection (0: a fence)
    bool fence = false;
    bool follows_own = false;
    std::vector<Work*> items;
    size_t head = 0;  // next item to serve
    Work* front() const { return items[head]; }
  };
  static bool IsFence(const Work* w) {
    return w->is_part || w->park != nullptr || w->tx != nullptr;
  }
  Run* NewRun();
  void Unlink(Run* r);
  Work* TakeFrom(Run* r);
  void UpdateMode(int64_t now_ns);
  void Record(const Work* w, int64_t now_ns);
  // The run LIFO serves: the newest before the first fence, or an earlier run of its own
  // connection that it must follow.
  Run* NewestServable();

  const size_t high_water_;  // 80% of the bound
  const QueuePolicyOptions* options_;
  QueueStats* stats_;
  Run* head_ = nullptr;
  Run* tail_ = nullptr;
  Run* current_ = nullptr;  // the run being served (or shed), to its end
  bool current_shed_ = false;
  std::deque<Run*> fences_;  // the fence runs, oldest first
  std::deque<Work*> priority_;
  std::vector<Run*> free_runs_;
  size_t size_ = 0;
  bool overloaded_ = false;
  int64_t last_empty_ns_ = 0;
  int64_t service_ewma_ns_ = 0;
};

template <typename P, typename F>
void ShardQueue::TakeLeading(P&& pred, F&& fn) {
  while (head_ != nullptr && !head_->fence && pred(head_->front())) fn(TakeFrom(head_));
}

template <typename F>
void ShardQueue::DrainAll(F&& fn) {
  while (!priority_.empty()) {
    fn(priority_.front());
    priority_.pop_front();
    --size_;
  }
  while (head_ != nullptr) fn(TakeFrom(head_));
}

}  // namespace omnibus
