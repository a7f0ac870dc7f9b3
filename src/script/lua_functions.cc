// Redis 7.0's functions (function_engine.h): libraries, redis.register_function, FCALL.
// Texts and the order of the checks follow Redis 7.0.15's functions.c and function_lua.c.
#include <chrono>
#include <cstring>
#include <string>
#include <utility>

#include "lua_internal.h"
#include "omnibus/script/function_engine.h"

namespace omnibus {

// The library being loaded, as redis.register_function and the load hook see it.
struct FunctionEngine::LoadContext {
  Library* lib = nullptr;
  std::chrono::steady_clock::time_point start;
  bool timed_out = false;
};

namespace {

// Registry key of the engine, for the load hook (closures carry it as an upvalue).
constexpr char kFunctionEngineKey[] = "omnibus.function_engine";
// FUNCTION LOAD gives a library's code this long to register its functions (Redis's
// LOAD_TIMEOUT_MS).
constexpr auto kLoadTimeout = std::chrono::milliseconds(500);

constexpr std::pair<std::string_view, uint32_t> kFlagNames[] = {
    {"no-writes", kScriptNoWrites},
    {"allow-oom", kScriptAllowOom},
    {"allow-stale", kScriptAllowStale},
    {"no-cluster", kScriptNoCluster},
    {"allow-cross-slot-keys", kScriptAllowCrossSlotKeys},
};

constexpr char kBadName[] =
    "Library names can only contain letters, numbers, or underscores(_) and must be at least "
    "one character long";

// Redis's functionsVerifyName (for library and function names alike).
bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(isalnum(u) || c == '_')) return false;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (tolower(static_cast<unsigned char>(a[i])) != tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Redis's sdssplitargs, for the shebang line: false on unbalanced quotes.
bool SplitArgs(std::string_view line, std::vector<std::string>* out) {
  size_t p = 0;
  auto is_space = [](char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\0';
  };
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (;;) {
    while (p < line.size() && is_space(line[p])) ++p;
    if (p >= line.size()) return true;
    std::string cur;
    bool inq = false, insq = false, done = false;
    while (!done) {
      if (inq) {
        if (p >= line.size()) return false;
        if (line[p] == '\\' && p + 3 < line.size() && line[p + 1] == 'x' && hex(line[p + 2]) >= 0 &&
            hex(line[p + 3]) >= 0) {
          cur.push_back(static_cast<char>(hex(line[p + 2]) * 16 + hex(line[p + 3])));
          p += 3;
        } else if (line[p] == '\\' && p + 1 < line.size()) {
          ++p;
          char c = line[p];
          cur.push_back(c == 'n'   ? '\n'
                        : c == 'r' ? '\r'
                        : c == 't' ? '\t'
                        : c == 'b' ? '\b'
                        : c == 'a' ? '\a'
                                   : c);
        } else if (line[p] == '"') {
          if (p + 1 < line.size() && !is_space(line[p + 1])) return false;
          done = true;
        } else {
          cur.push_back(line[p]);
        }
      } else if (insq) {
        if (p >= line.size()) return false;
        if (line[p] == '\\' && p + 1 < line.size() && line[p + 1] == '\'') {
          ++p;
          cur.push_back('\'');
        } else if (line[p] == '\'') {
          if (p + 1 < line.size() && !is_space(line[p + 1])) return false;
          done = true;
        } else {
          cur.push_back(line[p]);
        }
      } else {
        if (p >= line.size() || is_space(line[p])) {
          done = true;
          break;
        }
        if (line[p] == '"') {
          inq = true;
        } else if (line[p] == '\'') {
          insq = true;
        } else {
          cur.push_back(line[p]);
        }
      }
      if (p < line.size()) ++p;
    }
    out->push_back(std::move(cur));
  }
}

struct Metadata {
  std::string engine;
  std::string name;
  std::string_view code;  // from the shebang's newline on (line numbers stay right)
};

// Redis's functionExtractLibMetaData.
bool ExtractMetadata(std::string_view payload, Metadata* md, std::string* error) {
  if (payload.substr(0, 2) != "#!") {
    *error = "ERR Missing library metadata";
    return false;
  }
  size_t end = payload.find('\n');
  // strchr stops at a NUL byte too.
  size_t nul = payload.find('\0');
  if (end == std::string_view::npos || nul < end) {
    *error = "ERR Invalid library metadata";
    return false;
  }
  std::vector<std::string> parts;
  if (!SplitArgs(payload.substr(0, end), &parts) || parts.empty()) {
    *error = "ERR Invalid library metadata";
    return false;
  }
  md->engine = parts[0].size() >= 2 ? parts[0].substr(2) : std::string();
  bool have_name = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].size() >= 5 && EqualsNoCase(std::string_view(parts[i]).substr(0, 5), "name=")) {
      if (have_name) {
        *error = "ERR Invalid metadata value, name argument was given multiple times";
        return false;
      }
      md->name = parts[i].substr(5);
      have_name = true;
      continue;
    }
    // %s: the text up to a NUL byte.
    *error = "ERR Invalid metadata value given: " + std::string(parts[i].c_str());
    return false;
  }
  if (!have_name) {
    *error = "ERR Library name was not given";
    return false;
  }
  md->code = payload.substr(end);
  return true;
}

}  // namespace

// How the C functions reach the engine.
struct FunctionEngineAccess {
  static FunctionEngine* Engine(lua_State* lua) {
    return static_cast<FunctionEngine*>(lua_touserdata(lua, lua_upvalueindex(1)));
  }
  static FunctionEngine::LoadContext* Loading(lua_State* lua) { return Engine(lua)->loading_; }
  static FunctionEngine::LoadContext* LoadingFromRegistry(lua_State* lua) {
    lua_getfield(lua, LUA_REGISTRYINDEX, kFunctionEngineKey);
    auto* engine = static_cast<FunctionEngine*>(lua_touserdata(lua, -1));
    lua_pop(lua, 1);
    return engine == nullptr ? nullptr : engine->loading_;
  }
};

namespace {

int RaiseError(lua_State* lua, const char* text) {
  script_internal::PushErrorTable(lua, text);
  return lua_error(lua);
}

// A missing global (or redis field) while a library loads: Redis's luaProtectedTableError.
int LoadMissing(lua_State* lua) {
  if (!lua_isstring(lua, 2)) {
    return luaL_error(lua, "Second argument to luaProtectedTableError must be a string or number");
  }
  return luaL_error(lua, "Script attempted to access nonexistent global variable '%s'",
                    lua_tostring(lua, 2));
}

int ReadonlyNewIndex(lua_State* lua) {
  return luaL_error(lua, "Attempt to modify a readonly table");
}

// The load hook: FUNCTION LOAD gives up after kLoadTimeout (then every line raises, so a
// pcall in the library cannot swallow it).
void LoadHook(lua_State* lua, lua_Debug*) {
  FunctionEngine::LoadContext* ctx = FunctionEngineAccess::LoadingFromRegistry(lua);
  if (ctx == nullptr) return;
  if (!ctx->timed_out) {
    if (std::chrono::steady_clock::now() - ctx->start <= kLoadTimeout) return;
    ctx->timed_out = true;
    lua_sethook(lua, LoadHook, LUA_MASKLINE, 0);
  }
  RaiseError(lua, "FUNCTION LOAD timeout");
}

// Reads flags={...} (the table at the top of the stack) into *flags; false on an unknown
// flag or a value that is not a string (Redis's luaRegisterFunctionReadFlags).
bool ReadFlags(lua_State* lua, uint32_t* flags) {
  uint32_t f = 0;
  for (int j = 1;; ++j) {
    lua_pushnumber(lua, j);
    lua_gettable(lua, -2);
    if (lua_isnil(lua, -1)) {
      lua_pop(lua, 1);
      break;
    }
    if (!lua_isstring(lua, -1)) {
      lua_pop(lua, 1);
      return false;
    }
    const char* name = lua_tostring(lua, -1);
    bool found = false;
    for (const auto& [flag_name, bit] : kFlagNames) {
      if (EqualsNoCase(flag_name, name)) {
        f |= bit;
        found = true;
        break;
      }
    }
    lua_pop(lua, 1);
    if (!found) return false;
  }
  *flags = f;
  return true;
}

// What redis.register_function read. The callback is in the registry (ref) once read.
struct RegisterArgs {
  const char* name = nullptr;  // valid while its Lua string is referenced (see below)
  size_t name_len = 0;
  const char* desc = nullptr;
  size_t desc_len = 0;
  uint32_t flags = 0;
  int ref = LUA_NOREF;
};

// Converts the value at `idx` to a string held in keep[slot] (so its bytes stay valid while
// `keep` lives) and returns them.
const char* KeepString(lua_State* lua, int idx, int keep, int slot, size_t* len) {
  lua_pushvalue(lua, idx);
  const char* s = lua_tolstring(lua, -1, len);
  lua_rawseti(lua, keep, slot);
  return s;
}

// The named form: redis.register_function{function_name=..., callback=..., ...}. Returns
// the error text or null. The name and description strings are kept alive by a table at
// stack index `keep`.
const char* ReadNamedArgs(lua_State* lua, int keep, RegisterArgs* out) {
  if (!lua_istable(lua, 1)) {
    return "calling redis.register_function with a single argument is only applicable to Lua "
           "table (representing named arguments).";
  }
  lua_pushnil(lua);
  while (lua_next(lua, 1)) {
    if (lua_type(lua, -2) != LUA_TSTRING && lua_type(lua, -2) != LUA_TNUMBER) {
      lua_pop(lua, 2);
      return "named argument key given to redis.register_function is not a string";
    }
    // A copy of the key: converting a number key in place would break lua_next.
    lua_pushvalue(lua, -2);
    const char* key = lua_tostring(lua, -1);
    const char* err = nullptr;
    bool callback = false;
    if (EqualsNoCase(key, "function_name")) {
      if (!lua_isstring(lua, -2)) {
        err = "function_name argument given to redis.register_function must be a string";
      } else {
        out->name = KeepString(lua, -2, keep, 1, &out->name_len);
      }
    } else if (EqualsNoCase(key, "description")) {
      if (!lua_isstring(lua, -2)) {
        err = "description argument given to redis.register_function must be a string";
      } else {
        out->desc = KeepString(lua, -2, keep, 2, &out->desc_len);
      }
    } else if (EqualsNoCase(key, "callback")) {
      callback = true;
      if (!lua_isfunction(lua, -2)) {
        err = "callback argument given to redis.register_function must be a function";
      }
    } else if (EqualsNoCase(key, "flags")) {
      if (!lua_istable(lua, -2)) {
        err =
            "flags argument to redis.register_function must be a table representing function "
            "flags";
      } else {
        lua_pushvalue(lua, -2);
        if (!ReadFlags(lua, &out->flags)) err = "unknown flag given";
        lua_pop(lua, 1);
      }
    } else {
      err = "unknown argument given to redis.register_function";
    }
    lua_pop(lua, 1);  // the key's copy
    if (err != nullptr) {
      lua_pop(lua, 2);
      return err;
    }
    if (callback) {
      if (out->ref != LUA_NOREF) luaL_unref(lua, LUA_REGISTRYINDEX, out->ref);
      out->ref = luaL_ref(lua, LUA_REGISTRYINDEX);  // pops the value
    } else {
      lua_pop(lua, 1);
    }
  }
  if (out->name == nullptr) return "redis.register_function must get a function name argument";
  if (out->ref == LUA_NOREF) return "redis.register_function must get a callback argument";
  return nullptr;
}

int RegisterFunction(lua_State* lua) {
  FunctionEngine::LoadContext* ctx = FunctionEngineAccess::Loading(lua);
  if (ctx == nullptr) {
    return RaiseError(lua, "redis.register_function can only be called on FUNCTION LOAD command");
  }
  int argc = lua_gettop(lua);
  if (argc < 1 || argc > 2) {
    return RaiseError(lua, "wrong number of arguments to redis.register_function");
  }
  lua_newtable(lua);  // keeps the name and description strings referenced
  int keep = lua_gettop(lua);
  RegisterArgs args;
  const char* err = nullptr;
  if (argc == 1) {
    err = ReadNamedArgs(lua, keep, &args);
  } else if (!lua_isstring(lua, 1)) {
    err = "first argument to redis.register_function must be a string";
  } else if (!lua_isfunction(lua, 2)) {
    err = "second argument to redis.register_function must be a function";
  } else {
    args.name = KeepString(lua, 1, keep, 1, &args.name_len);
    lua_pushvalue(lua, 2);
    args.ref = luaL_ref(lua, LUA_REGISTRYINDEX);
  }
  if (err == nullptr) {
    std::string_view name(args.name, args.name_len);
    if (!ValidName(name)) {
      err = kBadName;
    } else {
      // Case-sensitive within a library (unlike FCALL's lookup), as Redis.
      for (const auto& f : ctx->lib->functions) {
        if (f->name == name) err = "Function already exists in the library";
      }
    }
  }
  if (err != nullptr) {
    if (args.ref != LUA_NOREF) luaL_unref(lua, LUA_REGISTRYINDEX, args.ref);
    return RaiseError(lua, err);
  }
  {
    auto f = std::make_unique<FunctionEngine::Function>();
    f->name.assign(args.name, args.name_len);
    if (args.desc != nullptr) f->description.emplace(args.desc, args.desc_len);
    f->flags = args.flags;
    f->ref = args.ref;
    ctx->lib->functions.push_back(std::move(f));
  }
  return 0;
}

}  // namespace

FunctionEngine::FunctionEngine() {
  SetupLoadGlobals();
  Publish();
}

void FunctionEngine::Publish() {
  size_t overhead = 0;
  for (const auto& [name, lib] : live_.libraries) {
    overhead += sizeof(Library) + lib->name.size() + lib->code.size();
    for (const auto& f : lib->functions) {
      overhead += sizeof(Function) + f->name.size() + f->description.value_or("").size();
    }
  }
  published_libraries_.store(live_.libraries.size(), std::memory_order_relaxed);
  published_functions_.store(live_.function_count, std::memory_order_relaxed);
  published_vm_bytes_.store(lua_.MemoryBytes(), std::memory_order_relaxed);
  published_overhead_.store(overhead, std::memory_order_relaxed);
}

FunctionEngine::Stats FunctionEngine::PublishedStats() const {
  Stats s;
  s.libraries = published_libraries_.load(std::memory_order_relaxed);
  s.functions = published_functions_.load(std::memory_order_relaxed);
  s.vm_bytes = published_vm_bytes_.load(std::memory_order_relaxed);
  s.overhead_bytes = published_overhead_.load(std::memory_order_relaxed);
  return s;
}

FunctionEngine::~FunctionEngine() = default;

void FunctionEngine::SetupLoadGlobals() {
  lua_State* lua = lua_.state();
  lua_pushlightuserdata(lua, this);
  lua_setfield(lua, LUA_REGISTRYINDEX, kFunctionEngineKey);

  // The redis table a library's code sees: register_function, log, its levels and the
  // version, read-only, and a missing field is an error (as a missing global).
  lua_newtable(lua);
  int redis_real = lua_gettop(lua);
  lua_pushlightuserdata(lua, this);
  lua_pushcclosure(lua, RegisterFunction, 1);
  lua_setfield(lua, redis_real, "register_function");
  lua_getfield(lua, LUA_GLOBALSINDEX, "redis");  // the sandbox's (read-only) redis table
  for (const char* name : {"log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING",
                           "REDIS_VERSION", "REDIS_VERSION_NUM"}) {
    lua_getfield(lua, -1, name);
    lua_setfield(lua, redis_real, name);
  }
  lua_pop(lua, 1);
  lua_newtable(lua);
  lua_pushcfunction(lua, LoadMissing);
  lua_setfield(lua, -2, "__index");
  lua_setmetatable(lua, redis_real);
  // Its read-only face.
  lua_newtable(lua);
  int redis_proxy = lua_gettop(lua);
  lua_newtable(lua);
  lua_pushvalue(lua, redis_real);
  lua_setfield(lua, -2, "__index");
  lua_pushcfunction(lua, ReadonlyNewIndex);
  lua_setfield(lua, -2, "__newindex");
  lua_pushboolean(lua, 0);
  lua_setfield(lua, -2, "__metatable");
  lua_setmetatable(lua, redis_proxy);

  // The load-time globals: `redis` alone.
  lua_newtable(lua);
  int load_api = lua_gettop(lua);
  lua_pushvalue(lua, redis_proxy);
  lua_setfield(lua, load_api, "redis");
  lua_newtable(lua);
  lua_pushcfunction(lua, LoadMissing);
  lua_setfield(lua, -2, "__index");
  lua_setmetatable(lua, load_api);
  lua_pushvalue(lua, load_api);
  load_api_ref_ = luaL_ref(lua, LUA_REGISTRYINDEX);

  lua_pushvalue(lua, LUA_GLOBALSINDEX);  // the sandbox's globals
  run_api_ref_ = luaL_ref(lua, LUA_REGISTRYINDEX);

  // The libraries' globals: empty, read-only, reading through the switchable __index.
  lua_newtable(lua);
  int fenv = lua_gettop(lua);
  lua_newtable(lua);
  int meta = lua_gettop(lua);
  lua_rawgeti(lua, LUA_REGISTRYINDEX, run_api_ref_);
  lua_setfield(lua, meta, "__index");
  lua_pushcfunction(lua, ReadonlyNewIndex);
  lua_setfield(lua, meta, "__newindex");
  lua_pushboolean(lua, 0);
  lua_setfield(lua, meta, "__metatable");
  lua_pushvalue(lua, meta);
  lua_setmetatable(lua, fenv);
  fenv_meta_ref_ = luaL_ref(lua, LUA_REGISTRYINDEX);  // pops meta
  fenv_ref_ = luaL_ref(lua, LUA_REGISTRYINDEX);       // pops fenv
  lua_settop(lua, 0);
}

std::vector<std::string_view> FunctionEngine::FlagNames(uint32_t flags) {
  std::vector<std::string_view> out;
  for (const auto& [name, bit] : kFlagNames) {
    if (flags & bit) out.push_back(name);
  }
  return out;
}

bool FunctionEngine::Register(Library* lib, std::string_view body, std::string* error) {
  lua_State* lua = lua_.state();
  int base = lua_gettop(lua);
  if (luaL_loadbuffer(lua, body.data(), body.size(), "@user_function") != 0) {
    *error = "ERR Error compiling function: ";
    size_t len = 0;
    const char* msg = lua_tolstring(lua, -1, &len);
    if (msg != nullptr) error->append(msg, len);
    lua_settop(lua, base);
    return false;
  }
  // The code (and every closure it creates) runs with the libraries' globals, which read
  // the load API until it is done.
  lua_rawgeti(lua, LUA_REGISTRYINDEX, fenv_ref_);
  lua_setfenv(lua, -2);
  lua_rawgeti(lua, LUA_REGISTRYINDEX, fenv_meta_ref_);
  lua_rawgeti(lua, LUA_REGISTRYINDEX, load_api_ref_);
  lua_setfield(lua, -2, "__index");
  lua_pop(lua, 1);

  LoadContext ctx;
  ctx.lib = lib;
  ctx.start = std::chrono::steady_clock::now();
  loading_ = &ctx;
  lua_sethook(lua, LoadHook, LUA_MASKCOUNT, 100000);
  int status = lua_pcall(lua, 0, 0, 0);
  lua_sethook(lua, nullptr, 0, 0);
  loading_ = nullptr;

  lua_rawgeti(lua, LUA_REGISTRYINDEX, fenv_meta_ref_);
  lua_rawgeti(lua, LUA_REGISTRYINDEX, run_api_ref_);
  lua_setfield(lua, -2, "__index");
  lua_pop(lua, 1);

  bool ok = status == 0;
  if (!ok) {
    // Redis's luaExtractErrorInformation: a string error gets "ERR ", a table its err field.
    *error = "ERR Error registering functions: ";
    if (lua_isstring(lua, -1)) {
      error->append("ERR ");
      error->append(lua_tostring(lua, -1));
    } else if (lua_istable(lua, -1)) {
      lua_getfield(lua, -1, "err");
      if (lua_isstring(lua, -1)) error->append(lua_tostring(lua, -1));
      lua_pop(lua, 1);
    }
  }
  lua_settop(lua, base);
  return ok;
}

void FunctionEngine::Link(LibrarySet* set, std::unique_ptr<Library> lib) {
  // A library may hold "g" and "G"; FCALL finds the first (Redis's dictAdd keeps the first).
  for (const auto& f : lib->functions) set->functions.emplace(Lower(f->name), f.get());
  set->function_count += lib->functions.size();
  std::string name = lib->name;
  set->libraries[name] = std::move(lib);
}

std::unique_ptr<FunctionEngine::Library> FunctionEngine::Unlink(LibrarySet* set,
                                                                std::string_view name) {
  auto it = set->libraries.find(name);
  if (it == set->libraries.end()) return nullptr;
  std::unique_ptr<Library> lib = std::move(it->second);
  set->libraries.erase(it);
  for (const auto& f : lib->functions) {
    auto fit = set->functions.find(Lower(f->name));
    if (fit != set->functions.end() && fit->second == f.get()) set->functions.erase(fit);
  }
  set->function_count -= lib->functions.size();
  return lib;
}

void FunctionEngine::Free(std::unique_ptr<Library> lib) {
  if (lib == nullptr) return;
  for (const auto& f : lib->functions) luaL_unref(lua_.state(), LUA_REGISTRYINDEX, f->ref);
}

void FunctionEngine::Clear(LibrarySet* set) {
  for (auto& [name, lib] : set->libraries) Free(std::move(lib));
  set->libraries.clear();
  set->functions.clear();
  set->function_count = 0;
}

bool FunctionEngine::LoadInto(LibrarySet* set, std::string_view code, bool replace,
                              std::string* name, std::string* error) {
  Metadata md;
  if (!ExtractMetadata(code, &md, error)) return false;
  if (!ValidName(md.name)) {
    *error = std::string("ERR ") + kBadName;
    return false;
  }
  if (!EqualsNoCase(md.engine, "lua")) {
    *error = "ERR Engine '" + md.engine + "' not found";
    return false;
  }
  std::unique_ptr<Library> old;
  if (set->libraries.contains(md.name)) {
    if (!replace) {
      *error = "ERR Library '" + md.name + "' already exists";
      return false;
    }
    old = Unlink(set, md.name);
  }
  auto lib = std::make_unique<Library>();
  lib->name = md.name;
  lib->code.assign(code);
  bool ok = Register(lib.get(), md.code, error);
  if (ok && lib->functions.empty()) {
    *error = "ERR No functions registered";
    ok = false;
  }
  if (ok) {
    for (const auto& f : lib->functions) {
      if (set->functions.contains(Lower(f->name))) {
        *error = "ERR Function " + f->name + " already exists";
        ok = false;
        break;
      }
    }
  }
  if (!ok) {
    Free(std::move(lib));
    if (old != nullptr) Link(set, std::move(old));
    return false;
  }
  *name = md.name;
  Link(set, std::move(lib));
  Free(std::move(old));
  return true;
}

bool FunctionEngine::Load(std::string_view code, bool replace, std::string* name,
                          std::string* error) {
  bool ok = LoadInto(&live_, code, replace, name, error);
  Publish();
  return ok;
}

bool FunctionEngine::Delete(std::string_view library) {
  std::unique_ptr<Library> lib = Unlink(&live_, library);
  if (lib == nullptr) return false;
  Free(std::move(lib));
  Publish();
  return true;
}

void FunctionEngine::Flush() {
  Clear(&live_);
  lua_.CollectGarbage();
  Publish();
}

const FunctionEngine::Function* FunctionEngine::Find(std::string_view name) const {
  auto it = live_.functions.find(Lower(name));
  return it == live_.functions.end() ? nullptr : it->second;
}

bool FunctionEngine::Call(const Function& f, const ScriptRunArgs& run, ReplyBuilder* reply) {
  bool done = lua_.CallFunction(f.ref, f.name, run, reply);
  // The interpreter published its size at the end of the run.
  published_vm_bytes_.store(lua_.PublishedMemoryBytes(), std::memory_order_relaxed);
  return done;
}

std::vector<const FunctionEngine::Library*> FunctionEngine::Libraries() const {
  std::vector<const Library*> out;
  out.reserve(live_.libraries.size());
  for (const auto& [name, lib] : live_.libraries) out.push_back(lib.get());
  return out;
}

}  // namespace omnibus
