#include "omnibus/store/table.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "absl/hash/hash.h"
#include "omnibus/store/memory.h"

namespace omnibus {

namespace {

constexpr size_t kInitialBuckets = 4;

Record** AllocBuckets(size_t n) {
  void* mem = StoreAlloc(n * sizeof(Record*));
  memset(mem, 0, n * sizeof(Record*));
  return static_cast<Record**>(mem);
}

}  // namespace

uint64_t HashKey(std::string_view key) { return absl::Hash<std::string_view>{}(key); }

Table::~Table() { Clear(); }

void Table::Swap(Table& o) {
  for (int t = 0; t < 2; ++t) {
    std::swap(buckets_[t], o.buckets_[t]);
    std::swap(size_[t], o.size_[t]);
    std::swap(used_[t], o.used_[t]);
  }
  std::swap(rehash_idx_, o.rehash_idx_);
}

void Table::Clear() {
  for (int t = 0; t < 2; ++t) {
    for (size_t i = 0; i < size_[t]; ++i) {
      Record* r = buckets_[t][i];
      while (r != nullptr) {
        Record* next = r->next;
        FreeRecord(r);
        r = next;
      }
    }
    StoreFree(buckets_[t]);
    buckets_[t] = nullptr;
    size_[t] = used_[t] = 0;
  }
  rehash_idx_ = -1;
}

void Table::Expand(size_t buckets) {
  if (buckets_[0] == nullptr) {
    buckets_[0] = AllocBuckets(buckets);
    size_[0] = buckets;
    return;
  }
  buckets_[1] = AllocBuckets(buckets);
  size_[1] = buckets;
  used_[1] = 0;
  rehash_idx_ = 0;
}

bool Table::RehashStep(int n) {
  if (!rehashing()) return false;
  int empty_visits = n * 10;  // like Redis: bound the work even over long empty runs
  while (n-- > 0 && used_[0] != 0) {
    while (buckets_[0][rehash_idx_] == nullptr) {
      ++rehash_idx_;
      if (--empty_visits == 0 || static_cast<size_t>(rehash_idx_) >= size_[0]) return true;
    }
    Record* r = buckets_[0][rehash_idx_];
    while (r != nullptr) {
      Record* next = r->next;
      size_t idx = HashKey(r->key()) & (size_[1] - 1);
      r->next = buckets_[1][idx];
      buckets_[1][idx] = r;
      --used_[0];
      ++used_[1];
      r = next;
    }
    buckets_[0][rehash_idx_] = nullptr;
    ++rehash_idx_;
  }
  if (used_[0] == 0) {
    StoreFree(buckets_[0]);
    buckets_[0] = buckets_[1];
    size_[0] = size_[1];
    used_[0] = used_[1];
    buckets_[1] = nullptr;
    size_[1] = used_[1] = 0;
    rehash_idx_ = -1;
    return false;
  }
  return true;
}

void Table::RehashIfNeeded() {
  if (rehashing()) {
    RehashStep(1);
    return;
  }
  if (size_[0] == 0) {
    Expand(kInitialBuckets);
  } else if (used_[0] >= size_[0]) {
    const bool allowed = grow_gate_ == nullptr || used_[0] >= kForceGrowRatio * size_[0] ||
                         grow_gate_(grow_ctx_, size_[0] * 2 * sizeof(Record*));
    if (allowed) Expand(size_[0] * 2);
  }
}

void Table::MaybeShrink() {
  if (rehashing() || size_[0] <= kInitialBuckets) return;
  if (used_[0] * 8 >= size_[0]) return;
  size_t target = kInitialBuckets;
  while (target < used_[0]) target *= 2;
  if (target < size_[0]) Expand(target);
}

Record** Table::Find(std::string_view key) {
  if (size() == 0) return nullptr;
  if (rehashing()) RehashStep(1);
  uint64_t h = HashKey(key);
  for (int t = 0; t < 2; ++t) {
    if (size_[t] == 0) break;
    Record** link = &buckets_[t][h & (size_[t] - 1)];
    while (*link != nullptr) {
      if ((*link)->key() == key) return link;
      link = &(*link)->next;
    }
    if (!rehashing()) break;
  }
  return nullptr;
}

Record** Table::Insert(Record* r) {
  RehashIfNeeded();
  int t = rehashing() ? 1 : 0;
  Record** link = &buckets_[t][HashKey(r->key()) & (size_[t] - 1)];
  r->next = *link;
  *link = r;
  ++used_[t];
  return link;
}

Record* Table::Unlink(Record** link) {
  Record* r = *link;
  // Which array holds it matters for the counts. During a rehash, array 0 still holds the
  // buckets at or after rehash_idx_, but new records always go to array 1, so look for the
  // record itself in its array-0 chain rather than guessing from its bucket index.
  int t = 0;
  if (rehashing()) {
    t = 1;
    size_t idx0 = HashKey(r->key()) & (size_[0] - 1);
    if (static_cast<int64_t>(idx0) >= rehash_idx_) {
      for (Record* p = buckets_[0][idx0]; p != nullptr; p = p->next) {
        if (p == r) {
          t = 0;
          break;
        }
      }
    }
  }
  *link = r->next;
  r->next = nullptr;
  --used_[t];
  return r;
}

uint64_t Table::Scan(uint64_t v, const std::function<void(Record*)>& fn) {
  if (size() == 0) return 0;
  auto emit = [&](Record* r) {
    while (r != nullptr) {
      Record* next = r->next;
      fn(r);
      r = next;
    }
  };
  if (!rehashing()) {
    uint64_t m0 = size_[0] - 1;
    emit(buckets_[0][v & m0]);
    v |= ~m0;
    v = ReverseBits64(v);
    ++v;
    return ReverseBits64(v);
  }
  int small = size_[0] <= size_[1] ? 0 : 1;
  int large = 1 - small;
  uint64_t m0 = size_[small] - 1;
  uint64_t m1 = size_[large] - 1;
  emit(buckets_[small][v & m0]);
  do {
    emit(buckets_[large][v & m1]);
    v |= ~m1;
    v = ReverseBits64(v);
    ++v;
    v = ReverseBits64(v);
  } while (v & (m0 ^ m1));
  return v;
}

size_t Table::SampleSome(uint64_t random, size_t n, Record** out, bool ttl_only) {
  if (size() == 0 || n == 0) return 0;
  const size_t total = size_[0] + size_[1];
  size_t i = random % total;
  // First the chain heads of the buckets in order, each prefetched as it is found, so the
  // records' cache misses overlap instead of following one another; then the chains.
  constexpr size_t kMaxHeads = 64;
  Record* heads[kMaxHeads];
  size_t num_heads = 0;
  const size_t want_heads = std::min(n, kMaxHeads);
  const size_t max_steps = std::max<size_t>(10 * n, 64);
  for (size_t step = 0; step < max_steps && num_heads < want_heads; ++step) {
    // Buckets below the rehash index have moved to the new array: skip them (a random start
    // there would otherwise walk empty buckets only).
    if (rehashing() && i < size_[0] && static_cast<int64_t>(i) < rehash_idx_) {
      i = static_cast<size_t>(rehash_idx_);
    }
    Record* head = i < size_[0] ? buckets_[0][i] : buckets_[1][i - size_[0]];
    if (head != nullptr) {
      __builtin_prefetch(head);
      heads[num_heads++] = head;
    }
    i = i + 1 == total ? 0 : i + 1;
  }
  size_t got = 0;
  for (size_t h = 0; h < num_heads && got < n; ++h) {
    for (Record* r = heads[h]; r != nullptr && got < n; r = r->next) {
      if (!ttl_only || r->has_expire()) out[got++] = r;
    }
  }
  return got;
}

Record* Table::Random(const std::function<uint64_t()>& rand) {
  if (size() == 0) return nullptr;
  Record* head = nullptr;
  // Pick a random non-empty bucket (the table is at least 1/8 full, so this is quick), then a
  // random record of its chain.
  while (head == nullptr) {
    uint64_t i = rand() % (size_[0] + size_[1]);
    if (i < size_[0]) {
      if (rehashing() && static_cast<int64_t>(i) < rehash_idx_) continue;
      head = buckets_[0][i];
    } else {
      head = buckets_[1][i - size_[0]];
    }
  }
  size_t len = 0;
  for (Record* r = head; r != nullptr; r = r->next) ++len;
  size_t pick = rand() % len;
  while (pick-- > 0) head = head->next;
  return head;
}

}  // namespace omnibus
