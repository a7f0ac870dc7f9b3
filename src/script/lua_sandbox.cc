// The sandbox, as Redis 7.0's: only the globals Redis keeps, and every table reachable from
// them read-only.
//
// Redis 7.0 patches its Lua so a table can be flagged read-only. Debian's Lua has no such
// flag, and a metatable's __newindex only sees keys that are absent. So each protected table
// is replaced by an empty proxy whose metatable reads through to the real table and refuses
// writes; the real tables are reachable only from C. The functions that bypass metatables
// (rawset, setmetatable, table.insert) refuse proxies, and those that would see the empty
// proxy (next, pairs, ipairs, rawget, getmetatable) look through it.

#include "lua_internal.h"

namespace omnibus::script_internal {
namespace {

constexpr char kProtectedKey[] = "omnibus.protected";  // proxy -> real table (weak keys)
constexpr char kReadonlyError[] = "Attempt to modify a readonly table";

// The globals Redis 7.0.15 leaves to scripts (pairs(_G) on redis-server, less KEYS/ARGV,
// which each run sets). Everything else the libraries registered is removed.
constexpr const char* kGlobalsAllowed[] = {
    "_G",
    "_VERSION",
    "__redis__err__handler",
    "assert",
    "bit",
    "cjson",
    "cmsgpack",
    "collectgarbage",
    "coroutine",
    "error",
    "gcinfo",
    "getmetatable",
    "ipairs",
    "load",
    "loadstring",
    "math",
    "next",
    "pairs",
    "pcall",
    "rawequal",
    "rawget",
    "rawset",
    "redis",
    "select",
    "setmetatable",
    "string",
    "struct",
    "table",
    "tonumber",
    "tostring",
    "type",
    "unpack",
    "xpcall",
};

// Pushes the real table behind the value at `idx` if it is a proxy; returns false (pushing
// nothing) otherwise.
bool PushRealTable(lua_State* lua, int idx) {
  if (!lua_istable(lua, idx)) return false;
  lua_getfield(lua, LUA_REGISTRYINDEX, kProtectedKey);
  lua_pushvalue(lua, idx > 0 || idx <= LUA_REGISTRYINDEX ? idx : idx - 1);
  lua_rawget(lua, -2);
  lua_remove(lua, -2);
  if (lua_isnil(lua, -1)) {
    lua_pop(lua, 1);
    return false;
  }
  return true;
}

// Redis's VM raises this from inside the C function, so it carries no "user_script:N:"
// prefix; the error handler still records the script line.
int RaiseReadonly(lua_State* lua) {
  lua_pushstring(lua, kReadonlyError);
  return lua_error(lua);
}

// __newindex of every proxy: like Redis's VM check, raised at the script's line.
int ProxyNewIndex(lua_State* lua) { return luaL_error(lua, kReadonlyError); }

// __index of the real globals, reached only for a global that does not exist: an error, not
// nil (Redis's luaProtectedTableError). The proxy's __index is the real table itself, so a
// global that exists costs no C call.
int MissingGlobal(lua_State* lua) {
  if (!lua_isstring(lua, 2)) {  // Redis's text names its C function
    return luaL_error(lua, "Second argument to luaProtectedTableError must be a string or number");
  }
  return luaL_error(lua, "Script attempted to access nonexistent global variable '%s'",
                    lua_tostring(lua, 2));
}

// A wrapper that refuses a proxy as first argument and otherwise calls upvalue 1.
int RefuseProxyThenCall(lua_State* lua) {
  if (PushRealTable(lua, 1)) return RaiseReadonly(lua);
  int argc = lua_gettop(lua);
  lua_pushvalue(lua, lua_upvalueindex(1));
  lua_insert(lua, 1);
  lua_call(lua, argc, LUA_MULTRET);
  return lua_gettop(lua);
}

// A wrapper that replaces a proxy first argument by its real table, then calls upvalue 1.
int SeeThroughProxyThenCall(lua_State* lua) {
  if (PushRealTable(lua, 1)) lua_replace(lua, 1);
  int argc = lua_gettop(lua);
  lua_pushvalue(lua, lua_upvalueindex(1));
  lua_insert(lua, 1);
  lua_call(lua, argc, LUA_MULTRET);
  return lua_gettop(lua);
}

// getmetatable through a proxy: the real table's (none for a library table, as Redis) —
// except for the globals, which have one in Redis (the allow-list guard): upvalue 1 stands
// for it, a read-only empty table.
int Getmetatable(lua_State* lua) {
  luaL_checkany(lua, 1);
  if (PushRealTable(lua, 1)) {
    lua_getfield(lua, LUA_REGISTRYINDEX, kRealGlobalsKey);
    bool globals = lua_rawequal(lua, -1, -2) != 0;
    lua_pop(lua, 2);
    if (globals) {
      lua_pushvalue(lua, lua_upvalueindex(1));
    } else {
      lua_pushnil(lua);  // library tables have no metatable of their own
    }
    return 1;
  }
  if (!lua_getmetatable(lua, 1)) {
    lua_pushnil(lua);
    return 1;
  }
  luaL_getmetafield(lua, 1, "__metatable");
  return 1;
}

// Redis's Lua parses every chunk as text (no precompiled bytecode, which could escape the
// sandbox): a binary chunk fails in the lexer at its ESC byte. Debian's Lua would load it,
// so a chunk starting with ESC gets a space in front: same error, same line, and the chunk
// name is still the original text.
int LoadChunk(lua_State* lua, const char* s, size_t len, const char* name) {
  int status;
  if (len > 0 && s[0] == '\033') {
    lua_pushliteral(lua, " ");
    lua_pushlstring(lua, s, len);
    lua_concat(lua, 2);
    size_t padded_len = 0;
    const char* padded = lua_tolstring(lua, -1, &padded_len);
    status = luaL_loadbuffer(lua, padded, padded_len, name);
  } else {
    status = luaL_loadbuffer(lua, s, len, name);
  }
  if (status == 0) return 1;
  lua_pushnil(lua);
  lua_insert(lua, -2);  // nil, message
  return 2;
}

int LuaLoadstring(lua_State* lua) {
  size_t len = 0;
  const char* s = luaL_checklstring(lua, 1, &len);
  const char* name = luaL_optstring(lua, 2, s);
  return LoadChunk(lua, s, len, name);
}

// load(reader [, name]): the pieces are joined first, then loaded as loadstring does.
int LuaLoad(lua_State* lua) {
  luaL_checktype(lua, 1, LUA_TFUNCTION);
  const char* name = luaL_optstring(lua, 2, "=(load)");
  lua_settop(lua, 2);
  luaL_Buffer b;
  luaL_buffinit(lua, &b);
  for (;;) {
    lua_pushvalue(lua, 1);
    lua_call(lua, 0, 1);
    if (lua_isnil(lua, -1)) {
      lua_pop(lua, 1);
      break;
    }
    if (!lua_isstring(lua, -1)) return luaL_error(lua, "reader function must return a string");
    if (lua_objlen(lua, -1) == 0) {
      lua_pop(lua, 1);
      break;
    }
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  size_t len = 0;
  const char* s = lua_tolstring(lua, -1, &len);
  return LoadChunk(lua, s, len, name);
}

// Wraps table[name] (a C function) with `wrapper`, the original as its upvalue.
void WrapFunction(lua_State* lua, int table, const char* name, lua_CFunction wrapper) {
  lua_getfield(lua, table, name);
  lua_pushcclosure(lua, wrapper, 1);
  lua_setfield(lua, table, name);
}

// Replaces the table at the top of the stack by its proxy (creating it once per table:
// `seen` maps real -> proxy at stack index `seen`). Tables inside it are protected first.
void ProtectTop(lua_State* lua, int seen, int protected_map, int metatable_sentinel) {
  lua_pushvalue(lua, -1);
  lua_rawget(lua, protected_map);
  bool is_proxy = !lua_isnil(lua, -1);
  lua_pop(lua, 1);
  if (is_proxy) return;
  lua_pushvalue(lua, -1);
  lua_rawget(lua, seen);
  if (!lua_isnil(lua, -1)) {  // already a proxy
    lua_replace(lua, -2);
    return;
  }
  lua_pop(lua, 1);
  int real = lua_gettop(lua);
  lua_newtable(lua);  // the proxy
  int proxy = lua_gettop(lua);
  lua_pushvalue(lua, real);
  lua_pushvalue(lua, proxy);
  lua_rawset(lua, seen);
  lua_pushvalue(lua, proxy);
  lua_pushvalue(lua, real);
  lua_rawset(lua, protected_map);
  // Protect nested tables, replacing them in the real table by their proxies. Changing
  // values of existing keys during lua_next is allowed.
  lua_pushnil(lua);
  while (lua_next(lua, real)) {
    if (lua_istable(lua, -1)) {
      ProtectTop(lua, seen, protected_map, metatable_sentinel);
      lua_pushvalue(lua, -2);
      lua_insert(lua, -2);
      lua_rawset(lua, real);
    } else {
      lua_pop(lua, 1);
    }
  }
  lua_newtable(lua);  // the proxy's metatable
  lua_pushvalue(lua, real);
  lua_setfield(lua, -2, "__index");
  lua_pushcfunction(lua, ProxyNewIndex);
  lua_setfield(lua, -2, "__newindex");
  if (metatable_sentinel != 0) {
    // getmetatable(proxy) gives a read-only table, not this metatable (which leads to the
    // real table).
    lua_pushvalue(lua, metatable_sentinel);
    lua_setfield(lua, -2, "__metatable");
  }
  lua_setmetatable(lua, proxy);
  lua_replace(lua, real);  // leave the proxy where the real table was
}

}  // namespace

void InstallSandbox(lua_State* lua) {
  // Keep only the globals Redis keeps.
  lua_pushvalue(lua, LUA_GLOBALSINDEX);
  int globals = lua_gettop(lua);
  lua_newtable(lua);
  int keep = lua_gettop(lua);
  for (const char* name : kGlobalsAllowed) {
    lua_getfield(lua, globals, name);
    lua_setfield(lua, keep, name);
  }
  // Clear the real globals table and refill it (it stays the same table object, which the
  // library functions hold as their environment).
  for (;;) {
    lua_pushnil(lua);
    if (!lua_next(lua, globals)) break;
    lua_pop(lua, 1);
    lua_pushnil(lua);
    lua_rawset(lua, globals);
  }
  lua_pushnil(lua);
  while (lua_next(lua, keep)) {
    lua_pushvalue(lua, -2);
    lua_insert(lua, -2);
    lua_rawset(lua, globals);
  }
  lua_pop(lua, 1);  // keep

  // The functions that bypass or would be fooled by proxies.
  WrapFunction(lua, globals, "rawset", RefuseProxyThenCall);
  WrapFunction(lua, globals, "setmetatable", RefuseProxyThenCall);
  WrapFunction(lua, globals, "rawget", SeeThroughProxyThenCall);
  WrapFunction(lua, globals, "next", SeeThroughProxyThenCall);
  WrapFunction(lua, globals, "pairs", SeeThroughProxyThenCall);
  WrapFunction(lua, globals, "ipairs", SeeThroughProxyThenCall);
  lua_getfield(lua, globals, "table");
  int table_lib = lua_gettop(lua);
  // Only insert writes into an empty table; sort and remove leave a proxy (always empty)
  // alone, and Redis lets them return quietly too.
  WrapFunction(lua, table_lib, "insert", RefuseProxyThenCall);
  lua_pop(lua, 1);
  lua_pushcfunction(lua, LuaLoadstring);
  lua_setfield(lua, globals, "loadstring");
  lua_pushcfunction(lua, LuaLoad);
  lua_setfield(lua, globals, "load");

  lua_pushvalue(lua, globals);
  lua_setfield(lua, LUA_REGISTRYINDEX, kRealGlobalsKey);

  // Protect: every table reachable from the globals becomes a proxy.
  lua_newtable(lua);  // proxy -> real, weak keys
  int protected_map = lua_gettop(lua);
  lua_newtable(lua);
  lua_pushliteral(lua, "k");
  lua_setfield(lua, -2, "__mode");
  lua_setmetatable(lua, protected_map);
  lua_pushvalue(lua, protected_map);
  lua_setfield(lua, LUA_REGISTRYINDEX, kProtectedKey);
  lua_newtable(lua);  // real -> proxy, for cycles (_G._G)
  int seen = lua_gettop(lua);

  // What getmetatable() of a proxy returns: an empty read-only table.
  lua_newtable(lua);
  ProtectTop(lua, seen, protected_map, 0);
  int sentinel = lua_gettop(lua);
  lua_getmetatable(lua, sentinel);
  lua_pushvalue(lua, sentinel);
  lua_setfield(lua, -2, "__metatable");
  lua_pop(lua, 1);

  lua_pushvalue(lua, sentinel);
  lua_pushcclosure(lua, Getmetatable, 1);
  lua_setfield(lua, globals, "getmetatable");

  lua_pushvalue(lua, globals);
  ProtectTop(lua, seen, protected_map, sentinel);
  int globals_proxy = lua_gettop(lua);
  // A missing global is an error, not nil: the real globals' own metatable says so. (Only
  // lookups through the proxy get there; rawget and C code see nil.)
  lua_newtable(lua);
  lua_pushcfunction(lua, MissingGlobal);
  lua_setfield(lua, -2, "__index");
  lua_setmetatable(lua, globals);

  // Strings' metatable: its __index is the string library; getmetatable("") gives a
  // read-only view of it, so neither can be changed through it.
  lua_pushliteral(lua, "");
  lua_getmetatable(lua, -1);
  int string_mt = lua_gettop(lua);
  lua_getfield(lua, globals, "string");  // already the proxy
  lua_setfield(lua, string_mt, "__index");
  lua_pushvalue(lua, string_mt);
  ProtectTop(lua, seen, protected_map, sentinel);
  lua_setfield(lua, string_mt, "__metatable");
  lua_pop(lua, 2);  // metatable, ""

  // Scripts and the functions they load (loadstring) see the proxy as their globals.
  lua_pushvalue(lua, globals_proxy);
  lua_replace(lua, LUA_GLOBALSINDEX);
  lua_settop(lua, 0);
}

}  // namespace omnibus::script_internal
