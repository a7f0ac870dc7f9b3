#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace omnibus {

// A compact sequence of strings in one counted allocation (store/memory.h), the small form of
// every container (Redis's listpack, in spirit): a hash keeps field, value, field, value...;
// a zset member, score...; a set its members; a list node its elements.
//
//   u32 total bytes | u32 count | entry...
//   entry: len (LEB128) | bytes | len again, backwards (so the list can be walked from the end)
//
// A 5-byte string costs 7 bytes. Entries are addressed by byte offsets (Pos); any call that
// changes the buffer may move it (data() then changes) and invalidates other positions except
// as documented.
// Runs on: the owning shard thread.
class Listpack {
 public:
  using Pos = uint32_t;

  static Listpack Create();
  explicit Listpack(void* data) : p_(static_cast<uint8_t*>(data)) {}
  void* data() const { return p_; }
  void Free();
  Listpack Copy() const;

  uint32_t size() const { return Load32(p_ + 4); }
  bool empty() const { return size() == 0; }
  size_t bytes() const { return Load32(p_); }

  Pos Begin() const { return kHeader; }
  Pos End() const { return static_cast<Pos>(bytes()); }
  Pos Next(Pos pos) const;
  // The entry before `pos` (which may be End()); pos must not be Begin().
  Pos Prev(Pos pos) const;
  std::string_view At(Pos pos) const;
  // Entry number `index` (negative counts from the end), or End() when out of range.
  Pos Seek(int64_t index) const;

  // Inserts `v` before `pos` (End() appends). Returns the position of the new entry.
  Pos Insert(Pos pos, std::string_view v);
  void Append(std::string_view v) { Insert(End(), v); }
  void Prepend(std::string_view v) { Insert(Begin(), v); }
  // Removes `count` entries from `pos`. Returns the position of the entry that followed them.
  Pos Erase(Pos pos, size_t count = 1);
  // Replaces the entry at `pos`; returns its (unchanged) position.
  Pos Replace(Pos pos, std::string_view v);
  // The first entry equal to `v` among entries 0, stride, 2*stride, ... or End().
  Pos Find(std::string_view v, size_t stride = 1) const;

 private:
  static constexpr Pos kHeader = 8;
  static uint32_t Load32(const uint8_t* p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
  }
  static void Store32(uint8_t* p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
  // Makes room: `grow` bytes at `pos` (negative shrinks by removing bytes at pos).
  void Resize(Pos pos, int64_t grow);

  uint8_t* p_;
};

}  // namespace omnibus
