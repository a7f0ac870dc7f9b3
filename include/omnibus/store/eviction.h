#pragma once

// maxmemory and eviction (DESIGN §10.8): the policies, the settings CONFIG SET changes, the
// budget the shards share, and the per-shard state that picks victims. Eviction runs on the
// shard that owns the key, through the Db's choke point (§10.1), so an evicted key is
// announced ("evicted"), invalidates tracking clients and WATCH like any other change.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omnibus/store/record.h"

namespace omnibus {

// Redis 7.0's maxmemory-policy values, plus ours.
enum class EvictionPolicy : uint8_t {
  kNoEviction,
  kAllKeysLru,
  kVolatileLru,
  kAllKeysLfu,
  kVolatileLfu,
  kAllKeysRandom,
  kVolatileRandom,
  kVolatileTtl,
  // Ours: W-TinyLFU (Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache Admission
  // Policy", ACM ToS 2017) over sampled eviction: a small FIFO window of new keys, and a
  // key leaving it is admitted to the main part only when a count-min sketch of recent
  // accesses (hits and misses, so it remembers keys that were evicted) says it is requested
  // more often than the main part's sampled victim. One-time keys (scans) never displace
  // popular ones.
  kAllKeysTinyLfu,
};

// Redis's reply (without '-') to a command refused for memory.
inline constexpr std::string_view kOomError =
    "OOM command not allowed when used memory > 'maxmemory'.";

std::optional<EvictionPolicy> ParseEvictionPolicy(std::string_view name);
std::string_view EvictionPolicyName(EvictionPolicy p);
inline bool PolicyIsVolatile(EvictionPolicy p) {
  return p == EvictionPolicy::kVolatileLru || p == EvictionPolicy::kVolatileLfu ||
         p == EvictionPolicy::kVolatileRandom || p == EvictionPolicy::kVolatileTtl;
}
// The record's 16-bit access field holds an LFU counter (Redis's MAXMEMORY_FLAG_LFU).
inline bool PolicyIsLfu(EvictionPolicy p) {
  return p == EvictionPolicy::kAllKeysLfu || p == EvictionPolicy::kVolatileLfu;
}

// What CONFIG SET changes, read by the shards between commands (relaxed: a command sees the
// old or the new value, as in Redis where CONFIG SET lands between commands).
struct EvictionSettings {
  std::atomic<int64_t> maxmemory{0};
  std::atomic<uint8_t> policy{static_cast<uint8_t>(EvictionPolicy::kNoEviction)};
  std::atomic<int32_t> samples{5};
  std::atomic<int32_t> tenacity{10};
  std::atomic<int32_t> lfu_log_factor{10};
  std::atomic<int32_t> lfu_decay_time{1};
};

// The budget every shard shares: each publishes the bytes it holds; a shard that needs room
// sees the sum. A shard holding less than its fair share (maxmemory / shards) does not evict
// its own keys for room; it asks the shards above their share to evict instead, so one hot
// shard may use what the others leave unused and is never starved by them.
// Runs on: any thread (each slot is written by its shard only).
class MemoryBudget {
 public:
  explicit MemoryBudget(int shards)
      : shards_(shards), slots_(std::make_unique<Slot[]>(static_cast<size_t>(shards))) {}
  int shards() const { return shards_; }
  void Publish(int shard, int64_t bytes, uint64_t evicted) {
    slots_[shard].bytes.store(bytes, std::memory_order_relaxed);
    slots_[shard].evicted.store(evicted, std::memory_order_relaxed);
  }
  // Keys evicted by every shard (INFO's evicted_keys).
  uint64_t Evicted() const {
    uint64_t sum = 0;
    for (int i = 0; i < shards_; ++i) sum += slots_[i].evicted.load(std::memory_order_relaxed);
    return sum;
  }
  int64_t Published(int shard) const { return slots_[shard].bytes.load(std::memory_order_relaxed); }
  // The sum with `shard`'s own figure replaced by `own` (its live count).
  int64_t TotalWith(int shard, int64_t own) const {
    int64_t sum = own;
    for (int i = 0; i < shards_; ++i) {
      if (i != shard) sum += slots_[i].bytes.load(std::memory_order_relaxed);
    }
    return sum;
  }
  int64_t Total() const {
    int64_t sum = 0;
    for (int i = 0; i < shards_; ++i) sum += slots_[i].bytes.load(std::memory_order_relaxed);
    return sum;
  }
  // Asks `shard` to evict down to its share (it looks at the flag every loop iteration) and
  // wakes it.
  void Request(int shard) {
    if (!slots_[shard].evict.exchange(true, std::memory_order_relaxed) && wake) wake(shard);
  }
  // Set once before the shards start: wakes a parked shard (Request).
  std::function<void(int)> wake;
  bool HasRequest(int shard) const { return slots_[shard].evict.load(std::memory_order_relaxed); }
  bool TakeRequest(int shard) {
    return slots_[shard].evict.load(std::memory_order_relaxed) &&
           slots_[shard].evict.exchange(false, std::memory_order_relaxed);
  }

 private:
  struct alignas(64) Slot {
    std::atomic<int64_t> bytes{0};
    std::atomic<uint64_t> evicted{0};
    std::atomic<bool> evict{false};
  };
  const int shards_;
  std::unique_ptr<Slot[]> slots_;
};

// A count-min sketch of 4-bit counters (4 rows), aged by halving every counter after 10
// additions per key: TinyLFU's frequency filter. Sized for the keys it serves.
class FrequencySketch {
 public:
  explicit FrequencySketch(size_t keys = 1024) { Resize(keys); }
  // Forgets everything.
  void Resize(size_t keys);
  size_t width() const { return width_; }
  void Add(uint64_t hash);
  int Estimate(uint64_t hash) const;

 private:
  size_t Index(uint64_t hash, int row) const;
  // TinyLFU's doorkeeper: a Bloom filter that takes a key's first access, so one-time keys
  // (scans) never reach the counters; cleared at every aging.
  bool DoorTestAndSet(uint64_t hash);
  bool DoorContains(uint64_t hash) const;
  std::vector<uint64_t> table_;  // 16 counters per word
  std::vector<uint64_t> door_;   // bits
  size_t width_ = 0;             // counters per row (a power of two)
  size_t additions_ = 0;
  size_t sample_size_ = 0;
};

// One shard's eviction state: the policy in force for the current batch, the access clock
// that Db stamps records with, the candidate pool and TinyLFU's sketch and window.
// Runs on: the owning shard thread.
class Evictor {
 public:
  explicit Evictor(const EvictionSettings* settings) : settings_(settings) {}

  // Before each batch: picks up CONFIG SET changes and the clock (Unix ms).
  void Refresh(int64_t now_ms);
  EvictionPolicy policy() const { return policy_; }
  int64_t maxmemory() const { return maxmemory_; }
  int samples() const { return samples_; }
  int tenacity() const { return tenacity_; }

  // --- Record access stamps (Db calls these) -------------------------------------------
  // A record was looked up (LRU: now; LFU: Redis's logarithmic increment after decay).
  void Touch(Record* r) {
    if (lfu_) {
      TouchLfu(r);
    } else {
      r->lru = lru_clock_;
    }
  }
  // A new record: LFU counters start at LFU_INIT_VAL (5) so new keys are not evicted at once.
  void Stamp(Record* r);
  // TinyLFU: counts a lookup of (db, key), found or not; no-op under other policies.
  void Count(int db, std::string_view key) {
    if (count_lookups_) sketch_.Add(KeyHash(db, key));
  }
  // TinyLFU: a key was created (it enters the window).
  void Created(int db, std::string_view key);

  // --- Reading the stamps ----------------------------------------------------------------
  // OBJECT FREQ: the LFU counter after decay (not updated).
  int LfuCounter(const Record* r) const;
  // OBJECT IDLETIME: seconds since the last access (LRU stamp).
  int64_t IdleSeconds(const Record* r) const;
  int SketchEstimate(int db, std::string_view key) const {
    return sketch_.Estimate(KeyHash(db, key));
  }

  // --- Victim selection ------------------------------------------------------------------
  // The eviction pool (Redis's evictionPoolEntry): the best candidates seen so far, kept
  // across calls; a higher score is a better victim.
  struct Candidate {
    uint64_t score = 0;
    int db = 0;
    std::string key;
  };
  // Offers a sampled record to the pool.
  void Offer(int db, const Record* r);
  // The best candidate, taken out of the pool (false when empty).
  bool TakeBest(Candidate* out);
  // TinyLFU's window: its oldest entry when the window is over its share of the keys.
  bool TakeWindowOverflow(Candidate* out);
  // The shard's key count, when eviction runs: sizes the sketch (regrown only while the
  // keyspace outgrows it) and TinyLFU's window (about 1% of the keys).
  void SetKeyCount(size_t keys);
  uint64_t Random() {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return rng_;
  }

  uint64_t evicted_keys = 0;

  static uint64_t KeyHash(int db, std::string_view key);

 private:
  uint64_t Score(const Record* r) const;
  void TouchLfu(Record* r);
  uint16_t LruClock() const { return static_cast<uint16_t>(now_ms_ / 1000); }
  uint8_t LfuMinutes() const { return static_cast<uint8_t>(now_ms_ / 60000); }

  const EvictionSettings* settings_;
  EvictionPolicy policy_ = EvictionPolicy::kNoEviction;
  int64_t maxmemory_ = 0;
  int samples_ = 5;
  int tenacity_ = 10;
  int lfu_log_factor_ = 10;
  int lfu_decay_time_ = 1;
  int64_t now_ms_ = 0;
  uint64_t rng_ = 0x9e3779b97f4a7c15ULL;
  static constexpr size_t kPoolSize = 16;
  std::vector<Candidate> pool_;  // ascending score
  bool count_lookups_ = false;   // TinyLFU with a maxmemory
  bool lfu_ = false;             // PolicyIsLfu(policy_)
  uint16_t lru_clock_ = 0;       // LruClock() of this batch
  size_t window_cap_ = 16;
  FrequencySketch sketch_;
  std::deque<Candidate> window_;  // TinyLFU: keys created most recently, oldest first
};

}  // namespace omnibus
