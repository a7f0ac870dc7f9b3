// A shard's adaptive FIFO/LIFO queue with CoDel shedding (DESIGN §4).
#include "omnibus/shard/shard_queue.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace omnibus {

int QueueStats::BucketOf(uint64_t us) {
  // Two buckets per power of two: 0 µs is bucket 0; [2^k, 1.5 × 2^k) is bucket 1 + 2k and
  // [1.5 × 2^k, 2^(k+1)) is bucket 2 + 2k.
  if (us == 0) return 0;
  int log = 63 - std::countl_zero(us);  // 2^log <= us
  int half = us * 2 >= (uint64_t{3} << log) ? 1 : 0;
  return std::min(kBuckets - 1, 1 + 2 * log + half);
}

uint64_t QueueStats::BucketUpperUs(int b) {
  // The largest sojourn the bucket holds.
  if (b == 0) return 0;
  int log = (b - 1) / 2;
  return (b - 1) % 2 == 0 ? ((uint64_t{3} << log) + 1) / 2 - 1 : (uint64_t{2} << log) - 1;
}

uint64_t QueueStats::Percentile(double fraction) const {
  uint64_t total = 0;
  for (const auto& b : sojourn) total += b.load(std::memory_order_relaxed);
  if (total == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(total)));
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += sojourn[static_cast<size_t>(b)].load(std::memory_order_relaxed);
    if (seen >= rank) return BucketUpperUs(b);
  }
  return BucketUpperUs(kBuckets - 1);
}

void QueueStats::Reset() {
  max_depth.store(0, std::memory_order_relaxed);
  max_sojourn_us.store(0, std::memory_order_relaxed);
  mode_switches.store(0, std::memory_order_relaxed);
  lifo_us.store(0, std::memory_order_relaxed);
  shed.store(0, std::memory_order_relaxed);
  deadlines_missed.store(0, std::memory_order_relaxed);
  served.store(0, std::memory_order_relaxed);
  for (auto& b : sojourn) b.store(0, std::memory_order_relaxed);
}

ShardQueue::ShardQueue(size_t bound, const QueuePolicyOptions* options, QueueStats* stats)
    : high_water_(std::max<size_t>(1, bound * 4 / 5)), options_(options), stats_(stats) {}

ShardQueue::~ShardQueue() {
  while (head_ != nullptr) {
    Run* r = head_;
    head_ = r->next;
    delete r;
  }
  for (Run* r : free_runs_) delete r;
}

ShardQueue::Run* ShardQueue::NewRun() {
  Run* r;
  if (free_runs_.empty()) {
    r = new Run;
  } else {
    r = free_runs_.back();
    free_runs_.pop_back();
  }
  r->prev = tail_;
  r->next = nullptr;
  if (tail_ != nullptr) {
    tail_->next = r;
  } else {
    head_ = r;
  }
  tail_ = r;
  return r;
}

void ShardQueue::Unlink(Run* r) {
  (r->prev != nullptr ? r->prev->next : head_) = r->next;
  (r->next != nullptr ? r->next->prev : tail_) = r->prev;
  if (r->fence) {
    // A fence is only ever served from the head of the queue, so it is the oldest fence.
    fences_.pop_front();
  }
  if (r == current_) current_ = nullptr;
  r->items.clear();
  r->head = 0;
  r->fence = false;
  r->follows_own = false;
  if (free_runs_.size() < 64) {
    free_runs_.push_back(r);
  } else {
    delete r;
  }
}

void ShardQueue::Push(Work* w, int64_t now_ns) {
  if (w->enqueue_ns == 0) w->enqueue_ns = now_ns;  // not queued through the reactor
  // The queue stopped being empty when this item was queued on the reactor (it may have
  // waited in the ring, or in the reactor's backlog, behind a long command).
  if (size_ == 0) last_empty_ns_ = std::min(now_ns, w->enqueue_ns);
  ++size_;
  uint64_t depth = size_;
  stats_->depth.store(depth, std::memory_order_relaxed);
  if (depth > stats_->max_depth.load(std::memory_order_relaxed)) {
    stats_->max_depth.store(depth, std::memory_order_relaxed);
  }
  if (w->priority) {
    priority_.push_back(w);
    return;
  }
  const bool fence = IsFence(w);
  const auto conn = fence ? 0 : reinterpret_cast<uintptr_t>(w->owner);
  // A connection's commands that arrive together extend its run.
  if (!fence && tail_ != nullptr && !tail_->fence && tail_->conn == conn && !w->follows_own) {
    tail_->items.push_back(w);
    return;
  }
  Run* r = NewRun();
  r->conn = conn;
  r->fence = fence;
  r->follows_own = w->follows_own;
  r->items.push_back(w);
  if (fence) fences_.push_back(r);
}

Work* ShardQueue::TakeFrom(Run* r) {
  Work* w = r->items[r->head++];
  if (r->head == r->items.size()) Unlink(r);
  --size_;
  stats_->depth.store(size_, std::memory_order_relaxed);
  return w;
}

void ShardQueue::UpdateMode(int64_t now_ns) {
  bool over = false;
  if (options_->adaptive.load(std::memory_order_relaxed) && head_ != nullptr) {
    const int64_t interval_ns = options_->interval_ms.load(std::memory_order_relaxed) * 1'000'000;
    const int64_t target_ns = options_->target_ms.load(std::memory_order_relaxed) * 1'000'000;
    // CoDel looks at the oldest run still waiting; the run being served has stopped waiting.
    const Run* oldest = head_ == current_ ? head_->next : head_;
    over = size_ >= high_water_ || (oldest != nullptr && now_ns - last_empty_ns_ > interval_ns &&
                                    now_ns - oldest->front()->enqueue_ns > target_ns);
  }
  if (over == overloaded_) return;
  overloaded_ = over;
  stats_->mode_switches.fetch_add(1, std::memory_order_relaxed);
  if (over) {
    stats_->lifo_since_ns.store(now_ns, std::memory_order_relaxed);
  } else {
    int64_t since = stats_->lifo_since_ns.exchange(0, std::memory_order_relaxed);
    stats_->lifo_us.fetch_add(static_cast<uint64_t>((now_ns - since) / 1000),
                              std::memory_order_relaxed);
  }
}

void ShardQueue::Record(const Work* w, int64_t now_ns) {
  uint64_t us = static_cast<uint64_t>(std::max<int64_t>(0, now_ns - w->enqueue_ns)) / 1000;
  stats_->sojourn[static_cast<size_t>(QueueStats::BucketOf(us))].fetch_add(
      1, std::memory_order_relaxed);
  if (us > stats_->max_sojourn_us.load(std::memory_order_relaxed)) {
    stats_->max_sojourn_us.store(us, std::memory_order_relaxed);
  }
}

ShardQueue::Run* ShardQueue::NewestServable() {
  Run* r = fences_.empty() ? tail_ : fences_.front()->prev;
  if (r == nullptr) return head_;  // the head is the first fence
  // Per-connection order: a run that follows an earlier run of its connection waits for it.
  while (r->follows_own) {
    Run* earlier = r->prev;
    while (earlier != nullptr && earlier->conn != r->conn) earlier = earlier->prev;
    if (earlier == nullptr) break;
    r = earlier;
  }
  return r;
}

ShardQueue::Pick ShardQueue::Next(int64_t now_ns) {
  if (size_ == 0) {
    last_empty_ns_ = now_ns;
    UpdateMode(now_ns);
    return {};
  }
  if (!priority_.empty()) {
    Work* w = priority_.front();
    priority_.pop_front();
    --size_;
    stats_->depth.store(size_, std::memory_order_relaxed);
    Record(w, now_ns);
    stats_->served.fetch_add(1, std::memory_order_relaxed);
    return {w, Action::kRun};
  }
  UpdateMode(now_ns);
  if (current_ == nullptr) {
    // Start a run: while overloaded, the oldest one is shed whole if it waited too long,
    // else the newest goes first.
    current_shed_ = false;
    current_ = head_;
    if (overloaded_) {
      const Work* oldest = head_->front();
      const int64_t shed_ns = options_->shed_ms.load(std::memory_order_relaxed) * 1'000'000;
      if (!head_->fence && !oldest->no_shed && now_ns - oldest->enqueue_ns > shed_ns) {
        current_shed_ = true;
      } else {
        current_ = NewestServable();
      }
    }
  }
  const bool shed = current_shed_;
  Work* w = TakeFrom(current_);
  Record(w, now_ns);
  if (shed) {
    stats_->shed.fetch_add(1, std::memory_order_relaxed);
    return {w, Action::kShed};
  }
  if (w->deadline_ns != 0 && now_ns > w->deadline_ns && !IsFence(w)) {
    stats_->deadlines_missed.fetch_add(1, std::memory_order_relaxed);
    return {w, Action::kDeadline};
  }
  stats_->served.fetch_add(1, std::memory_order_relaxed);
  return {w, Action::kRun};
}

int64_t ShardQueue::DrainEstimateMs() const {
  int64_t ms = static_cast<int64_t>(size_) * service_ewma_ns_ / 1'000'000;
  return std::clamp<int64_t>(ms, 1, 10'000);
}

}  // namespace omnibus
