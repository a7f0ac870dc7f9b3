// The list type's storage over its two encodings (see list.h): one listpack while small, a
// quicklist of listpack nodes when large.
#include "omnibus/store/list.h"

#include "omnibus/store/object.h"

namespace omnibus {
namespace {

Quicklist* QL(const ObjectRef& obj) { return static_cast<Quicklist*>(obj.ptr); }
bool IsSmall(const ObjectRef& obj) { return obj.enc == Encoding::kListpack; }

void ToQuicklist(ObjectRef* obj) {
  obj->ptr = Quicklist::FromListpack(obj->ptr);
  obj->enc = Encoding::kQuicklist;
}

// Before a listpack list gains `add_entries` entries of `add_bytes` in all (or an entry grows by
// that much): a list that would no longer fit becomes a quicklist whose first node is the
// listpack as it is.
void GrowConversion(ObjectRef* obj, size_t add_bytes, size_t add_entries,
                    const ListNodeLimit& limit) {
  if (!IsSmall(*obj)) return;
  ListNodePack lp(obj->ptr);
  if (limit.Exceeds(lp.bytes() + add_bytes, lp.size() + add_entries)) ToQuicklist(obj);
}

// After removals: a quicklist down to one node within half the limit becomes that listpack.
void ShrinkConversion(ObjectRef* obj, const ListNodeLimit& limit) {
  if (IsSmall(*obj)) return;
  Quicklist* ql = QL(*obj);
  if (ql->node_count() != 1) return;
  ListNodePack lp = ql->head()->pack();
  if (limit.Half().Exceeds(lp.bytes(), lp.size())) return;
  obj->ptr = ql->ReleaseOnlyListpack();
  obj->enc = Encoding::kListpack;
}

// Removes matches of `v` from one listpack (see ListRemove for `count`).
size_t RemoveFromListpack(ListNodePack* lp, std::string_view v, int64_t count) {
  const uint64_t want =
      count >= 0 ? static_cast<uint64_t>(count) : static_cast<uint64_t>(-(count + 1)) + 1;
  uint64_t removed = 0;
  if (count >= 0) {
    for (ListNodePack::Pos pos = lp->Find(v); pos < lp->End(); pos = lp->Find(v, pos)) {
      pos = lp->Erase(pos);
      if (++removed == want) break;
    }
  } else {
    for (ListNodePack::Pos pos = lp->FindBack(v, lp->End()); pos < lp->End();
         pos = lp->FindBack(v, pos)) {
      lp->Erase(pos);
      if (++removed == want) break;
    }
  }
  return static_cast<size_t>(removed);
}

}  // namespace

ObjectRef NewList() {
  return ObjectRef{ValueType::kList, Encoding::kListpack, ListNodePack::Create().data()};
}

void FreeList(const ObjectRef& obj) {
  if (IsSmall(obj)) return ListNodePack(obj.ptr).Free();
  Quicklist::Destroy(QL(obj));
}

size_t ListLength(const ObjectRef& obj) {
  if (IsSmall(obj)) return ListNodePack(obj.ptr).size();
  return QL(obj)->size();
}

ObjectRef CopyList(const ObjectRef& obj) {
  if (IsSmall(obj)) return ObjectRef{obj.type, obj.enc, ListNodePack(obj.ptr).Copy().data()};
  return ObjectRef{obj.type, obj.enc, QL(obj)->Copy()};
}

ListNodeLimit ListLimit(const ContainerLimits& limits) {
  return ListNodeLimit::FromFill(ContainerLimits::Get(limits.list_max_listpack_size));
}

void ListPush(ObjectRef* obj, ListEnd end, std::string_view v, const ListNodeLimit& limit) {
  GrowConversion(obj, ListNodePack::EntryBytes(v), 1, limit);
  if (IsSmall(*obj)) {
    ListNodePack lp(obj->ptr);
    if (end == ListEnd::kHead) {
      lp.Prepend(v);
    } else {
      lp.Append(v);
    }
    obj->ptr = lp.data();
    return;
  }
  if (end == ListEnd::kHead) {
    QL(*obj)->PushFront(v, limit);
  } else {
    QL(*obj)->PushBack(v, limit);
  }
}

std::string_view ListPeek(const ObjectRef& obj, ListEnd end, char* buf) {
  if (IsSmall(obj)) {
    ListNodePack lp(obj.ptr);
    return lp.Get(end == ListEnd::kHead ? lp.Begin() : lp.Prev(lp.End()), buf);
  }
  return end == ListEnd::kHead ? QL(obj)->Front(buf) : QL(obj)->Back(buf);
}

void ListPop(ObjectRef* obj, ListEnd end, const ListNodeLimit& limit) {
  if (IsSmall(*obj)) {
    ListNodePack lp(obj->ptr);
    lp.Erase(end == ListEnd::kHead ? lp.Begin() : lp.Prev(lp.End()));
    obj->ptr = lp.data();
    return;
  }
  if (end == ListEnd::kHead) {
    QL(*obj)->PopFront(limit);
  } else {
    QL(*obj)->PopBack(limit);
  }
  ShrinkConversion(obj, limit);
}

bool ListSet(ObjectRef* obj, int64_t index, std::string_view v, const ListNodeLimit& limit) {
  int64_t len = static_cast<int64_t>(ListLength(*obj));
  if (index < 0) index += len;
  if (index < 0 || index >= len) return false;
  if (IsSmall(*obj)) {
    ListNodePack lp(obj->ptr);
    ListNodePack::Pos pos = lp.Seek(index);
    size_t old_bytes = lp.Next(pos) - pos;
    size_t new_bytes = ListNodePack::EntryBytes(v);
    if (new_bytes > old_bytes) GrowConversion(obj, new_bytes - old_bytes, 0, limit);
    if (IsSmall(*obj)) {
      lp.Replace(pos, v);
      obj->ptr = lp.data();
      return true;
    }
  }
  ListNodePack::Pos pos;
  QuicklistNode* node = QL(*obj)->Locate(static_cast<size_t>(index), &pos);
  QL(*obj)->Replace(node, pos, v, limit);
  ShrinkConversion(obj, limit);
  return true;
}

bool ListInsert(ObjectRef* obj, std::string_view pivot, std::string_view v, bool after,
                const ListNodeLimit& limit) {
  if (IsSmall(*obj)) {
    ListNodePack lp(obj->ptr);
    ListNodePack::Pos pos = lp.Find(pivot);
    if (pos == lp.End()) return false;
    if (after) pos = lp.Next(pos);
    GrowConversion(obj, ListNodePack::EntryBytes(v), 1, limit);
    if (IsSmall(*obj)) {
      lp.Insert(pos, v);
      obj->ptr = lp.data();
    } else {
      // The listpack is now the quicklist's only node, unchanged: `pos` still holds.
      QL(*obj)->Insert(QL(*obj)->head(), pos, v, limit);
    }
    return true;
  }
  Quicklist* ql = QL(*obj);
  for (QuicklistNode* node = ql->head(); node != nullptr; node = node->next) {
    ListNodePack lp = node->pack();
    ListNodePack::Pos pos = lp.Find(pivot);
    if (pos == lp.End()) continue;
    ql->Insert(node, after ? lp.Next(pos) : pos, v, limit);
    return true;
  }
  return false;
}

size_t ListRemove(ObjectRef* obj, std::string_view v, int64_t count, const ListNodeLimit& limit) {
  if (IsSmall(*obj)) {
    ListNodePack lp(obj->ptr);
    size_t removed = RemoveFromListpack(&lp, v, count);
    obj->ptr = lp.data();
    return removed;
  }
  size_t removed = QL(*obj)->RemoveMatches(v, count, limit);
  ShrinkConversion(obj, limit);
  return removed;
}

void ListTrim(ObjectRef* obj, size_t head, size_t tail, const ListNodeLimit& limit) {
  size_t len = ListLength(*obj);
  if (head >= len || tail >= len - head) {
    head = len;
    tail = 0;
  }
  if (IsSmall(*obj)) {
    ListNodePack lp(obj->ptr);
    if (head > 0) lp.Erase(lp.Begin(), head);
    if (tail > 0) lp.Erase(lp.Seek(-static_cast<int64_t>(tail)), tail);
    obj->ptr = lp.data();
    return;
  }
  QL(*obj)->EraseFront(head, limit);
  QL(*obj)->EraseBack(tail, limit);
  ShrinkConversion(obj, limit);
}

void ListCursor::NextNode() {
  if (node_ != nullptr && node_->next != nullptr) {
    node_ = node_->next;
    lp_ = node_->lp;
    pos_ = ListNodePack(lp_).Begin();
    return;
  }
  lp_ = nullptr;
}

void ListCursor::Prev() {
  ListNodePack lp(lp_);
  if (pos_ > lp.Begin()) {
    pos_ = lp.Prev(pos_);
    return;
  }
  if (node_ != nullptr && node_->prev != nullptr) {
    node_ = node_->prev;
    lp_ = node_->lp;
    ListNodePack p(lp_);
    pos_ = p.Prev(p.End());
    return;
  }
  lp_ = nullptr;
}

ListCursor ListSeek(const ObjectRef& obj, int64_t index) {
  int64_t len = static_cast<int64_t>(ListLength(obj));
  if (index < 0) index += len;
  if (index < 0 || index >= len) return ListCursor();
  if (IsSmall(obj)) {
    return ListCursor(nullptr, obj.ptr, ListNodePack(obj.ptr).Seek(index));
  }
  ListNodePack::Pos pos;
  QuicklistNode* node = QL(obj)->Locate(static_cast<size_t>(index), &pos);
  return ListCursor(node, node->lp, pos);
}

void ListForEach(const ObjectRef& obj, const std::function<void(std::string_view)>& fn) {
  for (ListCursor c = ListSeek(obj, 0); c.valid(); c.Next()) fn(c.value());
}

ObjectRef ListFromValues(std::span<const std::string> values, const ContainerLimits& limits) {
  ListNodeLimit limit = ListLimit(limits);
  ObjectRef obj = NewList();
  for (const std::string& v : values) ListPush(&obj, ListEnd::kTail, v, limit);
  return obj;
}

}  // namespace omnibus
