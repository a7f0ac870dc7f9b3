#pragma once

#include <cstddef>
#include <cstdint>

namespace omnibus {

// Redis's intset: the members of an all-integer set as one sorted array of int16, int32 or
// int64 (the narrowest width that holds every member; it only grows), in one counted
// allocation (store/memory.h). Sorted, so SMEMBERS answers in ascending order as Redis 7.0
// does, and lookups are binary searches.
//
//   u32 (count << 4 | width: 2, 4 or 8) | count * width bytes, ascending
//
// A set of 5 small numbers is 14 bytes (a 16-byte block; Redis's 8-byte header would make it
// 18, a 24-byte block: with a million small sets, that is a tenth of their memory). Calls that
// change the array may move it (data()). Runs on: the owning shard thread.
class IntSet {
 public:
  static IntSet Create();
  explicit IntSet(void* data) : p_(static_cast<uint8_t*>(data)) {}
  void* data() const { return p_; }
  void Free();
  IntSet Copy() const;

  // The most members the 28-bit count holds; a set past it must take another form.
  static constexpr uint32_t kMaxSize = (1u << 28) - 1;

  uint32_t size() const { return Load32(p_) >> 4; }
  uint32_t width() const { return Load32(p_) & 0xF; }
  size_t bytes() const { return kHeader + static_cast<size_t>(size()) * width(); }
  int64_t At(uint32_t index) const { return Get(index, width()); }
  bool Contains(int64_t v) const;

  // Both return whether the set changed.
  bool Add(int64_t v);
  bool Remove(int64_t v);

 private:
  static constexpr size_t kHeader = 4;
  static uint32_t Load32(const uint8_t* p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
  }
  static void Store32(uint8_t* p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
  void SetHeader(uint32_t width, uint32_t count) { Store32(p_, count << 4 | width); }
  static uint32_t WidthFor(int64_t v);
  int64_t Get(uint32_t index, uint32_t width) const;
  void Set(uint32_t index, int64_t v);
  // Binary search: true and the index if found, else false and the insertion index.
  bool Search(int64_t v, uint32_t* index) const;
  // Rewrites every element at `new_width` (wider) and inserts `v` (which needs it) at an end.
  void Upgrade(int64_t v);

  uint8_t* p_;
};

}  // namespace omnibus
