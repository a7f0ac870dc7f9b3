#include "omnibus/store/listpack.h"

#include <cstring>
#include <stdexcept>

#include "omnibus/store/memory.h"
#include "omnibus/store/varint.h"

namespace omnibus {
namespace {

size_t EntrySize(size_t len) { return 2 * VarintSize(len) + len; }

}  // namespace

Listpack Listpack::Create() {
  uint8_t* p = static_cast<uint8_t*>(StoreAlloc(kHeader));
  Store32(p, kHeader);
  Store32(p + 4, 0);
  return Listpack(p);
}

void Listpack::Free() {
  StoreFree(p_);
  p_ = nullptr;
}

Listpack Listpack::Copy() const {
  uint8_t* p = static_cast<uint8_t*>(StoreAlloc(bytes()));
  memcpy(p, p_, bytes());
  return Listpack(p);
}

Listpack::Pos Listpack::Next(Pos pos) const {
  size_t used;
  uint64_t len = GetVarint(p_ + pos, &used);
  return static_cast<Pos>(pos + used + len + VarintSize(len));
}

Listpack::Pos Listpack::Prev(Pos pos) const {
  size_t used;
  uint64_t len = GetBackVarint(p_ + pos, &used);
  return static_cast<Pos>(pos - used - len - VarintSize(len));
}

std::string_view Listpack::At(Pos pos) const {
  size_t used;
  uint64_t len = GetVarint(p_ + pos, &used);
  return {reinterpret_cast<const char*>(p_ + pos + used), static_cast<size_t>(len)};
}

Listpack::Pos Listpack::Seek(int64_t index) const {
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

void Listpack::Resize(Pos pos, int64_t grow) {
  size_t old_bytes = bytes();
  size_t new_bytes = static_cast<size_t>(static_cast<int64_t>(old_bytes) + grow);
  if (new_bytes > UINT32_MAX) throw std::length_error("listpack too large");
  if (grow > 0) {
    p_ = static_cast<uint8_t*>(StoreRealloc(p_, new_bytes));
    memmove(p_ + pos + grow, p_ + pos, old_bytes - pos);
  } else if (grow < 0) {
    memmove(p_ + pos, p_ + pos - grow, old_bytes - pos + grow);
    p_ = static_cast<uint8_t*>(StoreRealloc(p_, new_bytes));
  }
  Store32(p_, static_cast<uint32_t>(new_bytes));
}

Listpack::Pos Listpack::Insert(Pos pos, std::string_view v) {
  size_t need = EntrySize(v.size());
  Resize(pos, static_cast<int64_t>(need));
  uint8_t* e = PutVarint(p_ + pos, v.size());
  if (!v.empty()) memcpy(e, v.data(), v.size());
  PutBackVarint(p_ + pos + need, v.size());
  Store32(p_ + 4, size() + 1);
  return pos;
}

Listpack::Pos Listpack::Erase(Pos pos, size_t count) {
  Pos end = pos;
  size_t n = 0;
  for (; n < count && end < End(); ++n) end = Next(end);
  Resize(pos, -static_cast<int64_t>(end - pos));
  Store32(p_ + 4, static_cast<uint32_t>(size() - n));
  return pos;
}

Listpack::Pos Listpack::Replace(Pos pos, std::string_view v) {
  size_t old_size = Next(pos) - pos;
  size_t need = EntrySize(v.size());
  if (need > old_size) {
    Resize(pos, static_cast<int64_t>(need - old_size));
  } else if (need < old_size) {
    Resize(pos, -static_cast<int64_t>(old_size - need));
  }
  uint8_t* e = PutVarint(p_ + pos, v.size());
  if (!v.empty()) memcpy(e, v.data(), v.size());
  PutBackVarint(p_ + pos + need, v.size());
  return pos;
}

Listpack::Pos Listpack::Find(std::string_view v, size_t stride) const {
  Pos end = End();
  Pos pos = Begin();
  while (pos < end) {
    if (At(pos) == v) return pos;
    for (size_t i = 0; i < stride && pos < end; ++i) pos = Next(pos);
  }
  return end;
}

}  // namespace omnibus
