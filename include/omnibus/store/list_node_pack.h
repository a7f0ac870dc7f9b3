#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace omnibus {

// The listpack of a list (the whole of a small list, one node of a quicklist): store/listpack.h's
// idea, with Redis's entry encodings so a list costs what it costs in Redis. Integers in
// canonical decimal form ("-17", "123456", not "+1" or "007") are stored as 1..9 byte binary
// integers and strings carry a 1, 2 or 5 byte header, so "5" takes 2 bytes and "123456" 5
// (the shared Listpack spends 3 and 8); the list of 1M small numbers is then no larger than
// Redis's.
//
//   u32 total bytes | u32 count | entry...
//   entry: encoding [payload] | back length (the entry's size so far, LEB128 read backwards)
//   encoding: 0xxxxxxx        7-bit unsigned integer, no payload
//             10LLLLLL        string of up to 63 bytes
//             110xxxxx x      13-bit signed integer
//             1110LLLL L      string of up to 4095 bytes
//             0xF0 u32        longer string
//             0xF1..0xF4      16, 24, 32, 64-bit signed integer (little endian)
//
// Entries are addressed by byte offsets (Pos). Calls that change the buffer may move it (data()
// changes) and invalidate other positions except as documented. All memory is counted.
// Runs on: the owning shard thread.
class ListNodePack {
 public:
  using Pos = uint32_t;
  static constexpr Pos kHeader = 8;
  // Room to spell out an integer entry (Get).
  static constexpr size_t kIntBuf = 24;

  static ListNodePack Create();
  explicit ListNodePack(void* data) : p_(static_cast<uint8_t*>(data)) {}
  void* data() const { return p_; }
  void Free();
  ListNodePack Copy() const;

  uint32_t size() const { return Load32(p_ + 4); }
  bool empty() const { return size() == 0; }
  size_t bytes() const { return Load32(p_); }

  Pos Begin() const { return kHeader; }
  Pos End() const { return static_cast<Pos>(bytes()); }
  Pos Next(Pos pos) const {
    // Inline for the common entries (LRANGE walks): a short string or a small integer, whose
    // back length is one byte.
    uint8_t b = p_[pos];
    if (b < 0x80) return pos + 2;
    if (b < 0xC0) return pos + 2 + (b & 0x3F);
    return NextSlow(pos);
  }
  // The entry before `pos` (which may be End()); pos must not be Begin().
  Pos Prev(Pos pos) const;
  // The entry's value; integers are spelled out in `buf` (kIntBuf bytes).
  std::string_view Get(Pos pos, char* buf) const {
    uint8_t b = p_[pos];
    if (b >= 0x80 && b < 0xC0) {
      return {reinterpret_cast<const char*>(p_ + pos + 1), static_cast<size_t>(b & 0x3F)};
    }
    return GetSlow(pos, buf);
  }
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
  // The first entry equal to `v` at or after `from` (Begin() by default), or End().
  Pos Find(std::string_view v, Pos from = kHeader) const;
  // The last entry equal to `v` before `before` (End() by default), or End().
  Pos FindBack(std::string_view v, Pos before) const;
  // Whether the entry at `pos` equals `v`.
  bool Equals(Pos pos, std::string_view v) const;

  // Moves the entries of `other` to the end of this one and frees `other`.
  void Concat(ListNodePack other);
  // Moves the entries from `at` on (all but the first `before`) into a new pack.
  ListNodePack SplitAt(Pos at, uint32_t before);

  // Bytes `v` takes as an entry.
  static size_t EntryBytes(std::string_view v);

 private:
  static uint32_t Load32(const uint8_t* p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
  }
  static void Store32(uint8_t* p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
  Pos NextSlow(Pos pos) const;
  std::string_view GetSlow(Pos pos, char* buf) const;
  // Makes room: `grow` bytes at `pos` (negative shrinks by removing bytes at pos).
  void Resize(Pos pos, int64_t grow);

  uint8_t* p_;
};

}  // namespace omnibus
