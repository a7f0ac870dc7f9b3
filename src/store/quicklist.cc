// The large list form: a chain of listpack nodes (see quicklist.h).
#include "omnibus/store/quicklist.h"

#include "omnibus/store/memory.h"

namespace omnibus {
namespace {

void* SingleEntryPack(std::string_view v) {
  ListNodePack lp = ListNodePack::Create();
  lp.Append(v);
  return lp.data();
}

}  // namespace

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
  ListNodePack l(lp);
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
    ListNodePack(n->lp).Free();
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
  ListNodePack(node->lp).Free();
  StoreDelete(node);
  --nodes_;
}

bool Quicklist::Fits(const QuicklistNode* a, const QuicklistNode* b,
                     const ListNodeLimit& limit) const {
  ListNodePack la = a->pack(), lb = b->pack();
  return !limit.Exceeds(la.bytes() + lb.bytes() - ListNodePack::kHeader,
                        size_t{la.size()} + lb.size());
}

QuicklistNode* Quicklist::Merge(QuicklistNode* a, QuicklistNode* b) {
  ListNodePack pa = a->pack();
  pa.Concat(b->pack());
  a->lp = pa.data();
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
    ListNodePack lp = head_->pack();
    if (!limit.Exceeds(lp.bytes() + ListNodePack::EntryBytes(v), size_t{lp.size()} + 1)) {
      lp.Prepend(v);
      head_->lp = lp.data();
      return;
    }
  }
  NewNode(SingleEntryPack(v), nullptr);
}

void Quicklist::PushBack(std::string_view v, const ListNodeLimit& limit) {
  ++count_;
  if (tail_ != nullptr) {
    ListNodePack lp = tail_->pack();
    if (!limit.Exceeds(lp.bytes() + ListNodePack::EntryBytes(v), size_t{lp.size()} + 1)) {
      lp.Append(v);
      tail_->lp = lp.data();
      return;
    }
  }
  NewNode(SingleEntryPack(v), tail_);
}

std::string_view Quicklist::Back(char* buf) const {
  ListNodePack lp = tail_->pack();
  return lp.Get(lp.Prev(lp.End()), buf);
}

void Quicklist::PopFront(const ListNodeLimit& limit) {
  ListNodePack lp = head_->pack();
  lp.Erase(lp.Begin());
  head_->lp = lp.data();
  --count_;
  if (lp.empty()) return Unlink(head_);
  if (head_->next != nullptr && Fits(head_, head_->next, limit)) Merge(head_, head_->next);
}

void Quicklist::PopBack(const ListNodeLimit& limit) {
  ListNodePack lp = tail_->pack();
  lp.Erase(lp.Prev(lp.End()));
  tail_->lp = lp.data();
  --count_;
  if (lp.empty()) return Unlink(tail_);
  if (tail_->prev != nullptr && Fits(tail_->prev, tail_, limit)) Merge(tail_->prev, tail_);
}

QuicklistNode* Quicklist::Locate(size_t index, ListNodePack::Pos* pos) const {
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
    ListNodePack lp = node->pack();
    uint32_t n = lp.size();
    if (n <= 1 || !limit.Exceeds(lp.bytes(), n)) return;
    // Split where either half of the bytes or half of the entries is reached, keeping at
    // least one entry on each side: both pieces shrink, so this ends.
    size_t payload = lp.bytes() - ListNodePack::kHeader;
    ListNodePack::Pos pos = lp.Next(lp.Begin());
    uint32_t before = 1;
    while (before + 1 < n && (pos - ListNodePack::kHeader) * 2 < payload && before * 2 < n) {
      pos = lp.Next(pos);
      ++before;
    }
    ListNodePack pack = node->pack();
    void* rest = pack.SplitAt(pos, before).data();
    node->lp = pack.data();
    QuicklistNode* second = NewNode(rest, node);
    SplitOversized(second, limit);
  }
}

void Quicklist::Rebalance(QuicklistNode* node, const ListNodeLimit& limit) {
  ListNodePack lp = node->pack();
  if (lp.empty()) return Unlink(node);
  if (lp.size() > 1 && limit.Exceeds(lp.bytes(), lp.size())) return SplitOversized(node, limit);
  if (node->prev != nullptr && Fits(node->prev, node, limit)) node = Merge(node->prev, node);
  if (node->next != nullptr && Fits(node, node->next, limit)) Merge(node, node->next);
}

void Quicklist::Insert(QuicklistNode* node, ListNodePack::Pos pos, std::string_view v,
                       const ListNodeLimit& limit) {
  ListNodePack lp = node->pack();
  size_t add = ListNodePack::EntryBytes(v);
  bool full = limit.Exceeds(lp.bytes() + add, size_t{lp.size()} + 1);
  if (full && (pos == lp.End() || pos == lp.Begin())) {
    // At a full node's edge: the neighbour on that side takes it if it has room (as Redis
    // does), else a new node does, so a full node is not split for an edge insertion.
    bool at_end = pos == lp.End();
    QuicklistNode* other = at_end ? node->next : node->prev;
    ++count_;
    if (other != nullptr) {
      ListNodePack o = other->pack();
      if (!limit.Exceeds(o.bytes() + add, size_t{o.size()} + 1)) {
        at_end ? o.Prepend(v) : o.Append(v);
        other->lp = o.data();
        return;
      }
    }
    NewNode(SingleEntryPack(v), at_end ? node : node->prev);
    return;
  }
  lp.Insert(pos, v);
  node->lp = lp.data();
  ++count_;
  if (full) SplitOversized(node, limit);
}

void Quicklist::Replace(QuicklistNode* node, ListNodePack::Pos pos, std::string_view v,
                        const ListNodeLimit& limit) {
  ListNodePack lp = node->pack();
  lp.Replace(pos, v);
  node->lp = lp.data();
  Rebalance(node, limit);
}

void Quicklist::EraseFront(size_t n, const ListNodeLimit& limit) {
  while (n > 0 && head_ != nullptr) {
    ListNodePack lp = head_->pack();
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
    ListNodePack lp = tail_->pack();
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
    ListNodePack lp = node->pack();
    bool touched = false;
    bool done = false;
    if (forward) {
      for (ListNodePack::Pos pos = lp.Find(v); pos < lp.End(); pos = lp.Find(v, pos)) {
        pos = lp.Erase(pos);
        --count_;
        touched = true;
        if (++removed == want) {
          done = true;
          break;
        }
      }
    } else {
      for (ListNodePack::Pos pos = lp.FindBack(v, lp.End()); pos < lp.End();
           pos = lp.FindBack(v, pos)) {
        lp.Erase(pos);
        --count_;
        touched = true;
        if (++removed == want) {
          done = true;
          break;
        }
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
