#include "omnibus/store/keyspace.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "omnibus/base/clock.h"
#include "omnibus/store/lease_table.h"
#include "omnibus/store/memory.h"

namespace omnibus {

size_t Keyspace::ActiveExpireCycle(int64_t budget_us) {
  int64_t start = MonotonicNs();
  size_t total = 0, sampled = 0;
  bool capped = false;
  for (size_t n = 0; n < dbs_.size() && !capped; ++n) {
    Db* db = dbs_[next_db_].get();
    next_db_ = (next_db_ + 1) % dbs_.size();
    if (db == nullptr) continue;
    // Expired leases and stale values (LEASE.*): a bounded slice per cycle.
    if (LeaseTable* leases = db->leases_if_any()) leases->Sweep(db->now_ms(), 256);
    if (db->volatile_keys() == 0) continue;
    while (true) {
      auto [examined, expired] = db->ActiveExpireSlice(16);
      total += expired;
      sampled += examined;
      // Redis keeps going while more than ~10-25% of sampled keys were stale.
      if (examined == 0 || expired * 4 < examined) break;
      if ((MonotonicNs() - start) / 1000 > budget_us) {
        capped = true;
        break;
      }
    }
    if ((MonotonicNs() - start) / 1000 > budget_us) capped = true;
  }
  // As Redis's activeExpireCycle: a slow-moving average of the stale share per cycle.
  if (sampled > 0) {
    double current = static_cast<double>(total) / static_cast<double>(sampled);
    expire_stats_.stale_perc = current * 0.05 + expire_stats_.stale_perc * 0.95;
  }
  expire_stats_.time_cap_reached_count += capped;
  expire_stats_.cpu_us += (MonotonicNs() - start) / 1000;
  return total;
}

size_t Keyspace::TotalKeys() const {
  size_t n = 0;
  for (const auto& db : dbs_) {
    if (db != nullptr) n += db->size();
  }
  return n;
}

void Keyspace::PublishMemory() {
  if (budget_ != nullptr) budget_->Publish(shard_, StoreAllocatedBytes(), evictor_.evicted_keys);
}

bool Keyspace::GrowAllowed(void* self, size_t bytes) {
  auto* ks = static_cast<Keyspace*>(self);
  const int64_t max = ks->evictor_.maxmemory();
  if (max <= 0 || ks->budget_ == nullptr) return true;
  return ks->budget_->TotalWith(ks->shard_, StoreAllocatedBytes() + static_cast<int64_t>(bytes)) <=
         max;
}

bool Keyspace::OverMaxmemory() const {
  int64_t max = evictor_.maxmemory();
  return max > 0 && budget_ != nullptr && budget_->TotalWith(shard_, StoreAllocatedBytes()) > max;
}

namespace {

// Redis's evictionTimeLimitUs: how long one command may spend evicting before the rest is
// left for later (maxmemory-eviction-tenacity: 10 is 500 µs, 100 is unlimited).
int64_t EvictionTimeLimitNs(int tenacity) {
  if (tenacity <= 10) return 50'000LL * tenacity;
  if (tenacity < 100) return static_cast<int64_t>(500'000.0 * std::pow(1.15, tenacity - 10.0));
  return INT64_MAX;
}

}  // namespace

bool Keyspace::MakeRoom() {
  const int64_t max = evictor_.maxmemory();
  if (max <= 0 || budget_ == nullptr) return true;
  if (budget_->TotalWith(shard_, StoreAllocatedBytes()) <= max) return true;
  if (evictor_.policy() == EvictionPolicy::kNoEviction) return false;
  const int64_t share = max / budget_->shards();
  if (!EvictWhileOver(max, share, EvictionTimeLimitNs(evictor_.tenacity()))) return false;
  // Down to its share and still over: the others hold more than theirs.
  if (budget_->TotalWith(shard_, StoreAllocatedBytes()) > max && !evict_pending_) AskOthers(share);
  return true;
}

void Keyspace::AskOthers(int64_t share) {
  for (int i = 0; i < budget_->shards(); ++i) {
    if (i != shard_ && budget_->Published(i) > share) budget_->Request(i);
  }
}

void Keyspace::EvictInBackground() {
  if (budget_ == nullptr) return;
  const bool requested = budget_->TakeRequest(shard_);
  const int64_t max = evictor_.maxmemory();
  if (max > 0) evictor_.SetKeyCount(TotalKeys());  // TinyLFU's sketch follows the keyspace
  if (max <= 0 || evictor_.policy() == EvictionPolicy::kNoEviction) {
    evict_pending_ = false;
    return;
  }
  const int64_t own = StoreAllocatedBytes();
  const int64_t share = max / budget_->shards();
  if (budget_->TotalWith(shard_, own) <= max) {
    evict_pending_ = false;
    return;
  }
  if (!evict_pending_ && !requested && own <= share) return;
  evict_pending_ = false;
  constexpr int64_t kSliceNs = 1'000'000;  // as active expiry's slices (§4)
  EvictWhileOver(max, share, kSliceNs);
  PublishMemory();
}

bool Keyspace::EvictWhileOver(int64_t max, int64_t floor, int64_t limit_ns) {
  const int64_t start = MonotonicNs();
  evictor_.SetKeyCount(TotalKeys());
  for (int n = 1;; ++n) {
    int64_t own = StoreAllocatedBytes();
    if (own <= floor || budget_->TotalWith(shard_, own) <= max) break;
    if (!EvictOne()) {
      PublishMemory();
      return false;
    }
    if (n % 16 == 0 && MonotonicNs() - start > limit_ns) {
      // The rest between batches (Redis: its eviction time proc).
      evict_pending_ = true;
      break;
    }
  }
  PublishMemory();
  return true;
}

void Keyspace::Populate(bool volatile_only) {
  constexpr size_t kBatch = 64;
  Record* sampled[kBatch];
  for (size_t i = 0; i < dbs_.size(); ++i) {
    Db* db = dbs_[i].get();
    if (db == nullptr || db->size() == 0) continue;
    size_t want = std::min<size_t>(static_cast<size_t>(evictor_.samples()), db->size());
    for (int empty = 0; want > 0 && empty < 4;) {
      size_t got =
          db->SampleSome(volatile_only, evictor_.Random(), std::min(want, kBatch), sampled);
      if (got == 0) {
        ++empty;  // a sparse stretch of the table: try elsewhere
        continue;
      }
      for (size_t j = 0; j < got; ++j) evictor_.Offer(static_cast<int>(i), sampled[j]);
      want -= got;
    }
  }
}

// TinyLFU: how much more often than the main part's victim a newcomer must have been asked
// for to be admitted. The victim is the least frequent of a sample, so its estimate is biased
// low by the sketch's noise; without a margin, keys of equal frequency (a loop) churn as they
// would under LRU. Measured with cache-aside replays of zipf 1.0, zipf with scans and a loop
// (docs/eviction.md): 0 loses the loop (2% hits where LRU had 12%), 1-2 are in between, 3-4
// are best on all three.
constexpr int kAdmitMargin = 3;

bool Keyspace::EvictOne() {
  const EvictionPolicy policy = evictor_.policy();
  const bool volatile_only = PolicyIsVolatile(policy);
  auto evict = [this](int db_index, std::string_view key) {
    Db& db = *dbs_[static_cast<size_t>(db_index)];
    Db::Entry e = db.Peek(key);  // a dead key expires here instead: room made all the same
    if (!e) return;
    db.Evict(e);
    ++evictor_.evicted_keys;
  };
  if (policy == EvictionPolicy::kAllKeysRandom || policy == EvictionPolicy::kVolatileRandom) {
    for (size_t tries = 0; tries < dbs_.size(); ++tries) {
      size_t i = next_evict_db_;
      next_evict_db_ = (next_evict_db_ + 1) % dbs_.size();
      Db* db = dbs_[i].get();
      if (db == nullptr || db->size() == 0) continue;
      Record* r = nullptr;
      for (int attempt = 0; attempt < 8 && r == nullptr; ++attempt) {
        if (db->SampleSome(volatile_only, evictor_.Random(), 1, &r) == 0) r = nullptr;
      }
      if (r == nullptr) continue;
      evict(static_cast<int>(i), std::string(r->key()));
      return true;
    }
    return false;
  }
  // The best pool candidate that still exists (for volatile-*: still with a TTL). The pool
  // may hold only keys gone since (a FLUSHALL, a DEL), whose old scores kept fresh samples
  // out: then it is empty after the walk and is filled again, as Redis's performEvictions
  // loops until it finds a key.
  auto take_best = [&](Evictor::Candidate* out, const Evictor::Candidate* skip) {
    for (int round = 0; round < 4 && TotalKeys() > 0; ++round) {
      Populate(volatile_only);
      while (evictor_.TakeBest(out)) {
        if (skip != nullptr && out->db == skip->db && out->key == skip->key) continue;
        Db* db = db_if_exists(out->db);
        if (db == nullptr) continue;
        Db::Entry e = db->Peek(out->key);
        if (e && (!volatile_only || e->has_expire())) return true;
      }
    }
    return false;
  };
  Evictor::Candidate victim;
  if (policy == EvictionPolicy::kAllKeysTinyLfu) {
    // W-TinyLFU: a key leaving the window competes with the main part's victim; it stays
    // only if it was requested kAdmitMargin times more (a one-time key never displaces).
    Evictor::Candidate newcomer;
    while (evictor_.TakeWindowOverflow(&newcomer)) {
      Db* db = db_if_exists(newcomer.db);
      if (db == nullptr || !db->Peek(newcomer.key)) continue;  // gone meanwhile
      if (!take_best(&victim, &newcomer)) {
        evict(newcomer.db, newcomer.key);
        return true;
      }
      if (evictor_.SketchEstimate(newcomer.db, newcomer.key) >
          evictor_.SketchEstimate(victim.db, victim.key) + kAdmitMargin) {
        evict(victim.db, victim.key);
      } else {
        // The incumbent stays a candidate for the next round.
        Db::Entry e = dbs_[static_cast<size_t>(victim.db)]->Peek(victim.key);
        if (e) evictor_.Offer(victim.db, e.get());
        evict(newcomer.db, newcomer.key);
      }
      return true;
    }
  }
  if (!take_best(&victim, nullptr)) return false;
  evict(victim.db, victim.key);
  return true;
}

}  // namespace omnibus
