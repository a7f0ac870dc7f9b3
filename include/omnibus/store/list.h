#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "omnibus/store/container_limits.h"
#include "omnibus/store/list_node_pack.h"
#include "omnibus/store/quicklist.h"
#include "omnibus/store/record.h"

namespace omnibus {

// The list type over its two encodings (Redis 7.2's scheme):
//   Encoding::kListpack   one ListNodePack while it fits list-max-listpack-size;
//   Encoding::kQuicklist  a Quicklist of ListNodePack nodes each bounded by the same setting.
// (Redis 7.0 always answers "quicklist" to OBJECT ENCODING; 7.2 and we say "listpack" for the
// small form.)
// A listpack list becomes a quicklist when a write would make it exceed the limit, and a
// quicklist goes back to one listpack when it is down to a single node within half the limit.
// Functions taking `ObjectRef*` may reallocate or convert the list: the caller stores the
// result back (KeyWrite::set_obj).
// Runs on: the owning shard thread.

enum class ListEnd : uint8_t { kHead, kTail };

ListNodeLimit ListLimit(const ContainerLimits& limits);

void ListPush(ObjectRef* obj, ListEnd end, std::string_view v, const ListNodeLimit& limit);
// The element at one end (the list is not empty); an integer is spelled out in `buf`
// (ListNodePack::kIntBuf bytes).
std::string_view ListPeek(const ObjectRef& obj, ListEnd end, char* buf);
// Removes the element at one end (the list is not empty).
void ListPop(ObjectRef* obj, ListEnd end, const ListNodeLimit& limit);

// LSET: false when `index` (negative counts from the tail) is out of range.
bool ListSet(ObjectRef* obj, int64_t index, std::string_view v, const ListNodeLimit& limit);
// LINSERT: inserts `v` before or after the first `pivot` from the head. False if absent.
bool ListInsert(ObjectRef* obj, std::string_view pivot, std::string_view v, bool after,
                const ListNodeLimit& limit);
// LREM: count > 0 removes the first `count` matches, < 0 the last -count, 0 all.
size_t ListRemove(ObjectRef* obj, std::string_view v, int64_t count, const ListNodeLimit& limit);
// LTRIM: removes `head` elements from the head and `tail` from the tail.
void ListTrim(ObjectRef* obj, size_t head, size_t tail, const ListNodeLimit& limit);

// A read position in a list of either encoding. Valid until the list changes.
class ListCursor {
 public:
  ListCursor() = default;
  bool valid() const { return lp_ != nullptr; }
  // Valid until the cursor moves (an integer element is spelled out in the cursor).
  std::string_view value() const { return ListNodePack(lp_).Get(pos_, buf_); }
  // Moves towards the tail / the head; past the end the cursor becomes invalid.
  void Next() {
    ListNodePack lp(lp_);
    pos_ = lp.Next(pos_);
    if (pos_ >= lp.End()) NextNode();
  }
  void Prev();

 private:
  friend ListCursor ListSeek(const ObjectRef& obj, int64_t index);
  ListCursor(const QuicklistNode* node, void* lp, ListNodePack::Pos pos)
      : node_(node), lp_(lp), pos_(pos) {}

  void NextNode();  // past the end of this node's pack

  const QuicklistNode* node_ = nullptr;  // null when the list is one listpack
  void* lp_ = nullptr;
  ListNodePack::Pos pos_ = 0;
  mutable char buf_[ListNodePack::kIntBuf];
};

// A cursor on element `index` (negative counts from the tail); invalid when out of range.
ListCursor ListSeek(const ObjectRef& obj, int64_t index);

// For SORT: every element, head to tail.
void ListForEach(const ObjectRef& obj, const std::function<void(std::string_view)>& fn);
// For SORT ... STORE: a new list holding `values` in order, in the encoding they call for.
ObjectRef ListFromValues(std::span<const std::string> values, const ContainerLimits& limits);

}  // namespace omnibus
