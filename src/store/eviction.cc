#include "omnibus/store/eviction.h"

#include <algorithm>
#include <array>

#include "omnibus/base/strings.h"
#include "omnibus/store/record.h"
#include "omnibus/store/table.h"

namespace omnibus {
namespace {

constexpr std::array<std::string_view, 9> kPolicyNames = {
    "noeviction",     "allkeys-lru",     "volatile-lru", "allkeys-lfu",     "volatile-lfu",
    "allkeys-random", "volatile-random", "volatile-ttl", "allkeys-tinylfu",
};

// Redis's LFU_INIT_VAL: a new key's counter, so it survives long enough to be counted.
constexpr int kLfuInitVal = 5;

}  // namespace

std::optional<EvictionPolicy> ParseEvictionPolicy(std::string_view name) {
  for (size_t i = 0; i < kPolicyNames.size(); ++i) {
    if (EqualsIgnoreCase(name, kPolicyNames[i])) return static_cast<EvictionPolicy>(i);
  }
  return std::nullopt;
}

std::string_view EvictionPolicyName(EvictionPolicy p) {
  return kPolicyNames[static_cast<size_t>(p)];
}

// --- FrequencySketch ----------------------------------------------------------------------

void FrequencySketch::Resize(size_t keys) {
  // Four counters per key and row (8 bytes per key in all, as Caffeine's sketch), so the
  // distinct keys seen between two agings rarely share all four counters; aged after 10
  // additions per key (TinyLFU's sample size).
  width_ = 4096;
  while (width_ < 4 * keys) width_ <<= 1;
  table_.assign(width_ * 4 / 16, 0);
  door_.assign(width_ * 4 / 64, 0);  // 16 bits per key
  sample_size_ = 10 * std::max<size_t>(keys, width_ / 4);
  additions_ = 0;
}

size_t FrequencySketch::Index(uint64_t hash, int row) const {
  // Four rows from one 64-bit hash: a different odd multiplier per row, top bits used.
  static constexpr uint64_t kSeeds[4] = {0x9e3779b97f4a7c15ULL, 0xc2b2ae3d27d4eb4fULL,
                                         0x165667b19e3779f9ULL, 0xd6e8feb86659fd93ULL};
  uint64_t h = (hash ^ (hash >> 29)) * kSeeds[row];
  return static_cast<size_t>(row) * width_ + static_cast<size_t>((h >> 32) & (width_ - 1));
}

bool FrequencySketch::DoorTestAndSet(uint64_t hash) {
  const size_t bits = door_.size() * 64;
  size_t a = static_cast<size_t>(hash * 0xff51afd7ed558ccdULL >> 20) & (bits - 1);
  size_t b = static_cast<size_t>(hash * 0xc4ceb9fe1a85ec53ULL >> 20) & (bits - 1);
  bool present = (door_[a / 64] >> (a % 64) & 1) && (door_[b / 64] >> (b % 64) & 1);
  door_[a / 64] |= uint64_t{1} << (a % 64);
  door_[b / 64] |= uint64_t{1} << (b % 64);
  return present;
}

bool FrequencySketch::DoorContains(uint64_t hash) const {
  const size_t bits = door_.size() * 64;
  size_t a = static_cast<size_t>(hash * 0xff51afd7ed558ccdULL >> 20) & (bits - 1);
  size_t b = static_cast<size_t>(hash * 0xc4ceb9fe1a85ec53ULL >> 20) & (bits - 1);
  return (door_[a / 64] >> (a % 64) & 1) && (door_[b / 64] >> (b % 64) & 1);
}

void FrequencySketch::Add(uint64_t hash) {
  bool added = false;
  if (!DoorTestAndSet(hash)) {
    added = true;  // a first access stops at the doorkeeper
  } else {
    for (int row = 0; row < 4; ++row) {
      size_t i = Index(hash, row);
      uint64_t& word = table_[i / 16];
      int shift = static_cast<int>(i % 16) * 4;
      if (((word >> shift) & 0xF) != 0xF) {
        word += uint64_t{1} << shift;
        added = true;
      }
    }
  }
  // Aging (TinyLFU's reset): after a sample of 10 additions per key, halve every counter and
  // clear the doorkeeper, so the sketch follows what is popular now.
  if (added && ++additions_ >= sample_size_) {
    for (uint64_t& word : table_) word = (word >> 1) & 0x7777777777777777ULL;
    std::fill(door_.begin(), door_.end(), 0);
    additions_ /= 2;
  }
}

int FrequencySketch::Estimate(uint64_t hash) const {
  int min = 15;
  for (int row = 0; row < 4; ++row) {
    size_t i = Index(hash, row);
    int c = static_cast<int>((table_[i / 16] >> ((i % 16) * 4)) & 0xF);
    min = std::min(min, c);
  }
  return std::min(15, min + (DoorContains(hash) ? 1 : 0));
}

// --- Evictor ------------------------------------------------------------------------------

uint64_t Evictor::KeyHash(int db, std::string_view key) {
  return HashKey(key) ^ (static_cast<uint64_t>(db) * 0x9e3779b97f4a7c15ULL);
}

void Evictor::Refresh(int64_t now_ms) {
  now_ms_ = now_ms;
  lru_clock_ = LruClock();
  if (settings_ == nullptr) return;
  auto policy = static_cast<EvictionPolicy>(settings_->policy.load(std::memory_order_relaxed));
  if (policy != policy_) {
    pool_.clear();  // scores of another policy mean nothing here
    window_.clear();
    policy_ = policy;
  }
  maxmemory_ = settings_->maxmemory.load(std::memory_order_relaxed);
  samples_ = settings_->samples.load(std::memory_order_relaxed);
  tenacity_ = settings_->tenacity.load(std::memory_order_relaxed);
  lfu_log_factor_ = settings_->lfu_log_factor.load(std::memory_order_relaxed);
  lfu_decay_time_ = settings_->lfu_decay_time.load(std::memory_order_relaxed);
  count_lookups_ = policy_ == EvictionPolicy::kAllKeysTinyLfu && maxmemory_ > 0;
  lfu_ = PolicyIsLfu(policy_);
  lru_clock_ = LruClock();
}

// Under an LFU policy the 16-bit stamp is Redis's LFU field shrunk to our record: the last
// decrement time in minutes mod 256 (high byte) and the logarithmic counter (low byte). A key
// idle for more than 256 minutes decays less than it should (its idle time wraps).
int Evictor::LfuCounter(const Record* r) const {
  int counter = r->lru & 0xFF;
  if (lfu_decay_time_ <= 0) return counter;
  int elapsed = static_cast<uint8_t>(LfuMinutes() - (r->lru >> 8));
  int periods = elapsed / lfu_decay_time_;
  return periods > counter ? 0 : counter - periods;
}

void Evictor::TouchLfu(Record* r) {
  int counter = LfuCounter(r);
  if (counter < 255) {
    // Redis's LFULogIncr: the higher the counter, the less likely an access raises it.
    double base = std::max(0, counter - kLfuInitVal);
    double p = 1.0 / (base * lfu_log_factor_ + 1);
    double x = static_cast<double>(Random() >> 11) * 0x1.0p-53;
    if (x < p) ++counter;
  }
  r->lru = static_cast<uint16_t>((LfuMinutes() << 8) | counter);
}

void Evictor::Stamp(Record* r) {
  if (PolicyIsLfu(policy_)) {
    r->lru = static_cast<uint16_t>((LfuMinutes() << 8) | kLfuInitVal);
  } else {
    r->lru = LruClock();
  }
}

int64_t Evictor::IdleSeconds(const Record* r) const {
  return static_cast<uint16_t>(LruClock() - r->lru);
}

void Evictor::Created(int db, std::string_view key) {
  if (!count_lookups_) return;
  window_.push_back(Candidate{0, db, std::string(key)});
  // Without eviction pressure the oldest simply join the main part.
  if (window_.size() > 2 * window_cap_) window_.pop_front();
}

uint64_t Evictor::Score(const Record* r) const {
  switch (policy_) {
    case EvictionPolicy::kAllKeysLfu:
    case EvictionPolicy::kVolatileLfu:
      return static_cast<uint64_t>(255 - LfuCounter(r));
    case EvictionPolicy::kVolatileTtl:
      // The sooner it expires, the better a victim.
      return ~static_cast<uint64_t>(r->expire_at_ms());
    default:
      return static_cast<uint64_t>(IdleSeconds(r));
  }
}

void Evictor::Offer(int db, const Record* r) {
  uint64_t score = Score(r);
  if (policy_ == EvictionPolicy::kAllKeysTinyLfu) {
    // Least often requested first; among equals, the longest idle.
    int freq = SketchEstimate(db, r->key());
    score = (static_cast<uint64_t>(15 - freq) << 20) |
            static_cast<uint64_t>(std::min<int64_t>(IdleSeconds(r), (1 << 20) - 1));
  }
  // Redis's evictionPoolPopulate: keep the kPoolSize best, ascending; a full pool takes a
  // candidate only if it beats the worst one there.
  if (pool_.size() >= kPoolSize && score <= pool_.front().score) return;
  for (const Candidate& c : pool_) {
    if (c.db == db && c.key == r->key()) return;  // already there
  }
  auto at = std::upper_bound(pool_.begin(), pool_.end(), score,
                             [](uint64_t s, const Candidate& c) { return s < c.score; });
  pool_.insert(at, Candidate{score, db, std::string(r->key())});
  if (pool_.size() > kPoolSize) pool_.erase(pool_.begin());
}

bool Evictor::TakeBest(Candidate* out) {
  if (pool_.empty()) return false;
  *out = std::move(pool_.back());
  pool_.pop_back();
  return true;
}

bool Evictor::TakeWindowOverflow(Candidate* out) {
  if (window_.size() <= window_cap_) return false;
  *out = std::move(window_.front());
  window_.pop_front();
  return true;
}

void Evictor::SetKeyCount(size_t keys) {
  if (policy_ != EvictionPolicy::kAllKeysTinyLfu) return;
  // The window holds about 1% of the keys (W-TinyLFU's default), at least one.
  window_cap_ = std::max<size_t>(1, keys / 100);
  // Regrown (and so forgotten) only while the keys outgrow it, which stops once the cache is
  // full.
  if (4 * keys > sketch_.width() && sketch_.width() < (size_t{1} << 28)) sketch_.Resize(keys);
}

}  // namespace omnibus
