#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "omnibus/store/container_limits.h"
#include "omnibus/store/db.h"

namespace omnibus {

// The part of the keyspace one shard owns: `databases` logical DBs, created lazily, and the
// shard's clock for the command being executed.
// Runs on: the owning shard thread.
class Keyspace {
 public:
  // `limits` (owned by the server, outliving the keyspace) may be null: Redis's defaults.
  // `listeners` (owned by the server) may be null: nobody ever listens for key notices.
  // `eviction` (owned by the server) may be null: no maxmemory.
  explicit Keyspace(int num_dbs, const ContainerLimits* limits = nullptr,
                    const NoticeListeners* listeners = nullptr,
                    const EvictionSettings* eviction = nullptr)
      : evictor_(eviction),
        dbs_(static_cast<size_t>(num_dbs)),
        limits_(limits ? limits : &default_limits_),
        listeners_(listeners) {}

  const ContainerLimits& limits() const { return *limits_; }

  Db& db(int index) {
    auto& slot = dbs_[static_cast<size_t>(index)];
    if (!slot) {
      slot = std::make_unique<Db>(&now_ms_, index, &ready_, &notices_, listeners_, &evictor_);
      slot->set_grow_gate(&Keyspace::GrowAllowed, this);
    }
    return *slot;
  }
  // Null if the DB was never touched.
  Db* db_if_exists(int index) { return dbs_[static_cast<size_t>(index)].get(); }
  int num_dbs() const { return static_cast<int>(dbs_.size()); }

  // Keys that gained elements while clients block on them (§10.5), as (db, key), since the
  // last take. The shard hands them to the reactor with the work that caused them.
  bool has_ready() const { return !ready_.empty(); }
  std::vector<ReadyKey>& ready_list() { return ready_; }
  std::vector<ReadyKey> TakeReady() { return std::exchange(ready_, {}); }

  // Key notices (store/key_notice.h) recorded since the last take, in the order they
  // happened; they travel like ready keys.
  bool has_notices() const { return !notices_.empty(); }
  std::vector<KeyNotice>& notice_list() { return notices_; }
  std::vector<KeyNotice> TakeNotices() { return std::exchange(notices_, {}); }

  // Before each batch: the clock, and the eviction settings CONFIG SET may have changed.
  void set_now_ms(int64_t ms) {
    now_ms_ = ms;
    evictor_.Refresh(ms);
  }
  int64_t now_ms() const { return now_ms_; }
  uint64_t Random() { return rng_(); }

  // Redis-like active expire cycle: sample volatile keys DB by DB until the time budget is
  // spent or fewer than a quarter of the examined keys were expired.
  // Returns the number of keys expired.
  size_t ActiveExpireCycle(int64_t budget_us);

  // --- maxmemory (DESIGN §10.8, store/eviction.h) -------------------------------------
  Evictor& evictor() { return evictor_; }
  // This keyspace is shard `shard` of those sharing `budget`.
  void AttachBudget(MemoryBudget* budget, int shard) {
    budget_ = budget;
    shard_ = shard;
  }
  // Before a command that may grow memory (deny-oom): while the shared budget is over
  // maxmemory, evicts this shard's keys by the policy, down to its fair share (below it,
  // the shards above theirs are asked to make the room). False: out of memory (noeviction,
  // or nothing this shard may evict): the command is refused with -OOM.
  bool MakeRoom();
  // The shared budget is over maxmemory (scripts check it before a deny-oom call).
  bool OverMaxmemory() const;
  // Between batches: evicts what MakeRoom left for later (its time limit), what another
  // shard asked for, or whatever puts this shard over its share while the budget is over.
  void EvictInBackground();
  // Evicts one key chosen by the policy. False when there is nothing to evict.
  bool EvictOne();
  // Publishes this shard's counted bytes to the shared budget.
  void PublishMemory();
  size_t TotalKeys() const;
  // Another shard asked this one to evict (a parked shard must not sleep through it).
  bool EvictionRequested() const { return budget_ != nullptr && budget_->HasRequest(shard_); }

  // What the active expire cycles did (Redis's INFO stats fields of the same names):
  // a running estimate of the share of sampled volatile keys that were already expired, the
  // cycles that stopped at their time budget, and the time spent in them.
  struct ExpireCycleStats {
    double stale_perc = 0;
    uint64_t time_cap_reached_count = 0;
    int64_t cpu_us = 0;
  };
  const ExpireCycleStats& expire_cycle_stats() const { return expire_stats_; }
  void ResetExpireCycleStats() { expire_stats_ = ExpireCycleStats{}; }  // CONFIG RESETSTAT

 private:
  // Evicts while the budget is over `max` and this shard holds more than `floor`, for at
  // most `limit_ns`. False when nothing could be evicted while still over.
  bool EvictWhileOver(int64_t max, int64_t floor, int64_t limit_ns);
  void Populate(bool volatile_only);
  void AskOthers(int64_t share);
  // Table::GrowGate: `bytes` more keep the budget within maxmemory.
  static bool GrowAllowed(void* self, size_t bytes);

  int64_t now_ms_ = 0;
  Evictor evictor_;
  MemoryBudget* budget_ = nullptr;
  int shard_ = 0;
  bool evict_pending_ = false;
  size_t next_evict_db_ = 0;
  std::vector<ReadyKey> ready_;
  std::vector<KeyNotice> notices_;
  std::vector<std::unique_ptr<Db>> dbs_;
  std::mt19937_64 rng_{0x6f6d6e69627573};
  size_t next_db_ = 0;
  ExpireCycleStats expire_stats_;
  ContainerLimits default_limits_;
  const ContainerLimits* limits_;
  const NoticeListeners* listeners_;
};

}  // namespace omnibus
