#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "omnibus/store/record.h"

namespace omnibus {

uint64_t HashKey(std::string_view key);
// The bits of `v` in reverse order: SCAN's reverse-binary cursor (Table, StringMap, zsets).
inline uint64_t ReverseBits64(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
  v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
  v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
  return __builtin_bswap64(v);
}

// A chained hash table of records with Redis-style incremental rehashing between two bucket
// arrays, so growth never stalls a shard for more than a few buckets at a time, and a
// reverse-binary SCAN cursor that returns every key present for the whole scan at least once,
// even across a resize. Owns its records.
// Runs on: the owning shard thread.
class Table {
 public:
  Table() = default;
  ~Table();
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // The link that points at the record with this key (so the caller can replace or unlink
  // it), or nullptr. Valid until the next call that may rehash (Find*, Insert, RehashStep).
  Record** Find(std::string_view key);
  // Inserts a record whose key is not present. Returns the link that now holds it.
  Record** Insert(Record* r);
  // Removes the record held by `link` from the table and returns it (caller frees).
  Record* Unlink(Record** link);

  size_t size() const { return used_[0] + used_[1]; }
  size_t bucket_count() const { return size_[0] + size_[1]; }
  bool rehashing() const { return rehash_idx_ >= 0; }

  // Moves up to `n` buckets to the new array. Returns true if rehashing is still going on.
  bool RehashStep(int n);
  // Shrinks the table if it is mostly empty (called after deletions).
  void MaybeShrink();

  // Visits the records at `cursor` and returns the next cursor (0 when done). The callback
  // may not modify the table.
  uint64_t Scan(uint64_t cursor, const std::function<void(Record*)>& fn);
  // A random record or nullptr if empty. `rand` returns uniformly random 64-bit values.
  Record* Random(const std::function<uint64_t()>& rand);
  // Up to `n` records into `out` from consecutive buckets after a random one (Redis's
  // dictGetSomeKeys: the bucket array is read in order, so n samples cost about n record
  // loads, not n random bucket and chain walks). `ttl_only`: only records with an expiry.
  // Looks at a bounded number of buckets; may return fewer.
  size_t SampleSome(uint64_t random, size_t n, Record** out, bool ttl_only);
  // Exchanges the contents of two tables (SWAPDB).
  void Swap(Table& o);
  // Removes every record.
  void Clear();

  // maxmemory (Redis's dictExpandAllowed): growing the bucket array asks `gate` whether
  // `bytes` more fit; refused, the table keeps its size until chains average
  // kForceGrowRatio records, so growth near the limit does not force mass eviction.
  using GrowGate = bool (*)(void* ctx, size_t bytes);
  void set_grow_gate(GrowGate gate, void* ctx) {
    grow_gate_ = gate;
    grow_ctx_ = ctx;
  }
  static constexpr size_t kForceGrowRatio = 5;  // Redis's dict_force_resize_ratio

  // Bytes used by bucket arrays (for INFO and memory reports).
  size_t bucket_bytes() const { return bucket_count() * sizeof(Record*); }

 private:
  void Expand(size_t buckets);
  void RehashIfNeeded();

  Record** buckets_[2] = {nullptr, nullptr};
  size_t size_[2] = {0, 0};  // bucket counts (powers of two)
  size_t used_[2] = {0, 0};
  int64_t rehash_idx_ = -1;
  GrowGate grow_gate_ = nullptr;
  void* grow_ctx_ = nullptr;
};

}  // namespace omnibus
