#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace omnibus {

// Redis's object types, in Redis's own order (OBJ_STRING .. OBJ_HASH).
enum class ValueType : uint8_t { kString = 0, kList = 1, kSet = 2, kZSet = 3, kHash = 4 };

// How a value is laid out (OBJECT ENCODING reports Redis's names, see EncodingName).
// Strings are always stored as bytes; their int/embstr/raw name is derived (record.cc).
enum class Encoding : uint8_t {
  kRaw = 0,    // string bytes inline in the record
  kListpack,   // one contiguous buffer (hash, list, set, zset while small)
  kQuicklist,  // list: a chain of listpack nodes
  kIntset,     // set of integers: a sorted array
  kHashtable,  // hash, set
  kSkiplist,   // zset: ordered index plus member -> score map
};

std::string_view TypeName(ValueType t);  // "string", "list", ... as TYPE answers
std::string_view EncodingName(Encoding e);

// A container value as a record holds it: which type and form, and a pointer to the
// out-of-line structure. Store code that converts a container to another form changes
// `enc` and `ptr` together.
struct ObjectRef {
  ValueType type = ValueType::kString;
  Encoding enc = Encoding::kRaw;
  void* ptr = nullptr;
};

// One allocation per key holding the chain link, the key, an optional expiry and the value
// (KEYSPACE.md's record, with a pointer link instead of a 4-byte handle for now). Small
// values live inline, so a 16 B key with a 16 B value is a single 52 B block. A container
// (list, hash, set, zset) keeps an 8-byte pointer to its structure as its value bytes.
//
//   Record* next | u8 type:4 enc:4 | u8 flags | u16 lru | u32 klen | u32 vlen
//   [i64 expire_at_ms, only when kHasExpire] | key bytes | value bytes
//
// Code outside store/ sees records only through these accessors, so the layout can become
// KEYSPACE.md's slab-and-handle form without touching command code.
struct Record {
  static constexpr uint8_t kHasExpire = 1;
  // A string changed in place by APPEND/SETRANGE: OBJECT ENCODING says "raw", as Redis does.
  static constexpr uint8_t kRawString = 2;

  Record* next;
  uint8_t type_enc;  // ValueType in the low 4 bits, Encoding in the high 4
  uint8_t flags;
  // Last access, in seconds of the shard clock mod 2^16 (OBJECT IDLETIME, so idle times
  // wrap after ~18 h); becomes eviction's clock with maxmemory (DESIGN §10.8).
  uint16_t lru;
  uint32_t klen;
  uint32_t vlen;

  static constexpr size_t kHeaderSize = 20;

  ValueType type() const { return static_cast<ValueType>(type_enc & 0xF); }
  Encoding enc() const { return static_cast<Encoding>(type_enc >> 4); }
  void set_type(ValueType t, Encoding e) {
    type_enc = static_cast<uint8_t>(static_cast<uint8_t>(t) | (static_cast<uint8_t>(e) << 4));
  }

  bool has_expire() const { return flags & kHasExpire; }
  int64_t expire_at_ms() const {
    if (!has_expire()) return -1;
    int64_t ms;
    memcpy(&ms, payload(), sizeof(ms));
    return ms;
  }
  std::string_view key() const { return {payload() + expire_bytes(), klen}; }
  std::string_view value() const { return {payload() + expire_bytes() + klen, vlen}; }
  char* mutable_value() { return payload() + expire_bytes() + klen; }

  bool is_container() const { return type() != ValueType::kString; }
  // The container this record owns (only when is_container()).
  ObjectRef object() const {
    void* p;
    memcpy(&p, payload() + expire_bytes() + klen, sizeof(p));
    return ObjectRef{type(), enc(), p};
  }
  void set_object(const ObjectRef& o) {
    set_type(o.type, o.enc);
    memcpy(mutable_value(), &o.ptr, sizeof(o.ptr));
  }

  size_t expire_bytes() const { return has_expire() ? sizeof(int64_t) : 0; }
  size_t alloc_size() const { return kHeaderSize + expire_bytes() + klen + vlen; }

  char* payload() { return reinterpret_cast<char*>(this) + kHeaderSize; }
  const char* payload() const { return reinterpret_cast<const char*>(this) + kHeaderSize; }
};
static_assert(offsetof(Record, vlen) + sizeof(uint32_t) == Record::kHeaderSize);

// Allocates a string record; `value` may be empty and filled in later through
// mutable_value().
Record* NewRecord(std::string_view key, size_t vlen, int64_t expire_at_ms);
// Allocates a record that owns `obj`.
Record* NewObjectRecord(std::string_view key, const ObjectRef& obj, int64_t expire_at_ms);
// Frees the record and, for a container, the container it owns.
void FreeRecord(Record* r);
// Frees only the record: its container (if any) has been handed to another record.
void FreeRecordShell(Record* r);
// Bytes the allocator really holds for this record (its size class, not sizeof).
size_t RecordFootprint(const Record* r);
// OBJECT ENCODING's answer for this record ("int", "embstr", "raw", "listpack", ...).
std::string_view RecordEncodingName(const Record* r);

}  // namespace omnibus
