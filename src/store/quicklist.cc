// The large list form: a chain of listpack nodes (see quicklist.h).
#include "omnibus/store/quicklist.h"

#include <cstring>

#include "omnibus/store/memory.h"

namespace omnibus {
namespace {

// Listpack's documented layout (listpack.h): u32 total bytes | u32 count | entries. Moving a
// run of entries between two listpacks is a memcpy, so merges and splits are done here on the
// bytes rather than entry by entry through the public API (which reallocates per entry).
constexpr uint32_t kHeader = 8;

void Store32(uint8_t* p, uint32_t v) { memcpy(p, &v, 4); }

size_t VarintBytes(size_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Appends b's entries to a and frees b. Returns a's (possibly moved) buffer.
void* ConcatListpacks(void* a, void* b) {
  Listpack la(a), lb(b);
  size_t a_bytes = la.bytes();
  size_t b_entries = lb.bytes() - kHeader;
  uint32_t count = la.size() + lb.size();
  auto* p = static_cast<uint8_t*>(StoreRealloc(a, a_bytes + b_entries));
  memcpy(p + a_bytes, static_cast<uint8_t*>(b) + kHeader, b_entries);
  Store32(p, static_cast<uint32_t>(a_bytes + b_entries));
  Store32(p + 4, count);
  lb.Free();
  return p;
}

// Moves the entries of *lp from `at` on into a new listpack, which it returns; the first
// `before` entries stay in *lp (which may move).
void* SplitListpack(void** lp, Listpack::Pos at, uint32_t before) {
  Listpack l(*lp);
  auto* p = static_cast<uint8_t*>(*lp);
  size_t tail_bytes = l.bytes() - at;
  uint32_t tail_count = l.size() - before;
  auto* q = static_cast<uint8_t*>(StoreAlloc(kHeader + tail_bytes));
  memcpy(q + kHeader, p + at, tail_bytes);
  Store32(q, static_cast<uint32_t>(kHeader + tail_bytes));
  Store32(q + 4, tail_count);
  p = static_cast<uint8_t*>(StoreRealloc(p, at));
  Store32(p, at);
  Store32(p + 4, before);
  *lp = p;
  return q;
}

void* SingleEntryListpack(std::string_view v) {
  Listpack lp = Listpack::Create();
  lp.Append(v);
  return lp.data();
}

}  // namespace

size_t ListpackEntryBytes(size_t len) { return 2 * VarintBytes(len) + len; }

ListNodeLimit ListNodeLimit::FromFill(int64_t fill) {
  static constexpr size_t kLevels[] = {4096, 8192, 16384, 32768, 65536};
  ListNodeLimit l;
  if (fill >= 0) {
    l.bytes = 8192;  // Redis's SIZE_SAFETY_LIMIT for count-limited nodes
    l.count = fill == 0 ? 1 : static_cast<size_t>(fill);
  } else {
    size_t level = static_cast<size_t>(-(fill + 1));
    if (level > 4) level = 4;
    l.bytes = kLevels[level];
    l.count = SIZE_MAX;
  }
  return l;
}

ListNodeLimit ListNodeLimit::Half() const {
  // Redis halves both figures; a count-limited list ignores its size when shrinking.
  ListNodeLimit h;
  if (count != SIZE_MAX) {
    h.bytes = SIZE_MAX;
    h.count = count / 2;
  } else {
    h.bytes = bytes / 2;
    h.count = SIZE_MAX;
  }
  return h;
}

Quicklist* Quicklist::Create() { return StoreNew<Quicklist>(); }

Quicklist* Quicklist::FromListpack(void* lp) {
  Quicklist* ql = Create();
  Listpack l(lp);
  if (l.empty()) {
    l.Free();
  } else {
    ql->NewNode(lp, nullptr);
    ql->count_ = l.size();
  }
  return ql;
}

void Quicklist::Destroy(Quicklist* ql) {
  QuicklistNode* n = ql->head_;
  while (n != nullptr) {
    QuicklistNode* next = n->next;
    Listpack(n->lp).Free();
    StoreDelete(n);
    n = next;
  }
  StoreDelete(ql);
}

Quicklist* Quicklist::Copy() const {
  Quicklist* c = Create();
  for (QuicklistNode* n = head_; n != nullptr; n = n->next) {
    c->NewNode(n->pack().Copy().data(), c->tail_);
  }
  c->count_ = count_;
  return c;
}

void* Quicklist::ReleaseOnlyListpack() {
  void* lp = head_->lp;
  StoreDelete(head_);
  StoreDelete(this);
  return lp;
}

QuicklistNode* Quicklist::NewNode(void* lp, QuicklistNode* after) {
  QuicklistNode* n = StoreNew<QuicklistNode>(QuicklistNode{nullptr, nullptr, lp});
  if (after == nullptr) {
    n->next = head_;
    if (head_ != nullptr) head_->prev = n;
    head_ = n;
    if (tail_ == nullptr) tail_ = n;
  } else {
    n->prev = after;
    n->next = after->next;
    if (after->next != nullptr) {
      after->next->prev = n;
    } else {
      tail_ = n;
    }
    after->next = n;
  }
  ++nodes_;
  return n;
}

void Quicklist::Unlink(QuicklistNode* node) {
  if (node->prev != nullptr) {
    node->prev->next = node->next;
  } else {
    head_ = node->next;
  }
  if (node->next != nullptr) {
    node->next->prev = node->prev;
  } else {
    tail_ = node->prev;
  }
  count_ -= node->pack().size();
  Listpack(node->lp).Free();
  StoreDelete(node);
  --nodes_;
}

bool Quicklist::Fits(const QuicklistNode* a, const QuicklistNode* b,
                     const ListNodeLimit& limit) const {
  Listpack la = a->pack(), lb = b->pack();
  return !limit.Exceeds(la.bytes() + lb.bytes() - kHeader, size_t{la.size()} + lb.size());
}

QuicklistNode* Quicklist::Merge(QuicklistNode* a, QuicklistNode* b) {
  a->lp = ConcatListpacks(a->lp, b->lp);
  a->next = b->next;
  if (b->next != nullptr) {
    b->next->prev = a;
  } else {
    tail_ = a;
  }
  StoreDelete(b);  // its listpack was freed by the concatenation
  --nodes_;
  return a;
}

void Quicklist::PushFront(std::string_view v, const ListNodeLimit& limit) {
  ++count_;
  if (head_ != nullptr) {
    Listpack lp = head_->pack();
    if (!limit.Exceeds(lp.bytes() + ListpackEntryBytes(v.size()), size_t{lp.size()} + 1)) {
      lp.Prepend(v);
      head_->lp = lp.data();
      return;
    }
  }
  NewNode(SingleEntryListpack(v), nullptr);
}

void Quicklist::PushBack(std::string_view v, const ListNodeLimit& limit) {
  ++count_;
  if (tail_ != nullptr) {
    Listpack lp = tail_->pack();
    if (!limit.Exceeds(lp.bytes() + ListpackEntryBytes(v.size()), size_t{lp.size()} + 1)) {
      lp.Append(v);
      tail_->lp = lp.data();
      return;
    }
  }
  NewNode(SingleEntryListpack(v), tail_);
}

std::string_view Quicklist::Back() const {
  Listpack lp = tail_->pack();
  return lp.At(lp.Prev(lp.End()));
}

void Quicklist::PopFront(const ListNodeLimit& limit) {
  Listpack lp = head_->pack();
  lp.Erase(lp.Begin());
  head_->lp = lp.data();
  --count_;
  if (lp.empty()) return Unlink(head_);
  if (head_->next != nullptr && Fits(head_, head_->next, limit)) Merge(head_, head_->next);
}

void Quicklist::PopBack(const ListNodeLimit& limit) {
  Listpack lp = tail_->pack();
  lp.Erase(lp.Prev(lp.End()));
  tail_->lp = lp.data();
  --count_;
  if (lp.empty()) return Unlink(tail_);
  if (tail_->prev != nullptr && Fits(tail_->prev, tail_, limit)) Merge(tail_->prev, tail_);
}

QuicklistNode* Quicklist::Locate(size_t index, Listpack::Pos* pos) const {
  if (index < count_ / 2) {
    for (QuicklistNode* n = head_; n != nullptr; n = n->next) {
      size_t c = n->pack().size();
      if (index < c) {
        *pos = n->pack().Seek(static_cast<int64_t>(index));
        return n;
      }
      index -= c;
    }
  } else {
    size_t from_tail = count_ - 1 - index;  // 0 is the last element
    for (QuicklistNode* n = tail_; n != nullptr; n = n->prev) {
      size_t c = n->pack().size();
      if (from_tail < c) {
        *pos = n->pack().Seek(-static_cast<int64_t>(from_tail) - 1);
        return n;
      }
      from_tail -= c;
    }
  }
  return nullptr;
}

void Quicklist::SplitOversized(QuicklistNode* node, const ListNodeLimit& limit) {
  while (true) {
    Listpack lp = node->pack();
    uint32_t n = lp.size();
    if (n <= 1 || !limit.Exceeds(lp.bytes(), n)) return;
    // Split where either half of the bytes or half of the entries is reached, keeping at
    // least one entry on each side: both pieces shrink, so this ends.
    size_t payload = lp.bytes() - kHeader;
    Listpack::Pos pos = lp.Next(lp.Begin());
    uint32_t before = 1;
    while (before + 1 < n && (pos - kHeader) * 2 < payload && before * 2 < n) {
      pos = lp.Next(pos);
      ++before;
    }
    void* rest = SplitListpack(&node->lp, pos, before);
    QuicklistNode* second = NewNode(rest, node);
    SplitOversized(second, limit);
  }
}

void Quicklist::Rebalance(QuicklistNode* node, const ListNodeLimit& limit) {
  Listpack lp = node->pack();
  if (lp.empty()) return Unlink(node);
  if (lp.size() > 1 && limit.Exceeds(lp.bytes(), lp.size())) return SplitOversized(node, limit);
  if (node->prev != nullptr && Fits(node->prev, node, limit)) node = Merge(node->prev, node);
  if (node->next != nullptr && Fits(node, node->next, limit)) Merge(node, node->next);
}

void Quicklist::Insert(QuicklistNode* node, Listpack::Pos pos, std::string_view v,
                       const ListNodeLimit& limit) {
  Listpack lp = node->pack();
  size_t add = ListpackEntryBytes(v.size());
  bool full = limit.Exceeds(lp.bytes() + add, size_t{lp.size()} + 1);
  if (full && (pos == lp.End() || pos == lp.Begin())) {
    // At a full node's edge: the neighbour on that side takes it if it has room (as Redis
    // does), else a new node does, so a full node is not split for an edge insertion.
    bool at_end = pos == lp.End();
    QuicklistNode* other = at_end ? node->next : node->prev;
    ++count_;
    if (other != nullptr) {
      Listpack o = other->pack();
      if (!limit.Exceeds(o.bytes() + add, size_t{o.size()} + 1)) {
        at_end ? o.Prepend(v) : o.Append(v);
        other->lp = o.data();
        return;
      }
    }
    NewNode(SingleEntryListpack(v), at_end ? node : node->prev);
    return;
  }
  lp.Insert(pos, v);
  node->lp = lp.data();
  ++count_;
  if (full) SplitOversized(node, limit);
}

void Quicklist::Replace(QuicklistNode* node, Listpack::Pos pos, std::string_view v,
                        const ListNodeLimit& limit) {
  Listpack lp = node->pack();
  lp.Replace(pos, v);
  node->lp = lp.data();
  Rebalance(node, limit);
}

void Quicklist::EraseFront(size_t n, const ListNodeLimit& limit) {
  while (n > 0 && head_ != nullptr) {
    Listpack lp = head_->pack();
    if (lp.size() <= n) {
      n -= lp.size();
      Unlink(head_);
      continue;
    }
    lp.Erase(lp.Begin(), n);
    head_->lp = lp.data();
    count_ -= n;
    n = 0;
    Rebalance(head_, limit);
  }
}

void Quicklist::EraseBack(size_t n, const ListNodeLimit& limit) {
  while (n > 0 && tail_ != nullptr) {
    Listpack lp = tail_->pack();
    if (lp.size() <= n) {
      n -= lp.size();
      Unlink(tail_);
      continue;
    }
    lp.Erase(lp.Seek(-static_cast<int64_t>(n)), n);
    tail_->lp = lp.data();
    count_ -= n;
    n = 0;
    Rebalance(tail_, limit);
  }
}

size_t Quicklist::RemoveMatches(std::string_view v, int64_t count, const ListNodeLimit& limit) {
  const bool forward = count >= 0;
  // -INT64_MIN does not exist; no list is that long, so "all from the tail" is the same.
  const uint64_t want =
      count >= 0 ? static_cast<uint64_t>(count) : static_cast<uint64_t>(-(count + 1)) + 1;
  uint64_t removed = 0;
  QuicklistNode* node = forward ? head_ : tail_;
  while (node != nullptr) {
    QuicklistNode* following = forward ? node->next : node->prev;
    Listpack lp = node->pack();
    bool touched = false;
    bool done = false;
    if (forward) {
      Listpack::Pos pos = lp.Begin();
      while (pos < lp.End()) {
        if (lp.At(pos) != v) {
          pos = lp.Next(pos);
          continue;
        }
        pos = lp.Erase(pos);
        --count_;
        touched = true;
        if (++removed == want) {
          done = true;
          break;
        }
      }
    } else {
      Listpack::Pos pos = lp.End();
      while (pos > lp.Begin()) {
        Listpack::Pos p = lp.Prev(pos);
        if (lp.At(p) == v) {
          lp.Erase(p);
          --count_;
          touched = true;
          if (++removed == want) {
            done = true;
            break;
          }
        }
        pos = p;
      }
    }
    node->lp = lp.data();
    if (done) {
      if (touched) Rebalance(node, limit);
      break;
    }
    if (touched) {
      if (lp.empty()) {
        Unlink(node);
      } else if (forward && node->prev != nullptr && Fits(node->prev, node, limit)) {
        Merge(node->prev, node);  // `following` stays valid: only `node` goes
      } else if (!forward && node->next != nullptr && Fits(node, node->next, limit)) {
        Merge(node, node->next);
      }
    }
    node = following;
  }
  return static_cast<size_t>(removed);
}

}  // namespace omnibus
