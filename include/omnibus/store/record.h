#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace omnibus {

enum class ValueType : uint8_t { kString = 0 };

// One allocation per key holding the chain link, the key, an optional expiry and the value
// (KEYSPACE.md's record, with a pointer link instead of a 4-byte handle for now). Small
// values live inline, so a 16 B key with a 16 B value is a single 52 B block.
//
//   Record* next | u8 type | u8 flags | u16 spare | u32 klen | u32 vlen
//   [i64 expire_at_ms, only when kHasExpire] | key bytes | value bytes
//
// Code outside store/ sees records only through these accessors, so the layout can become
// KEYSPACE.md's slab-and-handle form without touching command code.
struct Record {
  static constexpr uint8_t kHasExpire = 1;

  Record* next;
  ValueType type;
  uint8_t flags;
  uint16_t spare;
  uint32_t klen;
  uint32_t vlen;

  static constexpr size_t kHeaderSize = 20;

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

  size_t expire_bytes() const { return has_expire() ? sizeof(int64_t) : 0; }
  size_t alloc_size() const { return kHeaderSize + expire_bytes() + klen + vlen; }

  char* payload() { return reinterpret_cast<char*>(this) + kHeaderSize; }
  const char* payload() const { return reinterpret_cast<const char*>(this) + kHeaderSize; }
};
static_assert(offsetof(Record, vlen) + sizeof(uint32_t) == Record::kHeaderSize);

// Allocates a record; `value` may be empty and filled in later through mutable_value().
Record* NewRecord(std::string_view key, size_t vlen, int64_t expire_at_ms);
void FreeRecord(Record* r);
// Bytes the allocator really holds for this record (its size class, not sizeof).
size_t RecordFootprint(const Record* r);

}  // namespace omnibus
