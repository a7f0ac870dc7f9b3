#include "omnibus/store/record.h"

#include <malloc.h>

#include <cstdlib>
#include <new>

namespace omnibus {

Record* NewRecord(std::string_view key, size_t vlen, int64_t expire_at_ms) {
  bool expires = expire_at_ms >= 0;
  size_t size = Record::kHeaderSize + (expires ? sizeof(int64_t) : 0) + key.size() + vlen;
  void* mem = malloc(size);
  if (mem == nullptr) throw std::bad_alloc();
  Record* r = static_cast<Record*>(mem);
  r->next = nullptr;
  r->type = ValueType::kString;
  r->flags = expires ? Record::kHasExpire : 0;
  r->spare = 0;
  r->klen = static_cast<uint32_t>(key.size());
  r->vlen = static_cast<uint32_t>(vlen);
  if (expires) memcpy(r->payload(), &expire_at_ms, sizeof(expire_at_ms));
  memcpy(r->payload() + r->expire_bytes(), key.data(), key.size());
  return r;
}

void FreeRecord(Record* r) { free(r); }

size_t RecordFootprint(const Record* r) {
  return malloc_usable_size(const_cast<Record*>(r)) + sizeof(size_t);
}

}  // namespace omnibus
