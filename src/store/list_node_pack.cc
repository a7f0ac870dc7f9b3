#include "omnibus/store/list_node_pack.h"

#include <cstring>
#include <stdexcept>

#include "omnibus/base/strings.h"
#include "omnibus/store/memory.h"
#include "omnibus/store/varint.h"

namespace omnibus {
namespace {

// Redis's string2ll round trip: only a string that prints back identically is stored as an
// integer (no sign, no leading zeros, no "-0", within int64).
bool CanonicalInt(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  bool negative = s[0] == '-';
  if (negative && s.size() == 1) return false;
  if (negative) i = 1;
  if (s[i] == '0') {
    if (s.size() != 1) return false;  // "0" only: "00", "01", "-0" stay strings
    *out = 0;
    return true;
  }
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (negative) {
    if (v > (uint64_t{1} << 63)) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// An entry as it will be written: its encoding bytes (and an integer's payload), then a
// string's bytes, then the back length.
struct Encoded {
  uint8_t head[9];
  size_t head_len = 0;
  std::string_view str;

  size_t body() const { return head_len + str.size(); }
  size_t total() const { return body() + VarintSize(body()); }
};

void PutLE(uint8_t* p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t GetLE(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// Sign-extends the low `bits` bits of `v`.
int64_t SignExtend(uint64_t v, int bits) {
  uint64_t m = uint64_t{1} << (bits - 1);
  v &= (m << 1) - 1;
  return static_cast<int64_t>((v ^ m) - m);
}

Encoded Encode(std::string_view v) {
  Encoded e;
  int64_t x;
  if (CanonicalInt(v, &x)) {
    auto u = static_cast<uint64_t>(x);
    if (x >= 0 && x <= 127) {
      e.head[0] = static_cast<uint8_t>(x);
      e.head_len = 1;
    } else if (x >= -4096 && x <= 4095) {
      e.head[0] = static_cast<uint8_t>(0xC0 | ((u >> 8) & 0x1F));
      e.head[1] = static_cast<uint8_t>(u & 0xFF);
      e.head_len = 2;
    } else {
      size_t n = (x >= INT16_MIN && x <= INT16_MAX)   ? 2
                 : (x >= -(1 << 23) && x < (1 << 23)) ? 3
                 : (x >= INT32_MIN && x <= INT32_MAX) ? 4
                                                      : 8;
      e.head[0] = n == 2 ? 0xF1 : n == 3 ? 0xF2 : n == 4 ? 0xF3 : 0xF4;
      PutLE(e.head + 1, u, n);
      e.head_len = 1 + n;
    }
    return e;
  }
  size_t n = v.size();
  if (n < 64) {
    e.head[0] = static_cast<uint8_t>(0x80 | n);
    e.head_len = 1;
  } else if (n < 4096) {
    e.head[0] = static_cast<uint8_t>(0xE0 | (n >> 8));
    e.head[1] = static_cast<uint8_t>(n & 0xFF);
    e.head_len = 2;
  } else {
    if (n > UINT32_MAX) throw std::length_error("list element too large");
    e.head[0] = 0xF0;
    PutLE(e.head + 1, n, 4);
    e.head_len = 5;
  }
  e.str = v;
  return e;
}

// What the entry at `p` holds: its encoding length, and a string's length (is_int false) or
// an integer's value.
struct Decoded {
  size_t head_len;
  size_t str_len;
  bool is_int;
  int64_t value;
};

Decoded Decode(const uint8_t* p) {
  uint8_t b = p[0];
  if (b < 0x80) return {1, 0, true, b};
  if (b < 0xC0) return {1, static_cast<size_t>(b & 0x3F), false, 0};
  if (b < 0xE0) return {2, 0, true, SignExtend((uint64_t{b} << 8) | p[1], 13)};
  if (b < 0xF0) return {2, (static_cast<size_t>(b & 0x0F) << 8) | p[1], false, 0};
  switch (b) {
    case 0xF0:
      return {5, static_cast<size_t>(GetLE(p + 1, 4)), false, 0};
    case 0xF1:
      return {3, 0, true, SignExtend(GetLE(p + 1, 2), 16)};
    case 0xF2:
      return {4, 0, true, SignExtend(GetLE(p + 1, 3), 24)};
    case 0xF3:
      return {5, 0, true, SignExtend(GetLE(p + 1, 4), 32)};
    default:
      return {9, 0, true, static_cast<int64_t>(GetLE(p + 1, 8))};
  }
}

}  // namespace

size_t ListNodePack::EntryBytes(std::string_view v) { return Encode(v).total(); }

ListNodePack ListNodePack::Create() {
  auto* p = static_cast<uint8_t*>(StoreAlloc(kHeader));
  Store32(p, kHeader);
  Store32(p + 4, 0);
  return ListNodePack(p);
}

void ListNodePack::Free() {
  StoreFree(p_);
  p_ = nullptr;
}

ListNodePack ListNodePack::Copy() const {
  auto* p = static_cast<uint8_t*>(StoreAlloc(bytes()));
  memcpy(p, p_, bytes());
  return ListNodePack(p);
}

ListNodePack::Pos ListNodePack::NextSlow(Pos pos) const {
  Decoded d = Decode(p_ + pos);
  size_t body = d.head_len + d.str_len;
  return static_cast<Pos>(pos + body + VarintSize(body));
}

ListNodePack::Pos ListNodePack::Prev(Pos pos) const {
  size_t used;
  uint64_t body = GetBackVarint(p_ + pos, &used);
  return static_cast<Pos>(pos - used - body);
}

std::string_view ListNodePack::GetSlow(Pos pos, char* buf) const {
  Decoded d = Decode(p_ + pos);
  if (d.is_int) return {buf, FormatInt64(d.value, buf)};
  return {reinterpret_cast<const char*>(p_ + pos + d.head_len), d.str_len};
}

bool ListNodePack::Equals(Pos pos, std::string_view v) const {
  // Encodings are canonical: equal values have equal bytes.
  Encoded e = Encode(v);
  const uint8_t* p = p_ + pos;
  return memcmp(p, e.head, e.head_len) == 0 &&
         (e.str.empty() || memcmp(p + e.head_len, e.str.data(), e.str.size()) == 0);
}

ListNodePack::Pos ListNodePack::Find(std::string_view v, Pos from) const {
  Encoded e = Encode(v);
  Pos end = End();
  for (Pos pos = from; pos < end; pos = Next(pos)) {
    const uint8_t* p = p_ + pos;
    if (p[0] == e.head[0] && memcmp(p, e.head, e.head_len) == 0 &&
        (e.str.empty() || memcmp(p + e.head_len, e.str.data(), e.str.size()) == 0)) {
      return pos;
    }
  }
  return end;
}

ListNodePack::Pos ListNodePack::FindBack(std::string_view v, Pos before) const {
  Encoded e = Encode(v);
  for (Pos pos = before; pos > Begin();) {
    pos = Prev(pos);
    const uint8_t* p = p_ + pos;
    if (p[0] == e.head[0] && memcmp(p, e.head, e.head_len) == 0 &&
        (e.str.empty() || memcmp(p + e.head_len, e.str.data(), e.str.size()) == 0)) {
      return pos;
    }
  }
  return End();
}

ListNodePack::Pos ListNodePack::Seek(int64_t index) const {
  int64_t n = size();
  if (index < 0) index += n;
  if (index < 0 || index >= n) return End();
  if (index <= n / 2) {
    Pos pos = Begin();
    for (int64_t i = 0; i < index; ++i) pos = Next(pos);
    return pos;
  }
  Pos pos = End();
  for (int64_t i = n; i > index; --i) pos = Prev(pos);
  return pos;
}

void ListNodePack::Resize(Pos pos, int64_t grow) {
  size_t old_bytes = bytes();
  auto new_bytes = static_cast<size_t>(static_cast<int64_t>(old_bytes) + grow);
  if (new_bytes > UINT32_MAX) throw std::length_error("list node too large");
  if (grow > 0) {
    p_ = static_cast<uint8_t*>(StoreRealloc(p_, new_bytes));
    memmove(p_ + pos + grow, p_ + pos, old_bytes - pos);
  } else if (grow < 0) {
    memmove(p_ + pos, p_ + pos - grow, old_bytes - pos + static_cast<size_t>(grow));
    p_ = static_cast<uint8_t*>(StoreRealloc(p_, new_bytes));
  }
  Store32(p_, static_cast<uint32_t>(new_bytes));
}

namespace {

void WriteEntry(uint8_t* p, const Encoded& e) {
  memcpy(p, e.head, e.head_len);
  if (!e.str.empty()) memcpy(p + e.head_len, e.str.data(), e.str.size());
  PutBackVarint(p + e.total(), e.body());
}

}  // namespace

ListNodePack::Pos ListNodePack::Insert(Pos pos, std::string_view v) {
  Encoded e = Encode(v);
  Resize(pos, static_cast<int64_t>(e.total()));
  WriteEntry(p_ + pos, e);
  Store32(p_ + 4, size() + 1);
  return pos;
}

ListNodePack::Pos ListNodePack::Erase(Pos pos, size_t count) {
  Pos end = pos;
  size_t n = 0;
  for (; n < count && end < End(); ++n) end = Next(end);
  Resize(pos, -static_cast<int64_t>(end - pos));
  Store32(p_ + 4, static_cast<uint32_t>(size() - n));
  return pos;
}

ListNodePack::Pos ListNodePack::Replace(Pos pos, std::string_view v) {
  size_t old_size = Next(pos) - pos;
  Encoded e = Encode(v);
  size_t need = e.total();
  if (need > old_size) {
    Resize(pos, static_cast<int64_t>(need - old_size));
  } else if (need < old_size) {
    Resize(pos, -static_cast<int64_t>(old_size - need));
  }
  WriteEntry(p_ + pos, e);
  return pos;
}

void ListNodePack::Concat(ListNodePack other) {
  size_t a_bytes = bytes();
  size_t b_entries = other.bytes() - kHeader;
  uint32_t count = size() + other.size();
  p_ = static_cast<uint8_t*>(StoreRealloc(p_, a_bytes + b_entries));
  memcpy(p_ + a_bytes, other.p_ + kHeader, b_entries);
  Store32(p_, static_cast<uint32_t>(a_bytes + b_entries));
  Store32(p_ + 4, count);
  other.Free();
}

ListNodePack ListNodePack::SplitAt(Pos at, uint32_t before) {
  size_t tail_bytes = bytes() - at;
  uint32_t tail_count = size() - before;
  auto* q = static_cast<uint8_t*>(StoreAlloc(kHeader + tail_bytes));
  memcpy(q + kHeader, p_ + at, tail_bytes);
  Store32(q, static_cast<uint32_t>(kHeader + tail_bytes));
  Store32(q + 4, tail_count);
  p_ = static_cast<uint8_t*>(StoreRealloc(p_, at));
  Store32(p_, at);
  Store32(p_ + 4, before);
  return ListNodePack(q);
}

}  // namespace omnibus
