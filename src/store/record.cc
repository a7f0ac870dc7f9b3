#include "omnibus/store/record.h"

#include "omnibus/base/strings.h"
#include "omnibus/store/memory.h"
#include "omnibus/store/object.h"

namespace omnibus {
namespace {

Record* AllocRecord(std::string_view key, size_t vlen, int64_t expire_at_ms) {
  bool expires = expire_at_ms >= 0;
  size_t size = Record::kHeaderSize + (expires ? sizeof(int64_t) : 0) + key.size() + vlen;
  Record* r = static_cast<Record*>(StoreAlloc(size));
  r->next = nullptr;
  r->set_type(ValueType::kString, Encoding::kRaw);
  r->flags = expires ? Record::kHasExpire : 0;
  r->lru = 0;
  r->klen = static_cast<uint32_t>(key.size());
  r->vlen = static_cast<uint32_t>(vlen);
  if (expires) memcpy(r->payload(), &expire_at_ms, sizeof(expire_at_ms));
  memcpy(r->payload() + r->expire_bytes(), key.data(), key.size());
  return r;
}

}  // namespace

Record* NewRecord(std::string_view key, size_t vlen, int64_t expire_at_ms) {
  return AllocRecord(key, vlen, expire_at_ms);
}

Record* NewObjectRecord(std::string_view key, const ObjectRef& obj, int64_t expire_at_ms) {
  Record* r = AllocRecord(key, sizeof(void*), expire_at_ms);
  r->set_object(obj);
  return r;
}

void FreeRecord(Record* r) {
  if (r->is_container()) FreeObject(r->object());
  StoreFree(r);
}

void FreeRecordShell(Record* r) { StoreFree(r); }

size_t RecordFootprint(const Record* r) { return StoreBlockSize(r) + sizeof(size_t); }

std::string_view RecordEncodingName(const Record* r) {
  if (r->is_container()) return EncodingName(r->enc());
  // Redis: a string that parses as a long (up to 20 chars) is "int", a short one "embstr";
  // APPEND/SETRANGE leave "raw" behind.
  std::string_view v = r->value();
  if (r->flags & Record::kRawString) return "raw";
  int64_t n;
  if (v.size() <= 20 && ParseInt64(v, &n)) return "int";
  return v.size() <= 44 ? "embstr" : "raw";
}

}  // namespace omnibus
