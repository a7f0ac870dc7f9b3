#pragma once

#include <cstddef>
#include <cstdint>

namespace omnibus {

// LEB128 lengths for the compact buffers (listpack.cc, list_node_pack.cc): 7 bits a byte, the
// high bit set while more bytes follow. The "back" form is written so that it reads from the
// end of an entry towards its start, which lets a buffer be walked from the tail.

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Writes `v` forwards at `p`; returns the byte after it.
inline uint8_t* PutVarint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

inline uint64_t GetVarint(const uint8_t* p, size_t* used) {
  uint64_t v = 0;
  int shift = 0;
  size_t i = 0;
  while (true) {
    uint8_t b = p[i++];
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  *used = i;
  return v;
}

// Writes `v` so that it ends just before `end`: that byte holds the low 7 bits, and a set high
// bit means more bytes precede it.
inline void PutBackVarint(uint8_t* end, uint64_t v) {
  size_t n = VarintSize(v);
  for (size_t i = 0; i < n; ++i) {
    uint8_t b = static_cast<uint8_t>(v & 0x7F);
    v >>= 7;
    if (i + 1 < n) b |= 0x80;
    *--end = b;
  }
}

inline uint64_t GetBackVarint(const uint8_t* end, size_t* used) {
  uint64_t v = 0;
  int shift = 0;
  size_t i = 0;
  while (true) {
    uint8_t b = *(end - 1 - i);
    ++i;
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) break;
    shift += 7;
  }
  *used = i;
  return v;
}

}  // namespace omnibus
