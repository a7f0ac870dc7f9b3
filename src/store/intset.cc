#include "omnibus/store/intset.h"

#include <cstring>

#include "omnibus/store/memory.h"

namespace omnibus {

IntSet IntSet::Create() {
  IntSet is(StoreAlloc(kHeader));
  is.SetHeader(2, 0);
  return is;
}

void IntSet::Free() {
  StoreFree(p_);
  p_ = nullptr;
}

IntSet IntSet::Copy() const {
  uint8_t* p = static_cast<uint8_t*>(StoreAlloc(bytes()));
  memcpy(p, p_, bytes());
  return IntSet(p);
}

uint32_t IntSet::WidthFor(int64_t v) {
  if (v >= INT16_MIN && v <= INT16_MAX) return 2;
  if (v >= INT32_MIN && v <= INT32_MAX) return 4;
  return 8;
}

int64_t IntSet::Get(uint32_t index, uint32_t width) const {
  const uint8_t* e = p_ + kHeader + static_cast<size_t>(index) * width;
  switch (width) {
    case 2: {
      int16_t v;
      memcpy(&v, e, 2);
      return v;
    }
    case 4: {
      int32_t v;
      memcpy(&v, e, 4);
      return v;
    }
    default: {
      int64_t v;
      memcpy(&v, e, 8);
      return v;
    }
  }
}

void IntSet::Set(uint32_t index, int64_t v) {
  uint8_t* e = p_ + kHeader + static_cast<size_t>(index) * width();
  switch (width()) {
    case 2: {
      int16_t x = static_cast<int16_t>(v);
      memcpy(e, &x, 2);
      break;
    }
    case 4: {
      int32_t x = static_cast<int32_t>(v);
      memcpy(e, &x, 4);
      break;
    }
    default:
      memcpy(e, &v, 8);
  }
}

bool IntSet::Search(int64_t v, uint32_t* index) const {
  uint32_t lo = 0;
  uint32_t hi = size();
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int64_t m = At(mid);
    if (m == v) {
      *index = mid;
      return true;
    }
    if (m < v) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *index = lo;
  return false;
}

bool IntSet::Contains(int64_t v) const {
  if (WidthFor(v) > width()) return false;
  uint32_t i;
  return Search(v, &i);
}

void IntSet::Upgrade(int64_t v) {
  uint32_t old_width = width();
  uint32_t new_width = WidthFor(v);
  uint32_t n = size();
  p_ = static_cast<uint8_t*>(StoreRealloc(p_, kHeader + static_cast<size_t>(n + 1) * new_width));
  SetHeader(new_width, n);
  // A value that needs a wider type is beyond every current member: it goes first if
  // negative, last if positive. Rewrite from the back so no element is overwritten unread.
  uint32_t shift = v < 0 ? 1 : 0;
  for (uint32_t i = n; i-- > 0;) Set(i + shift, Get(i, old_width));
  SetHeader(new_width, n + 1);
  Set(v < 0 ? 0 : n, v);
}

bool IntSet::Add(int64_t v) {
  if (WidthFor(v) > width()) {
    Upgrade(v);
    return true;
  }
  uint32_t i;
  if (Search(v, &i)) return false;
  uint32_t n = size();
  size_t w = width();
  p_ = static_cast<uint8_t*>(StoreRealloc(p_, kHeader + (n + 1) * w));
  uint8_t* at = p_ + kHeader + i * w;
  memmove(at + w, at, (n - i) * w);
  SetHeader(width(), n + 1);
  Set(i, v);
  return true;
}

bool IntSet::Remove(int64_t v) {
  if (WidthFor(v) > width()) return false;
  uint32_t i;
  if (!Search(v, &i)) return false;
  uint32_t n = size();
  size_t w = width();
  uint8_t* at = p_ + kHeader + i * w;
  memmove(at, at + w, (n - i - 1) * w);
  SetHeader(width(), n - 1);
  p_ = static_cast<uint8_t*>(StoreRealloc(p_, kHeader + (n - 1) * w));
  return true;
}

}  // namespace omnibus
