// The `cmsgpack` library Redis bundles (lua-cmsgpack 0.4): cmsgpack.pack(...) and
// cmsgpack.unpack(s), unpack_one(s [, offset]), unpack_limit(s, limit [, offset]). Written
// again here because Debian does not package it for Lua 5.1; the encoding choices (smallest
// integer type, float32 when exact, array vs map) and the errors follow Redis's copy.
//
// Only C-style locals: every luaL_* call may longjmp out of these functions.

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "lua_internal.h"

namespace omnibus::script_internal {
namespace {

constexpr int kMaxNesting = 16;  // deeper tables are packed as nil, as lua-cmsgpack does

void AddBigEndian(luaL_Buffer* b, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) luaL_addchar(b, static_cast<char>((v >> (8 * i)) & 0xff));
}

void AddTagged(luaL_Buffer* b, unsigned char tag, uint64_t v, int bytes) {
  luaL_addchar(b, static_cast<char>(tag));
  AddBigEndian(b, v, bytes);
}

void EncodeInteger(luaL_Buffer* b, int64_t n) {
  if (n >= 0) {
    if (n <= 127) {
      luaL_addchar(b, static_cast<char>(n));
    } else if (n <= 0xff) {
      AddTagged(b, 0xcc, static_cast<uint64_t>(n), 1);
    } else if (n <= 0xffff) {
      AddTagged(b, 0xcd, static_cast<uint64_t>(n), 2);
    } else if (n <= 0xffffffffLL) {
      AddTagged(b, 0xce, static_cast<uint64_t>(n), 4);
    } else {
      AddTagged(b, 0xcf, static_cast<uint64_t>(n), 8);
    }
  } else {
    if (n >= -32) {
      luaL_addchar(b, static_cast<char>(static_cast<int8_t>(n)));  // 0xe0..0xff
    } else if (n >= -128) {
      AddTagged(b, 0xd0, static_cast<uint64_t>(n), 1);
    } else if (n >= -32768) {
      AddTagged(b, 0xd1, static_cast<uint64_t>(n), 2);
    } else if (n >= -2147483648LL) {
      AddTagged(b, 0xd2, static_cast<uint64_t>(n), 4);
    } else {
      AddTagged(b, 0xd3, static_cast<uint64_t>(n), 8);
    }
  }
}

void EncodeNumber(luaL_Buffer* b, lua_Number n) {
  // An integral value that fits int64 is an integer; anything else a float (float32 when
  // that is exact).
  if (!std::isinf(n) && !std::isnan(n) && n >= -9223372036854775808.0 &&
      n < 9223372036854775808.0 && static_cast<lua_Number>(static_cast<int64_t>(n)) == n) {
    EncodeInteger(b, static_cast<int64_t>(n));
    return;
  }
  float f = static_cast<float>(n);
  if (static_cast<double>(f) == n) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof(bits));
    AddTagged(b, 0xca, bits, 4);
  } else {
    uint64_t bits;
    std::memcpy(&bits, &n, sizeof(bits));
    AddTagged(b, 0xcb, bits, 8);
  }
}

void EncodeString(luaL_Buffer* b, const char* s, size_t len) {
  if (len < 32) {
    luaL_addchar(b, static_cast<char>(0xa0 | len));
  } else if (len <= 0xff) {
    AddTagged(b, 0xd9, len, 1);
  } else if (len <= 0xffff) {
    AddTagged(b, 0xda, len, 2);
  } else {
    AddTagged(b, 0xdb, len, 4);
  }
  luaL_addlstring(b, s, len);
}

// A table is an array when its keys are exactly 1..n (the empty table is one).
bool IsArray(lua_State* lua) {
  int top = lua_gettop(lua);
  long count = 0;
  lua_Number max = 0;
  lua_pushnil(lua);
  while (lua_next(lua, -2)) {
    lua_pop(lua, 1);
    lua_Number n;
    if (lua_type(lua, -1) != LUA_TNUMBER || (n = lua_tonumber(lua, -1)) <= 0 ||
        n != std::floor(n)) {
      lua_settop(lua, top);
      return false;
    }
    if (n > max) max = n;
    count++;
  }
  lua_settop(lua, top);
  return max == static_cast<lua_Number>(count);
}

void Encode(lua_State* lua, luaL_Buffer* b, int level);

void EncodeTable(lua_State* lua, luaL_Buffer* b, int level) {
  if (IsArray(lua)) {
    size_t len = lua_objlen(lua, -1);
    if (len <= 15) {
      luaL_addchar(b, static_cast<char>(0x90 | len));
    } else if (len <= 0xffff) {
      AddTagged(b, 0xdc, len, 2);
    } else {
      AddTagged(b, 0xdd, len, 4);
    }
    for (size_t j = 1; j <= len; ++j) {
      lua_rawgeti(lua, -1, static_cast<int>(j));
      Encode(lua, b, level + 1);
    }
    return;
  }
  size_t len = 0;
  lua_pushnil(lua);
  while (lua_next(lua, -2)) {
    lua_pop(lua, 1);
    len++;
  }
  if (len <= 15) {
    luaL_addchar(b, static_cast<char>(0x80 | len));
  } else if (len <= 0xffff) {
    AddTagged(b, 0xde, len, 2);
  } else {
    AddTagged(b, 0xdf, len, 4);
  }
  lua_pushnil(lua);
  while (lua_next(lua, -2)) {
    lua_pushvalue(lua, -2);  // key copy, encoded (and popped) first
    lua_insert(lua, -2);     // table, key, key, value
    lua_insert(lua, -2);     // table, key, value, key
    Encode(lua, b, level + 1);
    Encode(lua, b, level + 1);
  }
}

// Encodes and pops the value on top of the stack.
void Encode(lua_State* lua, luaL_Buffer* b, int level) {
  int t = lua_type(lua, -1);
  if (t == LUA_TTABLE && level == kMaxNesting) t = LUA_TNIL;
  switch (t) {
    case LUA_TBOOLEAN:
      luaL_addchar(b, static_cast<char>(lua_toboolean(lua, -1) ? 0xc3 : 0xc2));
      break;
    case LUA_TNUMBER:
      EncodeNumber(b, lua_tonumber(lua, -1));
      break;
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(lua, -1, &len);
      EncodeString(b, s, len);
      break;
    }
    case LUA_TTABLE:
      EncodeTable(lua, b, level);
      break;
    default:
      luaL_addchar(b, static_cast<char>(0xc0));
  }
  lua_pop(lua, 1);
}

// luaL_Buffer needs the stack top to itself between additions, and the encoder pushes
// (keys, nested values). So the values being encoded live on a separate thread's stack while
// the buffer grows on this one.
int Pack(lua_State* lua) {
  int nargs = lua_gettop(lua);
  if (nargs == 0) return luaL_argerror(lua, 0, "MessagePack pack needs input.");
  lua_State* worker = lua_newthread(lua);  // its stack holds the values being encoded
  // Grown here, on the running thread: an error raised on `worker` (never resumed) would
  // have no handler. kMaxNesting bounds what Encode pushes (3 slots a level).
  if (!lua_checkstack(worker, 8 + 3 * kMaxNesting)) return luaL_error(lua, "stack overflow");
  luaL_Buffer b;
  luaL_buffinit(lua, &b);
  for (int i = 1; i <= nargs; ++i) {
    lua_pushvalue(lua, i);
    lua_xmove(lua, worker, 1);
    Encode(worker, &b, 0);
  }
  luaL_pushresult(&b);
  return 1;
}

// ---- decoding ----

struct Cursor {
  const unsigned char* p;
  size_t left;
  int err;  // 0, kEof, kBadFormat
};
constexpr int kEof = 1;
constexpr int kBadFormat = 2;

bool Need(Cursor* c, size_t n) {
  if (c->left < n) {
    c->err = kEof;
    return false;
  }
  return true;
}

uint64_t ReadBigEndian(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

void Decode(lua_State* lua, Cursor* c);

void DecodeArray(lua_State* lua, Cursor* c, size_t n) {
  lua_newtable(lua);
  for (size_t i = 1; i <= n; ++i) {
    Decode(lua, c);
    if (c->err) return;
    lua_rawseti(lua, -2, static_cast<int>(i));
  }
}

void DecodeMap(lua_State* lua, Cursor* c, size_t n) {
  lua_newtable(lua);
  for (size_t i = 0; i < n; ++i) {
    Decode(lua, c);
    if (c->err) return;
    Decode(lua, c);
    if (c->err) return;
    // A nil (or NaN) key raises "table index is nil", as Redis's lua_settable does.
    lua_settable(lua, -3);
  }
}

void DecodeString(lua_State* lua, Cursor* c, int len_bytes) {
  if (!Need(c, static_cast<size_t>(1 + len_bytes))) return;
  size_t len = ReadBigEndian(c->p + 1, len_bytes);
  if (!Need(c, 1 + len_bytes + len)) return;
  lua_pushlstring(lua, reinterpret_cast<const char*>(c->p + 1 + len_bytes), len);
  c->p += 1 + len_bytes + len;
  c->left -= 1 + len_bytes + len;
}

// Reads a fixed-size number after the tag; pushes it.
bool ReadFixed(Cursor* c, int bytes, uint64_t* v) {
  if (!Need(c, static_cast<size_t>(1 + bytes))) return false;
  *v = ReadBigEndian(c->p + 1, bytes);
  c->p += 1 + bytes;
  c->left -= 1 + bytes;
  return true;
}

void Decode(lua_State* lua, Cursor* c) {
  luaL_checkstack(lua, 3, "cmsgpack: nesting too deep");
  if (!Need(c, 1)) return;
  unsigned char tag = c->p[0];
  uint64_t v = 0;
  switch (tag) {
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
      // Redis pushes these with Lua 5.1's lua_pushinteger (a signed ptrdiff_t), so a uint 64
      // past INT64_MAX comes out negative: 0xcf ff..ff is -1.
      int bytes = 1 << (tag - 0xcc);
      if (ReadFixed(c, bytes, &v)) {
        lua_pushnumber(lua, static_cast<lua_Number>(static_cast<int64_t>(v)));
      }
      return;
    }
    case 0xd0:
      if (ReadFixed(c, 1, &v)) lua_pushnumber(lua, static_cast<int8_t>(v));
      return;
    case 0xd1:
      if (ReadFixed(c, 2, &v)) lua_pushnumber(lua, static_cast<int16_t>(v));
      return;
    case 0xd2:
      if (ReadFixed(c, 4, &v)) lua_pushnumber(lua, static_cast<int32_t>(v));
      return;
    case 0xd3:
      if (ReadFixed(c, 8, &v)) {
        lua_pushnumber(lua, static_cast<lua_Number>(static_cast<int64_t>(v)));
      }
      return;
    case 0xc0:
      lua_pushnil(lua);
      c->p++;
      c->left--;
      return;
    case 0xc2:
    case 0xc3:
      lua_pushboolean(lua, tag == 0xc3);
      c->p++;
      c->left--;
      return;
    case 0xca:
      if (ReadFixed(c, 4, &v)) {
        uint32_t bits = static_cast<uint32_t>(v);
        float f;
        std::memcpy(&f, &bits, sizeof(f));
        lua_pushnumber(lua, f);
      }
      return;
    case 0xcb:
      if (ReadFixed(c, 8, &v)) {
        double d;
        std::memcpy(&d, &v, sizeof(d));
        lua_pushnumber(lua, d);
      }
      return;
    // bin 8/16/32 (0xc4-0xc6) are "Bad data format in input." in Redis's cmsgpack, which
    // predates them; it reads only the str forms.
    case 0xd9:
      return DecodeString(lua, c, 1);
    case 0xda:
      return DecodeString(lua, c, 2);
    case 0xdb:
      return DecodeString(lua, c, 4);
    case 0xdc:
      if (ReadFixed(c, 2, &v)) DecodeArray(lua, c, v);
      return;
    case 0xdd:
      if (ReadFixed(c, 4, &v)) DecodeArray(lua, c, v);
      return;
    case 0xde:
      if (ReadFixed(c, 2, &v)) DecodeMap(lua, c, v);
      return;
    case 0xdf:
      if (ReadFixed(c, 4, &v)) DecodeMap(lua, c, v);
      return;
    default:
      break;
  }
  c->p++;
  c->left--;
  if (tag <= 0x7f) {
    lua_pushnumber(lua, tag);
  } else if (tag >= 0xe0) {
    lua_pushnumber(lua, static_cast<int8_t>(tag));
  } else if ((tag & 0xe0) == 0xa0) {
    size_t len = tag & 0x1f;
    if (!Need(c, len)) return;
    lua_pushlstring(lua, reinterpret_cast<const char*>(c->p), len);
    c->p += len;
    c->left -= len;
  } else if ((tag & 0xf0) == 0x90) {
    DecodeArray(lua, c, tag & 0x0f);
  } else if ((tag & 0xf0) == 0x80) {
    DecodeMap(lua, c, tag & 0x0f);
  } else {
    c->err = kBadFormat;
  }
}

int UnpackFull(lua_State* lua, lua_Integer limit, lua_Integer offset) {
  size_t len = 0;
  const char* s = luaL_checklstring(lua, 1, &len);
  bool decode_all = limit == 0 && offset == 0;
  if (offset < 0 || limit < 0) {
    return luaL_error(lua, "Invalid request to unpack with offset of %d and limit of %d.",
                      static_cast<int>(offset), static_cast<int>(len));
  }
  if (static_cast<size_t>(offset) > len) {
    return luaL_error(lua, "Start offset %d greater than input length %d.",
                      static_cast<int>(offset), static_cast<int>(len));
  }
  if (decode_all) limit = INT_MAX;
  lua_settop(lua, 1);
  Cursor c{reinterpret_cast<const unsigned char*>(s) + offset, len - static_cast<size_t>(offset),
           0};
  int count = 0;
  for (; c.left > 0 && count < limit; ++count) {
    Decode(lua, &c);
    if (c.err == kEof) return luaL_error(lua, "Missing bytes in input.");
    if (c.err == kBadFormat) return luaL_error(lua, "Bad data format in input.");
  }
  if (!decode_all) {
    luaL_checkstack(lua, 1, "in function mp_unpack_full");
    lua_pushinteger(lua, c.left == 0 ? -1 : static_cast<lua_Integer>(len - c.left));
    lua_insert(lua, 2);
    count += 1;
  }
  return count;
}

int Unpack(lua_State* lua) { return UnpackFull(lua, 0, 0); }

int UnpackOne(lua_State* lua) {
  lua_Integer offset = luaL_optinteger(lua, 2, 0);
  return UnpackFull(lua, 1, offset);
}

int UnpackLimit(lua_State* lua) {
  lua_Integer limit = luaL_checkinteger(lua, 2);
  lua_Integer offset = luaL_optinteger(lua, 3, 0);
  return UnpackFull(lua, limit, offset);
}

}  // namespace

int OpenCmsgpack(lua_State* lua) {
  const luaL_Reg functions[] = {{"pack", Pack},
                                {"unpack", Unpack},
                                {"unpack_one", UnpackOne},
                                {"unpack_limit", UnpackLimit},
                                {nullptr, nullptr}};
  lua_newtable(lua);
  luaL_register(lua, nullptr, functions);
  lua_pushliteral(lua, "lua-cmsgpack");
  lua_setfield(lua, -2, "_NAME");
  lua_pushliteral(lua, "lua-cmsgpack 0.4.0");
  lua_setfield(lua, -2, "_VERSION");
  lua_pushliteral(lua, "Copyright (C) 2012, Salvatore Sanfilippo");
  lua_setfield(lua, -2, "_COPYRIGHT");
  lua_pushliteral(lua, "MessagePack C implementation for Lua");
  lua_setfield(lua, -2, "_DESCRIPTION");
  return 1;
}

}  // namespace omnibus::script_internal
