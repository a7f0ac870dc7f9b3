#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "omnibus/store/list_node_pack.h"

namespace omnibus {

// How large one listpack of a list may grow: Redis's list-max-listpack-size. A positive fill N
// allows N entries (and at most 8 KiB, Redis's safety limit); -1..-5 allow 4, 8, 16, 32, 64 KiB
// (below -5 counts as -5). A node always accepts its first entry, however large.
struct ListNodeLimit {
  size_t bytes = 8192;
  size_t count = SIZE_MAX;

  static ListNodeLimit FromFill(int64_t fill);
  bool Exceeds(size_t new_bytes, size_t new_count) const {
    return new_bytes > bytes || new_count > count;
  }
  // What a list must shrink to before it goes back from a quicklist to one listpack (Redis
  // 7.2's rule): half the limit, so a list that hovers at the limit does not flip back and forth.
  ListNodeLimit Half() const;
};

// One node of a quicklist: a ListNodePack that is never empty.
struct QuicklistNode {
  QuicklistNode* prev;
  QuicklistNode* next;
  void* lp;

  ListNodePack pack() const { return ListNodePack(lp); }
};

// A large list (Encoding::kQuicklist): a doubly linked chain of ListNodePack nodes, each bounded by
// a ListNodeLimit, so pushes and pops at either end cost O(one node) and index walks skip whole
// nodes by their counts. Nodes whose contents fit together are merged after removals, so a
// list that shrank in the middle does not keep a trail of nearly empty nodes.
//
// The limit is passed to every call that may grow or merge a node (CONFIG SET may change it
// between commands; existing nodes keep their size until they are next touched, as in Redis).
// All memory is counted (store/memory.h).
// Runs on: the owning shard thread.
class Quicklist {
 public:
  static Quicklist* Create();
  // A quicklist whose only node is `lp` (taken over; may be empty, then it is freed).
  static Quicklist* FromListpack(void* lp);
  static void Destroy(Quicklist* ql);
  Quicklist* Copy() const;
  // Hands out the listpack of the only node and destroys the quicklist (node_count() == 1).
  void* ReleaseOnlyListpack();

  size_t size() const { return count_; }
  size_t node_count() const { return nodes_; }
  QuicklistNode* head() const { return head_; }
  QuicklistNode* tail() const { return tail_; }

  void PushFront(std::string_view v, const ListNodeLimit& limit);
  void PushBack(std::string_view v, const ListNodeLimit& limit);
  // The first / last element (size() > 0); integers are spelled out in `buf`
  // (ListNodePack::kIntBuf bytes).
  std::string_view Front(char* buf) const { return head_->pack().Get(ListNodePack::kHeader, buf); }
  std::string_view Back(char* buf) const;
  void PopFront(const ListNodeLimit& limit);
  void PopBack(const ListNodeLimit& limit);

  // The node holding element `index` (< size()) and the element's position in it, walking
  // from the nearer end.
  QuicklistNode* Locate(size_t index, ListNodePack::Pos* pos) const;

  // Inserts `v` before the entry at `pos` of `node` (pos == End() appends to the node), using
  // a neighbour with room when the insertion is at a full node's edge and splitting otherwise.
  void Insert(QuicklistNode* node, ListNodePack::Pos pos, std::string_view v,
              const ListNodeLimit& limit);
  // Replaces the entry at `pos` of `node`; a node that outgrows the limit is split.
  void Replace(QuicklistNode* node, ListNodePack::Pos pos, std::string_view v,
               const ListNodeLimit& limit);
  // Removes `n` elements from the head / the tail (n <= size()).
  void EraseFront(size_t n, const ListNodeLimit& limit);
  void EraseBack(size_t n, const ListNodeLimit& limit);
  // Removes elements equal to `v`: the first `count` from the head (count > 0), the last
  // -count from the tail (count < 0) or all (count == 0). Returns how many were removed.
  size_t RemoveMatches(std::string_view v, int64_t count, const ListNodeLimit& limit);

 private:
  QuicklistNode* NewNode(void* lp, QuicklistNode* after);  // after == nullptr: at the head
  void Unlink(QuicklistNode* node);                        // unlinks and frees node and its lp
  // Moves b's entries to the end of a (b == a->next) and frees b. Returns a.
  QuicklistNode* Merge(QuicklistNode* a, QuicklistNode* b);
  bool Fits(const QuicklistNode* a, const QuicklistNode* b, const ListNodeLimit& limit) const;
  // After a node changed: removes it if empty, splits it while it is over the limit, or merges
  // it with a neighbour it fits with.
  void Rebalance(QuicklistNode* node, const ListNodeLimit& limit);
  // Splits `node` (more than one entry, over the limit) until every piece fits or holds a single
  // entry.
  void SplitOversized(QuicklistNode* node, const ListNodeLimit& limit);

  QuicklistNode* head_ = nullptr;
  QuicklistNode* tail_ = nullptr;
  size_t count_ = 0;  // elements in all nodes
  size_t nodes_ = 0;
};

}  // namespace omnibus
