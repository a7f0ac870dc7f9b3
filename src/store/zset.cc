// The zset type's storage: a listpack of (member, raw double) pairs while small; a skiplist
// with spans whose nodes are also chained in a member hash table when large (zset.h).
#include "omnibus/store/zset.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "absl/hash/hash.h"
#include "omnibus/store/listpack.h"
#include "omnibus/store/memory.h"
#include "omnibus/store/object.h"
#include "omnibus/store/table.h"

namespace omnibus {
namespace {

constexpr int kMaxLevel = 32;

// Redis's sdscmplex order: bytes, then length.
int CompareMember(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  int c = n == 0 ? 0 : memcmp(a.data(), b.data(), n);
  if (c != 0) return c;
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

// (score, member) order.
bool Less(double s1, std::string_view m1, double s2, std::string_view m2) {
  return s1 < s2 || (s1 == s2 && CompareMember(m1, m2) < 0);
}

// ---- Skiplist nodes ------------------------------------------------------------------------
//
// One allocation: the header below, then `level` forward pointers, `level` 32-bit spans and the
// member bytes. A 13-byte member on one level is 57 bytes.
struct ZNode {
  double score;
  ZNode* backward;
  ZNode* hnext;  // next node in the same member-table bucket
  uint32_t len;
  uint8_t level;

  ZNode** fwd() { return reinterpret_cast<ZNode**>(reinterpret_cast<char*>(this) + kHead); }
  uint32_t* span() { return reinterpret_cast<uint32_t*>(fwd() + level); }
  const char* member_data() { return reinterpret_cast<const char*>(span() + level); }
  std::string_view member() { return {member_data(), len}; }

  static constexpr size_t kHead = 32;
};
static_assert(sizeof(ZNode) <= ZNode::kHead);

ZNode* NewNode(int level, double score, std::string_view member) {
  size_t bytes = ZNode::kHead + static_cast<size_t>(level) * (sizeof(ZNode*) + sizeof(uint32_t)) +
                 member.size();
  auto* n = static_cast<ZNode*>(StoreAlloc(bytes));
  n->score = score;
  n->backward = nullptr;
  n->hnext = nullptr;
  n->len = static_cast<uint32_t>(member.size());
  n->level = static_cast<uint8_t>(level);
  for (int i = 0; i < level; ++i) {
    n->fwd()[i] = nullptr;
    n->span()[i] = 0;
  }
  if (!member.empty()) memcpy(const_cast<char*>(n->member_data()), member.data(), member.size());
  return n;
}

uint64_t NextRandom() {
  thread_local uint64_t state = 0x9E3779B97F4A7C15ULL ^ reinterpret_cast<uintptr_t>(&state);
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

// Redis's zslRandomLevel: p = 1/4.
int RandomLevel() {
  int level = 1;
  uint64_t r = NextRandom();
  while (level < kMaxLevel && (r & 3) == 0) {
    ++level;
    r >>= 2;
    if (r == 0) r = NextRandom();
  }
  return level;
}

size_t HashMember(std::string_view m) { return absl::Hash<std::string_view>{}(m); }

struct ZSkiplist {
  ZNode* header = nullptr;
  ZNode* tail = nullptr;
  size_t length = 0;
  int level = 1;
  // The member table: chained through ZNode::hnext, power-of-two bucket counts. A resize is
  // incremental, as in Redis: while `buckets1` exists, members move from `buckets` to it a
  // bucket per write, lookups search both, and new members go to `buckets1`.
  ZNode** buckets = nullptr;
  size_t nbuckets = 0;
  ZNode** buckets1 = nullptr;
  size_t nbuckets1 = 0;
  size_t rehash_idx = 0;

  ZSkiplist() {
    header = NewNode(kMaxLevel, 0, {});
    nbuckets = 4;
    buckets = NewBuckets(nbuckets);
  }
  ~ZSkiplist() {
    ZNode* x = header->fwd()[0];
    while (x != nullptr) {
      ZNode* next = x->fwd()[0];
      StoreFree(x);
      x = next;
    }
    StoreFree(header);
    StoreFree(buckets);
    if (buckets1 != nullptr) StoreFree(buckets1);
  }

  // ---- Member table -------------------------------------------------------------------
  static ZNode** NewBuckets(size_t n) {
    auto* b = static_cast<ZNode**>(StoreAlloc(n * sizeof(ZNode*)));
    std::fill(b, b + n, nullptr);
    return b;
  }
  bool rehashing() const { return buckets1 != nullptr; }

  static ZNode* FindIn(ZNode* chain, std::string_view m) {
    for (ZNode* n = chain; n != nullptr; n = n->hnext) {
      if (n->len == m.size() && (m.empty() || memcmp(n->member_data(), m.data(), m.size()) == 0))
        return n;
    }
    return nullptr;
  }
  ZNode* Lookup(std::string_view m) const {
    size_t h = HashMember(m);
    ZNode* n = FindIn(buckets[h & (nbuckets - 1)], m);
    if (n == nullptr && rehashing()) n = FindIn(buckets1[h & (nbuckets1 - 1)], m);
    return n;
  }
  void HashInsert(ZNode* n) {
    // Up to two members per bucket on average: chains stay short, buckets cost 4-8 B each.
    if (!rehashing() && length + 1 > nbuckets * 2) StartRehash(nbuckets * 2);
    RehashStep();
    size_t h = HashMember(n->member());
    ZNode** b = rehashing() ? &buckets1[h & (nbuckets1 - 1)] : &buckets[h & (nbuckets - 1)];
    n->hnext = *b;
    *b = n;
  }
  static bool UnchainFrom(ZNode** p, ZNode* n) {
    while (*p != nullptr && *p != n) p = &(*p)->hnext;
    if (*p == nullptr) return false;
    *p = n->hnext;
    return true;
  }
  void HashRemove(ZNode* n) {
    size_t h = HashMember(n->member());
    if (!UnchainFrom(&buckets[h & (nbuckets - 1)], n)) {
      UnchainFrom(&buckets1[h & (nbuckets1 - 1)], n);
    }
    RehashStep();
  }
  void MaybeShrink() {
    if (rehashing()) return;
    size_t want = nbuckets;
    while (want > 4 && length < want / 8) want /= 2;
    if (want != nbuckets) StartRehash(want);
  }
  void StartRehash(size_t n) {
    buckets1 = NewBuckets(n);
    nbuckets1 = n;
    rehash_idx = 0;
  }
  // Moves one non-empty bucket (looking at up to 10 empty ones) to the new table.
  void RehashStep() {
    if (!rehashing()) return;
    int empty_visits = 10;
    while (rehash_idx < nbuckets && buckets[rehash_idx] == nullptr) {
      ++rehash_idx;
      if (--empty_visits == 0) break;
    }
    if (rehash_idx < nbuckets && buckets[rehash_idx] != nullptr) {
      ZNode* x = buckets[rehash_idx];
      buckets[rehash_idx++] = nullptr;
      while (x != nullptr) {
        ZNode* next = x->hnext;
        ZNode** b = &buckets1[HashMember(x->member()) & (nbuckets1 - 1)];
        x->hnext = *b;
        *b = x;
        x = next;
      }
    }
    if (rehash_idx >= nbuckets) {
      StoreFree(buckets);
      buckets = buckets1;
      nbuckets = nbuckets1;
      buckets1 = nullptr;
      nbuckets1 = 0;
      rehash_idx = 0;
    }
  }

  // ---- Ordered index (Redis's zsl* functions, with a given node) -----------------------
  // Links `x` (its level is fixed) at its (score, member) place.
  void Link(ZNode* x) {
    ZNode* update[kMaxLevel];
    uint64_t rank[kMaxLevel];
    ZNode* p = header;
    std::string_view m = x->member();
    for (int i = level - 1; i >= 0; --i) {
      rank[i] = i == level - 1 ? 0 : rank[i + 1];
      while (p->fwd()[i] != nullptr &&
             Less(p->fwd()[i]->score, p->fwd()[i]->member(), x->score, m)) {
        rank[i] += p->span()[i];
        p = p->fwd()[i];
      }
      update[i] = p;
    }
    int lvl = x->level;
    if (lvl > level) {
      for (int i = level; i < lvl; ++i) {
        rank[i] = 0;
        update[i] = header;
        header->span()[i] = static_cast<uint32_t>(length);
      }
      level = lvl;
    }
    for (int i = 0; i < lvl; ++i) {
      x->fwd()[i] = update[i]->fwd()[i];
      update[i]->fwd()[i] = x;
      x->span()[i] = static_cast<uint32_t>(update[i]->span()[i] - (rank[0] - rank[i]));
      update[i]->span()[i] = static_cast<uint32_t>(rank[0] - rank[i] + 1);
    }
    for (int i = lvl; i < level; ++i) update[i]->span()[i]++;
    x->backward = update[0] == header ? nullptr : update[0];
    if (x->fwd()[0] != nullptr) {
      x->fwd()[0]->backward = x;
    } else {
      tail = x;
    }
    ++length;
  }

  // Unlinks `x` from the ordered index (it stays allocated and hashed).
  void Unlink(ZNode* x) {
    ZNode* update[kMaxLevel];
    ZNode* p = header;
    std::string_view m = x->member();
    for (int i = level - 1; i >= 0; --i) {
      while (p->fwd()[i] != nullptr && p->fwd()[i] != x &&
             Less(p->fwd()[i]->score, p->fwd()[i]->member(), x->score, m)) {
        p = p->fwd()[i];
      }
      update[i] = p;
    }
    UnlinkWith(x, update);
  }
  void UnlinkWith(ZNode* x, ZNode** update) {
    for (int i = 0; i < level; ++i) {
      if (update[i]->fwd()[i] == x) {
        update[i]->span()[i] += x->span()[i] - 1;
        update[i]->fwd()[i] = x->fwd()[i];
      } else {
        update[i]->span()[i] -= 1;
      }
    }
    if (x->fwd()[0] != nullptr) {
      x->fwd()[0]->backward = x->backward;
    } else {
      tail = x->backward;
    }
    while (level > 1 && header->fwd()[level - 1] == nullptr) --level;
    --length;
  }

  void Insert(double score, std::string_view m) {
    ZNode* x = NewNode(RandomLevel(), score, m);
    HashInsert(x);
    Link(x);
  }
  void Erase(ZNode* x) {
    Unlink(x);
    HashRemove(x);
    StoreFree(x);
    MaybeShrink();
  }
  void UpdateScore(ZNode* x, double score) {
    // Stays in place when its neighbours still bracket it (Redis's zslUpdateScore shortcut).
    ZNode* prev = x->backward;
    ZNode* next = x->fwd()[0];
    if ((prev == nullptr || Less(prev->score, prev->member(), score, x->member())) &&
        (next == nullptr || Less(score, x->member(), next->score, next->member()))) {
      x->score = score;
      return;
    }
    Unlink(x);
    x->score = score;
    Link(x);
  }

  // 1-based rank of x.
  uint64_t RankOf(ZNode* x) {
    uint64_t traversed = 0;
    ZNode* p = header;
    std::string_view m = x->member();
    for (int i = level - 1; i >= 0; --i) {
      while (p->fwd()[i] != nullptr &&
             (p->fwd()[i] == x || Less(p->fwd()[i]->score, p->fwd()[i]->member(), x->score, m))) {
        traversed += p->span()[i];
        p = p->fwd()[i];
      }
      if (p == x) return traversed;
    }
    return 0;
  }
  // Node at 1-based rank.
  ZNode* ByRank(uint64_t rank) {
    uint64_t traversed = 0;
    ZNode* p = header;
    for (int i = level - 1; i >= 0; --i) {
      while (p->fwd()[i] != nullptr && traversed + p->span()[i] <= rank) {
        traversed += p->span()[i];
        p = p->fwd()[i];
      }
      if (traversed == rank) return p;
    }
    return nullptr;
  }
  template <typename Pred>
  size_t CountWhile(Pred pred) {
    uint64_t traversed = 0;
    ZNode* p = header;
    for (int i = level - 1; i >= 0; --i) {
      while (p->fwd()[i] != nullptr && pred(p->fwd()[i])) {
        traversed += p->span()[i];
        p = p->fwd()[i];
      }
    }
    return traversed;
  }
  // Removes 1-based ranks start..end.
  size_t EraseRanks(uint64_t start, uint64_t end) {
    ZNode* update[kMaxLevel];
    uint64_t traversed = 0;
    ZNode* p = header;
    for (int i = level - 1; i >= 0; --i) {
      while (p->fwd()[i] != nullptr && traversed + p->span()[i] < start) {
        traversed += p->span()[i];
        p = p->fwd()[i];
      }
      update[i] = p;
    }
    ++traversed;
    p = p->fwd()[0];
    size_t removed = 0;
    while (p != nullptr && traversed <= end) {
      ZNode* next = p->fwd()[0];
      UnlinkWith(p, update);
      HashRemove(p);
      StoreFree(p);
      ++removed;
      ++traversed;
      p = next;
    }
    MaybeShrink();
    return removed;
  }
};

ZSkiplist* Skiplist(const ObjectRef& obj) { return static_cast<ZSkiplist*>(obj.ptr); }
Listpack Lp(const ObjectRef& obj) { return Listpack(obj.ptr); }

double LpScore(const Listpack& lp, Listpack::Pos pos) {
  std::string_view s = lp.At(pos);
  double d = 0;
  if (s.size() == sizeof(d)) memcpy(&d, s.data(), sizeof(d));
  return d;
}
// The listpack form keeps -0 as 0, as Redis's listpack does (it stores "-0" as the integer 0).
double LpNormalize(double d) { return d == 0 ? 0.0 : d; }

std::string_view ScoreBytes(const double& d) {
  return {reinterpret_cast<const char*>(&d), sizeof(d)};
}

// Listpack: position of `member`, or End().
Listpack::Pos LpFind(const Listpack& lp, std::string_view member) { return lp.Find(member, 2); }

// Listpack: inserts a new pair at its ordered place.
void LpInsert(Listpack& lp, std::string_view member, double score) {
  score = LpNormalize(score);
  Listpack::Pos pos = lp.Begin();
  while (pos != lp.End()) {
    Listpack::Pos spos = lp.Next(pos);
    if (Less(score, member, LpScore(lp, spos), lp.At(pos))) break;
    pos = lp.Next(spos);
  }
  pos = lp.Insert(pos, member);
  lp.Insert(lp.Next(pos), ScoreBytes(score));
}

}  // namespace

// ---- object.h hooks ---------------------------------------------------------------------

ObjectRef NewZSet() {
  return ObjectRef{ValueType::kZSet, Encoding::kListpack, Listpack::Create().data()};
}

void FreeZSet(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return Lp(obj).Free();
  StoreDelete(Skiplist(obj));
}

size_t ZSetLength(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) return Lp(obj).size() / 2;
  return Skiplist(obj)->length;
}

ObjectRef CopyZSet(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) {
    return ObjectRef{obj.type, obj.enc, Lp(obj).Copy().data()};
  }
  auto* dst = StoreNew<ZSkiplist>();
  // Appending in order: every node links at the tail.
  for (ZNode* x = Skiplist(obj)->header->fwd()[0]; x != nullptr; x = x->fwd()[0]) {
    dst->Insert(x->score, x->member());
  }
  return ObjectRef{obj.type, obj.enc, dst};
}

size_t ZSetSkiplistMemoryUsage(const ObjectRef& obj, size_t samples) {
  const ZSkiplist* zsl = Skiplist(obj);
  size_t bytes = StoreBlockSize(zsl) + StoreBlockSize(zsl->header) + StoreBlockSize(zsl->buckets) +
                 StoreBlockSize(zsl->buckets1);
  if (zsl->length == 0) return bytes;
  bool all = samples == 0 || samples >= zsl->length;
  size_t seen = 0, sampled = 0;
  for (ZNode* x = zsl->header->fwd()[0]; x != nullptr && (all || seen < samples); x = x->fwd()[0]) {
    sampled += StoreBlockSize(x);
    ++seen;
  }
  if (all) return bytes + sampled;
  return bytes + static_cast<size_t>(static_cast<double>(sampled) / static_cast<double>(seen) *
                                     static_cast<double>(zsl->length));
}

// ---- Reads ------------------------------------------------------------------------------

bool ZSetScore(const ObjectRef& obj, std::string_view member, double* score) {
  if (obj.enc == Encoding::kListpack) {
    Listpack lp = Lp(obj);
    Listpack::Pos pos = LpFind(lp, member);
    if (pos == lp.End()) return false;
    *score = LpScore(lp, lp.Next(pos));
    return true;
  }
  ZNode* n = Skiplist(obj)->Lookup(member);
  if (n == nullptr) return false;
  *score = n->score;
  return true;
}

int64_t ZSetRank(const ObjectRef& obj, std::string_view member) {
  if (obj.enc == Encoding::kListpack) {
    Listpack lp = Lp(obj);
    int64_t rank = 0;
    for (Listpack::Pos pos = lp.Begin(); pos != lp.End(); pos = lp.Next(lp.Next(pos)), ++rank) {
      if (lp.At(pos) == member) return rank;
    }
    return -1;
  }
  ZSkiplist* zsl = Skiplist(obj);
  ZNode* n = zsl->Lookup(member);
  if (n == nullptr) return -1;
  return static_cast<int64_t>(zsl->RankOf(n)) - 1;
}

size_t ZSetCountScoreBelow(const ObjectRef& obj, double x, bool inclusive) {
  auto below = [&](double s) { return s < x || (inclusive && s == x); };
  if (obj.enc == Encoding::kListpack) {
    Listpack lp = Lp(obj);
    size_t n = 0;
    for (Listpack::Pos pos = lp.Begin(); pos != lp.End(); pos = lp.Next(lp.Next(pos))) {
      if (!below(LpScore(lp, lp.Next(pos)))) break;
      ++n;
    }
    return n;
  }
  return Skiplist(obj)->CountWhile([&](ZNode* n) { return below(n->score); });
}

size_t ZSetCountLexBelow(const ObjectRef& obj, std::string_view x, bool inclusive) {
  auto below = [&](std::string_view m) {
    int c = CompareMember(m, x);
    return c < 0 || (inclusive && c == 0);
  };
  if (obj.enc == Encoding::kListpack) {
    Listpack lp = Lp(obj);
    size_t n = 0;
    for (Listpack::Pos pos = lp.Begin(); pos != lp.End(); pos = lp.Next(lp.Next(pos))) {
      if (!below(lp.At(pos))) break;
      ++n;
    }
    return n;
  }
  return Skiplist(obj)->CountWhile([&](ZNode* n) { return below(n->member()); });
}

void ZSetRangeByRank(const ObjectRef& obj, size_t start, size_t end, bool reverse,
                     const std::function<bool(std::string_view, double)>& fn) {
  if (start > end) return;
  size_t count = end - start + 1;
  if (obj.enc == Encoding::kListpack) {
    Listpack lp = Lp(obj);
    Listpack::Pos pos = lp.Seek(static_cast<int64_t>(2 * (reverse ? end : start)));
    for (size_t i = 0; i < count; ++i) {
      Listpack::Pos spos = lp.Next(pos);
      if (!fn(lp.At(pos), LpScore(lp, spos))) return;
      if (i + 1 == count) break;
      pos = reverse ? lp.Prev(lp.Prev(pos)) : lp.Next(spos);
    }
    return;
  }
  ZSkiplist* zsl = Skiplist(obj);
  ZNode* x = zsl->ByRank((reverse ? end : start) + 1);
  for (size_t i = 0; i < count && x != nullptr; ++i) {
    if (!fn(x->member(), x->score)) return;
    x = reverse ? x->backward : x->fwd()[0];
  }
}

void ZSetForEach(const ObjectRef& obj, const std::function<void(std::string_view, double)>& fn) {
  size_t n = ZSetLength(obj);
  if (n == 0) return;
  ZSetRangeByRank(obj, 0, n - 1, false, [&](std::string_view m, double s) {
    fn(m, s);
    return true;
  });
}

// ---- Writes -----------------------------------------------------------------------------

void ZSetConvertToSkiplist(ObjectRef* obj) {
  if (obj->enc != Encoding::kListpack) return;
  Listpack lp = Lp(*obj);
  auto* zsl = StoreNew<ZSkiplist>();
  for (Listpack::Pos pos = lp.Begin(); pos != lp.End(); pos = lp.Next(lp.Next(pos))) {
    zsl->Insert(LpScore(lp, lp.Next(pos)), lp.At(pos));
  }
  lp.Free();
  *obj = ObjectRef{ValueType::kZSet, Encoding::kSkiplist, zsl};
}

int ZSetAdd(ObjectRef* obj, std::string_view member, double score, int in_flags, double* new_score,
            size_t max_entries, size_t max_value) {
  bool incr = in_flags & kZAddIncr, nx = in_flags & kZAddNx, xx = in_flags & kZAddXx;
  bool gt = in_flags & kZAddGt, lt = in_flags & kZAddLt;
  if (std::isnan(score)) return kZAddNaN;

  double cur;
  bool found = ZSetScore(*obj, member, &cur);
  if (found) {
    if (nx) return kZAddNop;
    if (incr) {
      score += cur;
      if (std::isnan(score)) return kZAddNaN;
    }
    if ((lt && score >= cur) || (gt && score <= cur)) return kZAddNop;
    if (new_score != nullptr) *new_score = score;
    if (score == cur) return 0;
    if (obj->enc == Encoding::kListpack) {
      Listpack lp = Lp(*obj);
      Listpack::Pos pos = LpFind(lp, member);
      lp.Erase(pos, 2);
      LpInsert(lp, member, score);
      obj->ptr = lp.data();
    } else {
      ZSkiplist* zsl = Skiplist(*obj);
      zsl->UpdateScore(zsl->Lookup(member), score);
    }
    return kZAddUpdated;
  }
  if (xx) return kZAddNop;
  if (obj->enc == Encoding::kListpack &&
      (ZSetLength(*obj) + 1 > max_entries || member.size() > max_value)) {
    ZSetConvertToSkiplist(obj);
  }
  if (obj->enc == Encoding::kListpack) {
    Listpack lp = Lp(*obj);
    LpInsert(lp, member, score);
    obj->ptr = lp.data();
  } else {
    Skiplist(*obj)->Insert(score, member);
  }
  if (new_score != nullptr) *new_score = score;
  return kZAddAdded;
}

bool ZSetRemove(ObjectRef* obj, std::string_view member) {
  if (obj->enc == Encoding::kListpack) {
    Listpack lp = Lp(*obj);
    Listpack::Pos pos = LpFind(lp, member);
    if (pos == lp.End()) return false;
    lp.Erase(pos, 2);
    obj->ptr = lp.data();
    return true;
  }
  ZSkiplist* zsl = Skiplist(*obj);
  ZNode* n = zsl->Lookup(member);
  if (n == nullptr) return false;
  zsl->Erase(n);
  return true;
}

size_t ZSetRemoveRankRange(ObjectRef* obj, size_t start, size_t end) {
  if (start > end) return 0;
  if (obj->enc == Encoding::kListpack) {
    Listpack lp = Lp(*obj);
    lp.Erase(lp.Seek(static_cast<int64_t>(2 * start)), 2 * (end - start + 1));
    obj->ptr = lp.data();
    return end - start + 1;
  }
  return Skiplist(*obj)->EraseRanks(start + 1, end + 1);
}

ObjectRef ZSetBuild(std::vector<ZEntry> entries, size_t max_entries, size_t max_value) {
  size_t maxlen = 0;
  for (const auto& e : entries) maxlen = std::max(maxlen, e.first.size());
  std::sort(entries.begin(), entries.end(), [](const ZEntry& a, const ZEntry& b) {
    return Less(a.second, a.first, b.second, b.first);
  });
  if (entries.size() <= max_entries && maxlen <= max_value) {
    Listpack lp = Listpack::Create();
    for (const auto& e : entries) {
      double score = LpNormalize(e.second);
      lp.Append(e.first);
      lp.Append(ScoreBytes(score));
    }
    return ObjectRef{ValueType::kZSet, Encoding::kListpack, lp.data()};
  }
  auto* zsl = StoreNew<ZSkiplist>();
  for (const auto& e : entries) zsl->Insert(e.second, e.first);
  return ObjectRef{ValueType::kZSet, Encoding::kSkiplist, zsl};
}

uint64_t ZSetScan(const ObjectRef& obj, uint64_t cursor, size_t count,
                  const std::function<void(std::string_view, double)>& fn) {
  if (obj.enc == Encoding::kListpack) {
    ZSetForEach(obj, fn);
    return 0;
  }
  ZSkiplist* zsl = Skiplist(obj);
  size_t max_iterations = count * 10;
  if (max_iterations / 10 != count) max_iterations = SIZE_MAX;
  size_t visited = 0;
  auto emit = [&](ZNode* n) {
    for (; n != nullptr; n = n->hnext) {
      fn(n->member(), n->score);
      ++visited;
    }
  };
  // Reverse-binary increment over the bits of `mask` (Redis's dictScan).
  auto next = [](uint64_t v, uint64_t mask) {
    v |= ~mask;
    v = ReverseBits64(v);
    ++v;
    return ReverseBits64(v);
  };
  do {
    if (!zsl->rehashing()) {
      uint64_t m0 = zsl->nbuckets - 1;
      emit(zsl->buckets[cursor & m0]);
      cursor = next(cursor, m0);
    } else {
      // Both tables: the small one's bucket, then every bucket of the large one that expands
      // it, so a member is found whichever table holds it.
      ZNode** t0 = zsl->buckets;
      ZNode** t1 = zsl->buckets1;
      uint64_t m0 = zsl->nbuckets - 1, m1 = zsl->nbuckets1 - 1;
      if (m0 > m1) {
        std::swap(t0, t1);
        std::swap(m0, m1);
      }
      emit(t0[cursor & m0]);
      do {
        emit(t1[cursor & m1]);
        cursor = next(cursor, m1);
      } while (cursor & (m0 ^ m1));
    }
  } while (cursor != 0 && max_iterations-- > 0 && visited < count);
  return cursor;
}

std::string ZScoreToString(double v) {
  char buf[64];
  int n;
  if (std::isnan(v)) {
    n = snprintf(buf, sizeof(buf), "nan");
  } else if (std::isinf(v)) {
    n = snprintf(buf, sizeof(buf), v < 0 ? "-inf" : "inf");
  } else if (v == 0) {
    n = snprintf(buf, sizeof(buf), std::signbit(v) ? "-0" : "0");
  } else if (v > -4503599627370495.0 && v < 4503599627370496.0 &&
             v == static_cast<double>(static_cast<long long>(v))) {
    n = snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v));
  } else {
    n = snprintf(buf, sizeof(buf), "%.17g", v);
  }
  return std::string(buf, static_cast<size_t>(n));
}

bool ZSetTEST_Rehashing(const ObjectRef& obj) {
  return obj.enc == Encoding::kSkiplist && Skiplist(obj)->rehashing();
}

bool ZSetTEST_Verify(const ObjectRef& obj) {
  if (obj.enc == Encoding::kListpack) {
    Listpack lp = Lp(obj);
    if (lp.size() % 2 != 0) return false;
    bool first = true;
    double ps = 0;
    std::string pm;
    for (Listpack::Pos pos = lp.Begin(); pos != lp.End(); pos = lp.Next(lp.Next(pos))) {
      double s = LpScore(lp, lp.Next(pos));
      if (!first && !Less(ps, pm, s, lp.At(pos))) return false;
      first = false;
      ps = s;
      pm = std::string(lp.At(pos));
    }
    return true;
  }
  ZSkiplist* zsl = Skiplist(obj);
  // Level 0 order, backward links, member table, and every level's spans.
  size_t n = 0;
  ZNode* prev = nullptr;
  for (ZNode* x = zsl->header->fwd()[0]; x != nullptr; x = x->fwd()[0]) {
    if (x->backward != prev) return false;
    if (prev != nullptr && !Less(prev->score, prev->member(), x->score, x->member())) return false;
    if (zsl->Lookup(x->member()) != x) return false;
    prev = x;
    ++n;
  }
  if (n != zsl->length || zsl->tail != prev) return false;
  size_t hashed = 0;
  for (size_t i = 0; i < zsl->nbuckets; ++i) {
    for (ZNode* x = zsl->buckets[i]; x != nullptr; x = x->hnext) ++hashed;
  }
  for (size_t i = 0; i < zsl->nbuckets1; ++i) {
    for (ZNode* x = zsl->buckets1[i]; x != nullptr; x = x->hnext) ++hashed;
  }
  if (hashed != n) return false;
  for (int i = 0; i < zsl->level; ++i) {
    uint64_t rank = 0;
    ZNode* x = zsl->header;
    while (x->fwd()[i] != nullptr) {
      rank += x->span()[i];
      x = x->fwd()[i];
      if (zsl->RankOf(x) != rank) return false;
    }
  }
  return true;
}

}  // namespace omnibus
