// MEMORY USAGE's measure of a container (Redis's objectComputeSize over our encodings).
#include <algorithm>

#include "omnibus/store/memory.h"
#include "omnibus/store/object.h"
#include "omnibus/store/quicklist.h"
#include "omnibus/store/string_map.h"

namespace omnibus {
namespace {

// The map, its bucket array and its entries, the entries estimated from the first `samples`.
size_t StringMapUsage(const StringMap* map, size_t samples) {
  size_t bytes = StoreBlockSize(map) + map->bucket_bytes();
  if (map->size() == 0) return bytes;
  size_t seen = 0, sampled = 0;
  bool all = samples == 0 || samples >= map->size();
  map->ForEach([&](const StringMap::Entry& e) {
    if (!all && seen == samples) return;
    sampled += StoreBlockSize(&e);
    ++seen;
  });
  if (all) return bytes + sampled;
  return bytes + static_cast<size_t>(static_cast<double>(sampled) / static_cast<double>(seen) *
                                     static_cast<double>(map->size()));
}

size_t QuicklistUsage(const Quicklist* ql, size_t samples) {
  size_t bytes = StoreBlockSize(ql);
  size_t nodes = ql->node_count();
  if (nodes == 0) return bytes;
  bool all = samples == 0 || samples >= nodes;
  size_t seen = 0, sampled = 0;
  for (const QuicklistNode* n = ql->head(); n != nullptr && (all || seen < samples); n = n->next) {
    sampled += StoreBlockSize(n) + StoreBlockSize(n->lp);
    ++seen;
  }
  if (all) return bytes + sampled;
  return bytes + static_cast<size_t>(static_cast<double>(sampled) / static_cast<double>(seen) *
                                     static_cast<double>(nodes));
}

}  // namespace

size_t ObjectMemoryUsage(const ObjectRef& obj, size_t samples) {
  switch (obj.enc) {
    case Encoding::kRaw:
      return 0;  // a string's bytes live in its record
    case Encoding::kListpack:
    case Encoding::kIntset:
      return StoreBlockSize(obj.ptr);  // one block
    case Encoding::kQuicklist:
      return QuicklistUsage(static_cast<const Quicklist*>(obj.ptr), samples);
    case Encoding::kHashtable:
      return StringMapUsage(static_cast<const StringMap*>(obj.ptr), samples);
    case Encoding::kSkiplist:
      return ZSetSkiplistMemoryUsage(obj, samples);
  }
  return 0;
}

}  // namespace omnibus
