// Reply <-> Lua conversions, as Redis 7.0's script_lua.c does them ("Lua to RESP2/RESP3 type
// conversion" in the Redis docs), checked against redis-server 7.0.15.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "lua_internal.h"

namespace omnibus::script_internal {

namespace {

// Makes room for `n` more slots. A reply nested deeper than Lua's stack can hold is a
// malformed reply from a command, which cannot happen; Redis panics, we push what fits.
bool Room(lua_State* lua, int n) { return lua_checkstack(lua, n) != 0; }

void SetField(lua_State* lua, const char* key) {
  // Stack: table, value -> table.
  lua_setfield(lua, -2, key);
}

// A number as Redis replies it: (long long) of the double. x86 converts NaN and anything
// outside int64 to INT64_MIN; C++ leaves that undefined, so spell it out.
int64_t LuaNumberToInteger(double v) {
  if (std::isnan(v) || v >= 9223372036854775808.0 || v < -9223372036854775808.0) {
    return INT64_MIN;
  }
  return static_cast<int64_t>(v);
}

}  // namespace

int FormatArgNumber(double v, char* buf, size_t size) {
  return std::snprintf(buf, size, "%.17g", v);
}

void PushErrorTable(lua_State* lua, std::string_view text) {
  std::string_view code = "ERR";
  std::string_view msg = text;
  if (!text.empty() && text[0] == '-') {
    size_t space = text.find(' ');
    if (space == std::string_view::npos) {
      msg = text.substr(1);
    } else {
      code = text.substr(1, space - 1);
      msg = text.substr(space + 1);
    }
  }
  // sdstrim(msg, "\r\n"): both ends.
  while (!msg.empty() && (msg.front() == '\r' || msg.front() == '\n')) msg.remove_prefix(1);
  while (!msg.empty() && (msg.back() == '\r' || msg.back() == '\n')) msg.remove_suffix(1);
  lua_createtable(lua, 0, 1);
  luaL_Buffer b;
  luaL_buffinit(lua, &b);
  luaL_addlstring(&b, code.data(), code.size());
  luaL_addchar(&b, ' ');
  luaL_addlstring(&b, msg.data(), msg.size());
  luaL_pushresult(&b);
  SetField(lua, "err");
}

namespace {

// Deeper than any command replies; keeps the pushes far below Lua's stack limit, so Room()
// cannot fail and every call pushes exactly one value.
constexpr int kMaxReplyDepth = 1000;

void PushReply(lua_State* lua, const ReplyValue& v, int resp, int depth);

}  // namespace

void PushReplyValue(lua_State* lua, const ReplyValue& v, int resp) { PushReply(lua, v, resp, 0); }

namespace {

void PushReply(lua_State* lua, const ReplyValue& v, int resp, int depth) {
  using Kind = ReplyValue::Kind;
  if (!Room(lua, 4)) return;  // cannot happen under kMaxReplyDepth (see there)
  if (depth > kMaxReplyDepth) {
    lua_pushboolean(lua, 0);
    return;
  }
  const bool resp3 = resp >= 3;
  switch (v.kind) {
    case Kind::kSimple:
      lua_createtable(lua, 0, 1);
      lua_pushlstring(lua, v.str.data(), v.str.size());
      SetField(lua, "ok");
      return;
    case Kind::kError: {
      std::string dashed = "-" + v.str;
      PushErrorTable(lua, dashed);
      return;
    }
    case Kind::kInteger:
      lua_pushnumber(lua, static_cast<lua_Number>(v.integer));
      return;
    case Kind::kBulk:
      lua_pushlstring(lua, v.str.data(), v.str.size());
      return;
    case Kind::kNull:
    case Kind::kNullArray:
      // RESP2's null bulk and null array are false; RESP3's null is nil.
      if (resp3) {
        lua_pushnil(lua);
      } else {
        lua_pushboolean(lua, 0);
      }
      return;
    case Kind::kDouble:
      if (resp3) {
        lua_createtable(lua, 0, 1);
        lua_pushnumber(lua, v.dbl);
        SetField(lua, "double");
      } else {
        std::string s = FormatDoubleReply(v.dbl);
        lua_pushlstring(lua, s.data(), s.size());
      }
      return;
    case Kind::kBool:
      if (resp3) {
        lua_pushboolean(lua, v.integer != 0);
      } else {
        lua_pushnumber(lua, v.integer != 0 ? 1 : 0);
      }
      return;
    case Kind::kVerbatim:
      if (resp3) {
        lua_createtable(lua, 0, 1);
        lua_createtable(lua, 0, 2);
        lua_pushlstring(lua, v.str.data(), v.str.size());
        SetField(lua, "string");
        lua_pushlstring(lua, v.format.data(), v.format.size());
        SetField(lua, "format");
        SetField(lua, "verbatim_string");
      } else {
        lua_pushlstring(lua, v.str.data(), v.str.size());
      }
      return;
    case Kind::kArray:
      if (resp3 && v.aggregate == '%') {
        lua_createtable(lua, 0, 1);
        lua_createtable(lua, 0, static_cast<int>(v.elements.size() / 2));
        for (size_t i = 0; i + 1 < v.elements.size(); i += 2) {
          PushReply(lua, v.elements[i], resp, depth + 1);
          PushReply(lua, v.elements[i + 1], resp, depth + 1);
          // A nil key (a RESP3 null as a map key) cannot be stored; Redis would raise.
          if (lua_isnil(lua, -2)) {
            lua_pop(lua, 2);
          } else {
            lua_rawset(lua, -3);
          }
        }
        SetField(lua, "map");
        return;
      }
      if (resp3 && v.aggregate == '~') {
        lua_createtable(lua, 0, 1);
        lua_createtable(lua, 0, static_cast<int>(v.elements.size()));
        for (const ReplyValue& e : v.elements) {
          PushReply(lua, e, resp, depth + 1);
          if (lua_isnil(lua, -1)) {
            lua_pop(lua, 1);
            continue;
          }
          lua_pushboolean(lua, 1);
          lua_rawset(lua, -3);
        }
        SetField(lua, "set");
        return;
      }
      // Arrays, and maps and sets in RESP2 (flattened as the RESP2 reply is).
      lua_createtable(lua, static_cast<int>(v.elements.size()), 0);
      for (size_t i = 0; i < v.elements.size(); ++i) {
        PushReply(lua, v.elements[i], resp, depth + 1);
        lua_rawseti(lua, -2, static_cast<int>(i + 1));
      }
      return;
    case Kind::kNone:
      break;
  }
  lua_pushboolean(lua, 0);
}

// Looks up t[key] for the table on top, leaving the value on the stack; returns its type.
// Raw: redis-server 7.0.15 ignores metatables here (a returned table whose __index gives
// 'ok' or raises is still an empty array), and raw access cannot run script code.
int GetField(lua_State* lua, const char* key) {
  lua_pushstring(lua, key);
  lua_rawget(lua, -2);
  return lua_type(lua, -1);
}

// The CR/LF of a status or big-number line become spaces (Redis's sdsmapchars).
void AppendLine(std::string* out, const char* s, size_t len) {
  size_t start = out->size();
  out->append(s, len);
  for (size_t i = start; i < out->size(); ++i) {
    if ((*out)[i] == '\r' || (*out)[i] == '\n') (*out)[i] = ' ';
  }
}

}  // namespace

// Only raw accesses, so no script code runs and nothing raises but memory exhaustion (a
// longjmp: the std::string temporaries below live in scopes no Lua call interrupts).
void WriteLuaReply(lua_State* lua, ReplyBuilder* out, int script_resp) {
  if (!lua_checkstack(lua, 4)) {
    out->Error("ERR reached lua stack limit");
    lua_pop(lua, 1);
    return;
  }
  switch (lua_type(lua, -1)) {
    case LUA_TSTRING: {
      size_t len = 0;
      const char* s = lua_tolstring(lua, -1, &len);
      out->Bulk(std::string_view(s, len));
      break;
    }
    case LUA_TBOOLEAN:
      if (script_resp == 2) {
        if (lua_toboolean(lua, -1)) {
          out->Integer(1);
        } else {
          out->Null();
        }
      } else {
        out->Bool(lua_toboolean(lua, -1) != 0);
      }
      break;
    case LUA_TNUMBER:
      out->Integer(LuaNumberToInteger(lua_tonumber(lua, -1)));
      break;
    case LUA_TTABLE: {
      // {err=...}: the error text as is (a leading '-' in it is kept: "--Foo").
      if (GetField(lua, "err") == LUA_TSTRING) {
        size_t len = 0;
        const char* s = lua_tolstring(lua, -1, &len);
        out->Error(std::string_view(s, len));
        lua_pop(lua, 2);
        return;
      }
      lua_pop(lua, 1);
      if (GetField(lua, "ok") == LUA_TSTRING) {
        size_t len = 0;
        const char* s = lua_tolstring(lua, -1, &len);
        {
          std::string line;
          AppendLine(&line, s, len);
          out->SimpleString(line);
        }
        lua_pop(lua, 2);
        return;
      }
      lua_pop(lua, 1);
      if (GetField(lua, "double") == LUA_TNUMBER) {
        out->Double(lua_tonumber(lua, -1));
        lua_pop(lua, 2);
        return;
      }
      lua_pop(lua, 1);
      if (GetField(lua, "big_number") == LUA_TSTRING) {
        size_t len = 0;
        const char* s = lua_tolstring(lua, -1, &len);
        {
          std::string num;
          AppendLine(&num, s, len);
          // ReplyBuilder has no big-number type: RESP3 writes '(' itself, RESP2 (and a
          // capturing builder, whose ReplyValue has no such kind) gets a bulk string.
          if (out->resp3() && out->out() != nullptr) {
            out->out()->push_back('(');
            out->out()->append(num);
            out->out()->append("\r\n");
          } else {
            out->Bulk(num);
          }
        }
        lua_pop(lua, 2);
        return;
      }
      lua_pop(lua, 1);
      if (GetField(lua, "verbatim_string") == LUA_TTABLE) {
        if (GetField(lua, "format") == LUA_TSTRING) {
          lua_pushliteral(lua, "string");
          lua_rawget(lua, -3);  // from the verbatim table, below the format
          if (lua_type(lua, -1) == LUA_TSTRING) {
            size_t flen = 0, slen = 0;
            const char* f = lua_tolstring(lua, -2, &flen);
            const char* s = lua_tolstring(lua, -1, &slen);
            // Redis writes exactly three format bytes: cut or padded with spaces.
            char format[3] = {' ', ' ', ' '};
            for (size_t i = 0; i < flen && i < 3; ++i) format[i] = f[i];
            out->Verbatim(std::string_view(format, 3), std::string_view(s, slen));
            lua_pop(lua, 4);
            return;
          }
          lua_pop(lua, 1);
        }
        lua_pop(lua, 1);
      }
      lua_pop(lua, 1);
      if (GetField(lua, "map") == LUA_TTABLE) {
        // ReplyBuilder wants the count first; Redis defers it. Count, then write.
        size_t pairs = 0;
        lua_pushnil(lua);
        while (lua_next(lua, -2)) {
          lua_pop(lua, 1);
          ++pairs;
        }
        out->Map(pairs);
        lua_pushnil(lua);
        while (lua_next(lua, -2)) {
          // Stack: map, key, value. Write a copy of the key, then the value; the key stays
          // for lua_next.
          lua_pushvalue(lua, -2);
          WriteLuaReply(lua, out, script_resp);
          WriteLuaReply(lua, out, script_resp);
        }
        lua_pop(lua, 2);
        return;
      }
      lua_pop(lua, 1);
      if (GetField(lua, "set") == LUA_TTABLE) {
        size_t n = 0;
        lua_pushnil(lua);
        while (lua_next(lua, -2)) {
          lua_pop(lua, 1);
          ++n;
        }
        out->Set(n);
        lua_pushnil(lua);
        while (lua_next(lua, -2)) {
          lua_pop(lua, 1);         // drop the value
          lua_pushvalue(lua, -1);  // key copy
          WriteLuaReply(lua, out, script_resp);
        }
        lua_pop(lua, 2);
        return;
      }
      lua_pop(lua, 1);
      // An array: elements 1, 2, ... up to the first nil (a hole ends it).
      size_t n = 0;
      for (;;) {
        lua_rawgeti(lua, -1, static_cast<int>(n + 1));
        bool nil = lua_isnil(lua, -1);
        lua_pop(lua, 1);
        if (nil) break;
        ++n;
      }
      out->Array(n);
      for (size_t j = 1; j <= n; ++j) {
        lua_rawgeti(lua, -1, static_cast<int>(j));
        WriteLuaReply(lua, out, script_resp);
      }
      break;
    }
    default:
      out->Null();
  }
  lua_pop(lua, 1);
}

}  // namespace omnibus::script_internal
