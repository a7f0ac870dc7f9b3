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
  explicit Keyspace(int num_dbs, const ContainerLimits* limits = nullptr,
                    const NoticeListeners* listeners = nullptr)
      : dbs_(static_cast<size_t>(num_dbs)),
        limits_(limits ? limits : &default_limits_),
        listeners_(listeners) {}

  const ContainerLimits& limits() const { return *limits_; }

  Db& db(int index) {
    auto& slot = dbs_[static_cast<size_t>(index)];
    if (!slot) slot = std::make_unique<Db>(&now_ms_, index, &ready_, &notices_, listeners_);
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

  void set_now_ms(int64_t ms) { now_ms_ = ms; }
  int64_t now_ms() const { return now_ms_; }
  uint64_t Random() { return rng_(); }

  // Redis-like active expire cycle: sample volatile keys DB by DB until the time budget is
  // spent or fewer than a quarter of the examined keys were expired.
  // Returns the number of keys expired.
  size_t ActiveExpireCycle(int64_t budget_us);

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
  int64_t now_ms_ = 0;
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
