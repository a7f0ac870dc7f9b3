// The `struct` library Redis bundles (Roberto Ierusalimschy's struct.c, Lua 5.1 era):
// struct.pack(fmt, ...), struct.unpack(fmt, s [, pos]) and struct.size(fmt). Written again
// here because Debian does not package it for Lua 5.1; formats and errors follow Redis's.
//
//   >  big endian          <  little endian        ![n]  alignment (default: max native)
//   x  one zero byte       b/B  signed/unsigned char  h/H  short   l/L  long   T  size_t
//   i/I[n]  int of n bytes (default 4)   f float   d double
//   c[n]  n characters (c0: pack the whole string / unpack a size given by the previous value)
//   s  zero-terminated string             ' '  ignored
//
// Only C-style locals: every luaL_* check may longjmp out of these functions.

#include <cctype>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "lua_internal.h"

namespace omnibus::script_internal {
namespace {

constexpr int kMaxIntSize = 32;
enum Endian { kBig = 0, kLittle = 1 };

struct Header {
  int endian;
  int align;
};

constexpr int kNativeEndian = kLittle;  // the platforms Omnibus builds on
constexpr int kMaxAlign = 8;            // offsetof(struct { char c; double d; }, d) on them

bool IsPowerOf2(int x) { return (x & (x - 1)) == 0; }

void DefaultOptions(Header* h) {
  h->endian = kNativeEndian;
  h->align = 1;
}

int GetNum(lua_State* lua, const char** fmt, int df) {
  if (!std::isdigit(static_cast<unsigned char>(**fmt))) return df;
  int a = 0;
  do {
    if (a > (INT_MAX / 10) || a * 10 > (INT_MAX - (**fmt - '0'))) {
      luaL_error(lua, "integral size overflow");
    }
    a = a * 10 + *((*fmt)++) - '0';
  } while (std::isdigit(static_cast<unsigned char>(**fmt)));
  return a;
}

size_t OptSize(lua_State* lua, char opt, const char** fmt) {
  switch (opt) {
    case 'B':
    case 'b':
      return sizeof(char);
    case 'H':
    case 'h':
      return sizeof(short);
    case 'L':
    case 'l':
      return sizeof(long);
    case 'T':
      return sizeof(size_t);
    case 'f':
      return sizeof(float);
    case 'd':
      return sizeof(double);
    case 'x':
      return 1;
    case 'c':
      return static_cast<size_t>(GetNum(lua, fmt, 1));
    case 'i':
    case 'I': {
      int sz = GetNum(lua, fmt, sizeof(int));
      if (sz > kMaxIntSize) {
        luaL_error(lua, "integral size %d is larger than limit of %d", sz, kMaxIntSize);
      }
      return static_cast<size_t>(sz);
    }
    default:
      return 0;
  }
}

// Padding needed before an item of `size` at offset `len`.
size_t ToAlign(size_t len, const Header* h, char opt, size_t size) {
  if (size == 0 || opt == 'c') return 0;
  if (size > static_cast<size_t>(h->align)) size = static_cast<size_t>(h->align);
  return (size - (len & (size - 1))) & (size - 1);
}

void ControlOptions(lua_State* lua, char opt, const char** fmt, Header* h) {
  switch (opt) {
    case ' ':
      return;
    case '>':
      h->endian = kBig;
      return;
    case '<':
      h->endian = kLittle;
      return;
    case '!': {
      int a = GetNum(lua, fmt, kMaxAlign);
      if (!IsPowerOf2(a)) luaL_error(lua, "alignment %d is not a power of 2", a);
      h->align = a;
      return;
    }
    default:
      luaL_argerror(lua, 1, lua_pushfstring(lua, "invalid format option '%c'", opt));
  }
}

void PutInteger(lua_State* lua, luaL_Buffer* b, int arg, int endian, size_t size) {
  lua_Number n = luaL_checknumber(lua, arg);
  uint64_t value =
      n < 0 ? static_cast<uint64_t>(static_cast<int64_t>(n)) : static_cast<uint64_t>(n);
  char buff[kMaxIntSize];
  for (size_t i = 0; i < size; ++i) {
    buff[i] = static_cast<char>(value & 0xff);
    value = i < 7 ? value >> 8 : 0;
  }
  if (endian == kBig) {
    for (size_t i = 0; i < size / 2; ++i) {
      char t = buff[i];
      buff[i] = buff[size - 1 - i];
      buff[size - 1 - i] = t;
    }
  }
  luaL_addlstring(b, buff, size);
}

// Native (little-endian) bytes of a float/double into the requested order.
void CorrectBytes(char* p, size_t size, int endian) {
  if (endian == kNativeEndian) return;
  for (size_t i = 0; i < size / 2; ++i) {
    char t = p[i];
    p[i] = p[size - 1 - i];
    p[size - 1 - i] = t;
  }
}

int Pack(lua_State* lua) {
  Header h;
  const char* fmt = luaL_checkstring(lua, 1);
  int arg = 2;
  size_t total = 0;
  DefaultOptions(&h);
  // struct.c's mark between the arguments and the buffer: it also makes a missing argument
  // right after them read as nil ("number expected, got nil"), as in Redis.
  lua_pushnil(lua);
  luaL_Buffer b;
  luaL_buffinit(lua, &b);
  while (*fmt != '\0') {
    char opt = *fmt++;
    size_t size = OptSize(lua, opt, &fmt);
    size_t pad = ToAlign(total, &h, opt, size);
    total += pad;
    while (pad-- > 0) luaL_addchar(&b, '\0');
    switch (opt) {
      case 'b':
      case 'B':
      case 'h':
      case 'H':
      case 'l':
      case 'L':
      case 'T':
      case 'i':
      case 'I':
        PutInteger(lua, &b, arg++, h.endian, size);
        break;
      case 'x':
        luaL_addchar(&b, '\0');
        break;
      case 'f': {
        float f = static_cast<float>(luaL_checknumber(lua, arg++));
        char bytes[sizeof(f)];
        std::memcpy(bytes, &f, sizeof(f));
        CorrectBytes(bytes, sizeof(f), h.endian);
        luaL_addlstring(&b, bytes, size);
        break;
      }
      case 'd': {
        double d = luaL_checknumber(lua, arg++);
        char bytes[sizeof(d)];
        std::memcpy(bytes, &d, sizeof(d));
        CorrectBytes(bytes, sizeof(d), h.endian);
        luaL_addlstring(&b, bytes, size);
        break;
      }
      case 'c':
      case 's': {
        size_t l = 0;
        const char* s = luaL_checklstring(lua, arg++, &l);
        if (size == 0) size = l;
        luaL_argcheck(lua, l >= size, arg, "string too short");
        luaL_addlstring(&b, s, size);
        if (opt == 's') {
          luaL_addchar(&b, '\0');
          size++;
        }
        break;
      }
      default:
        ControlOptions(lua, opt, &fmt, &h);
    }
    total += size;
  }
  luaL_pushresult(&b);
  return 1;
}

lua_Number GetInteger(const char* buff, int endian, bool is_signed, size_t size) {
  uint64_t l = 0;
  if (endian == kBig) {
    for (size_t i = 0; i < size; ++i) l = (l << 8) | static_cast<unsigned char>(buff[i]);
  } else {
    for (size_t i = size; i-- > 0;) l = (l << 8) | static_cast<unsigned char>(buff[i]);
  }
  if (!is_signed) return static_cast<lua_Number>(l);
  if (size > 0 && size < 8) {
    uint64_t mask = ~uint64_t{0} << (size * 8 - 1);
    if (l & mask) l |= mask;  // sign extension
  }
  return static_cast<lua_Number>(static_cast<int64_t>(l));
}

int Unpack(lua_State* lua) {
  Header h;
  const char* fmt = luaL_checkstring(lua, 1);
  size_t ld = 0;
  const char* data = luaL_checklstring(lua, 2, &ld);
  lua_Integer start = luaL_optinteger(lua, 3, 1);
  // Redis reads the offset into a size_t: only 0 is refused here; a negative one wraps and
  // fails as "data string too short" at the first option (or comes back as is without one).
  luaL_argcheck(lua, start != 0, 3, "offset must be 1 or greater");
  size_t pos = static_cast<size_t>(start) - 1;
  int n = 0;
  DefaultOptions(&h);
  lua_settop(lua, 2);
  while (*fmt != '\0') {
    char opt = *fmt++;
    size_t size = OptSize(lua, opt, &fmt);
    pos += ToAlign(pos, &h, opt, size);
    luaL_argcheck(lua, size <= ld && pos <= ld - size, 2, "data string too short");
    luaL_checkstack(lua, 2, "too many results");
    switch (opt) {
      case 'b':
      case 'B':
      case 'h':
      case 'H':
      case 'l':
      case 'L':
      case 'T':
      case 'i':
      case 'I': {
        bool is_signed = std::islower(static_cast<unsigned char>(opt)) != 0;
        lua_pushnumber(lua, GetInteger(data + pos, h.endian, is_signed, size));
        n++;
        break;
      }
      case 'x':
        break;
      case 'f': {
        char bytes[sizeof(float)];
        std::memcpy(bytes, data + pos, size);
        CorrectBytes(bytes, sizeof(float), h.endian);
        float f;
        std::memcpy(&f, bytes, sizeof(f));
        lua_pushnumber(lua, f);
        n++;
        break;
      }
      case 'd': {
        char bytes[sizeof(double)];
        std::memcpy(bytes, data + pos, size);
        CorrectBytes(bytes, sizeof(double), h.endian);
        double d;
        std::memcpy(&d, bytes, sizeof(d));
        lua_pushnumber(lua, d);
        n++;
        break;
      }
      case 'c': {
        if (size == 0) {
          if (n == 0 || !lua_isnumber(lua, -1))
            luaL_error(lua, "format 'c0' needs a previous size");
          size = static_cast<size_t>(lua_tonumber(lua, -1));
          lua_pop(lua, 1);
          n--;
          luaL_argcheck(lua, size <= ld && pos <= ld - size, 2, "data string too short");
        }
        lua_pushlstring(lua, data + pos, size);
        n++;
        break;
      }
      case 's': {
        const void* e = std::memchr(data + pos, '\0', ld - pos);
        if (e == nullptr) luaL_error(lua, "unfinished string in data");
        size = static_cast<size_t>(static_cast<const char*>(e) - (data + pos)) + 1;
        lua_pushlstring(lua, data + pos, size - 1);
        n++;
        break;
      }
      default:
        ControlOptions(lua, opt, &fmt, &h);
    }
    pos += size;
  }
  lua_pushinteger(lua, static_cast<lua_Integer>(pos) + 1);
  return n + 1;
}

int Size(lua_State* lua) {
  Header h;
  const char* fmt = luaL_checkstring(lua, 1);
  size_t pos = 0;
  DefaultOptions(&h);
  while (*fmt != '\0') {
    char opt = *fmt++;
    size_t size = OptSize(lua, opt, &fmt);
    pos += ToAlign(pos, &h, opt, size);
    if (opt == 's') {
      luaL_argerror(lua, 1, "option 's' has no fixed size");
    } else if (opt == 'c' && size == 0) {
      luaL_argerror(lua, 1, "option 'c0' has no fixed size");
    }
    if (!std::isalnum(static_cast<unsigned char>(opt))) ControlOptions(lua, opt, &fmt, &h);
    pos += size;
  }
  lua_pushinteger(lua, static_cast<lua_Integer>(pos));
  return 1;
}

}  // namespace

int OpenStruct(lua_State* lua) {
  const luaL_Reg functions[] = {
      {"pack", Pack}, {"unpack", Unpack}, {"size", Size}, {nullptr, nullptr}};
  lua_newtable(lua);
  luaL_register(lua, nullptr, functions);
  return 1;
}

}  // namespace omnibus::script_internal
