#include "omnibus/script/lua_engine.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lua_internal.h"
#include "omnibus/script/script_store.h"
#include "sha1.h"

extern "C" {
#ifdef OMNIBUS_LUAJIT
// LuaJIT has `bit` built in (lualib.h); lua-cjson.h sits with Lua 5.1's headers, which must not
// be on the include path next to LuaJIT's (CMakeLists.txt, OMNIBUS_LUA).
int luaopen_cjson(lua_State* lua);
#else
#include <lua-bitop.h>
#include <lua-cjson.h>
#endif
}

namespace omnibus {

using script_internal::PushErrorTable;

// What a running script can reach from the C functions of the redis table.
struct LuaEngine::RunContext {
  const ScriptRunArgs* args = nullptr;
  int resp = 2;  // redis.setresp
  bool killed = false;
  bool aborted = false;  // AbortRun: stop, write no reply
};

namespace {

// Redis 7.0's version as scripts see it (redis.REDIS_VERSION). It must equal kRedisVersion
// (commands/version.h, a layer above this one); lua_engine_test checks that it does.
constexpr char kRedisVersion[] = "7.0.15";
constexpr int kRedisVersionNum = 0x07000f;

constexpr char kKilledText[] = "Script killed by user with SCRIPT KILL...";

// Registry keys.
constexpr char kEngineKey[] = "omnibus.engine";
constexpr char kErrHandlerKey[] = "omnibus.err_handler";

// Redis's error handler (eval.c, 7.0), run by lua_pcall on any error: it turns the error
// into a table and records where the script was (the caller of a C function such as
// redis.call, not the C function). `debug` is reachable only through the upvalue.
constexpr char kErrHandlerSource[] =
    "local dbg = debug\n"
    "return function(err)\n"
    "  local i = dbg.getinfo(2,'nSl')\n"
    "  if i and i.what == 'C' then\n"
    "    i = dbg.getinfo(3,'nSl')\n"
    "  end\n"
    "  if type(err) ~= 'table' then\n"
    "    err = {err='ERR ' .. tostring(err)}\n"
    "  end\n"
    "  if i then\n"
    "    err['source'] = i.source\n"
    "    err['line'] = i.currentline\n"
    "  end\n"
    "  return err\n"
    "end\n";

}  // namespace

// How the C functions reach the engine (a friend of it). The C functions of the redis table and
// math.random carry the engine as upvalue 1 (no registry lookup per redis.call); the count hook,
// not a closure, looks in the registry.
struct LuaEngineAccess {
  static LuaEngine* Engine(lua_State* lua) {
    return static_cast<LuaEngine*>(lua_touserdata(lua, lua_upvalueindex(1)));
  }
  static LuaEngine* EngineFromRegistry(lua_State* lua) {
    lua_getfield(lua, LUA_REGISTRYINDEX, kEngineKey);
    auto* engine = static_cast<LuaEngine*>(lua_touserdata(lua, -1));
    lua_pop(lua, 1);
    return engine;
  }
  static LuaEngine::RunContext* Run(lua_State* lua) { return Engine(lua)->run_; }
  static LuaEngine::RunContext* RunFromRegistry(lua_State* lua) {
    return EngineFromRegistry(lua)->run_;
  }
  static uint64_t* RandState(lua_State* lua) { return &Engine(lua)->rand_state_; }
  // The server's one generator when the engines share a store, else nullptr.
  static std::atomic<uint64_t>* SharedRandState(lua_State* lua) {
    ScriptStore* store = Engine(lua)->store_;
    return store != nullptr ? &store->rand_state() : nullptr;
  }
  static const LuaEngine::LogFn& Log(lua_State* lua) { return Engine(lua)->log_; }
  static std::string& ArgNumbers(lua_State* lua) { return Engine(lua)->call_numbers_; }
  static std::vector<std::string_view>& ArgViews(lua_State* lua) { return Engine(lua)->call_argv_; }
};

namespace {

// Raises {err = "ERR <text>"} as Redis's luaPushError + luaError. No C++ object may be alive
// in the caller's frame: lua_error longjmps.
int RaiseErrorTable(lua_State* lua, const char* text) {
  PushErrorTable(lua, text);
  return lua_error(lua);
}

void StopHook(lua_State* lua, lua_Debug*);

// ---- redis.call / redis.pcall ----

int RedisCommand(lua_State* lua, bool raise) {
  LuaEngine::RunContext* run = LuaEngineAccess::Run(lua);
  if (run == nullptr) {
    return RaiseErrorTable(lua, "redis.call/pcall can only be called inside a script invocation");
  }
  int argc = lua_gettop(lua);
  if (argc == 0) {
    PushErrorTable(lua, "Please specify at least one argument for this redis lib call");
    return raise ? lua_error(lua) : 1;
  }
  bool bad_args = false;
  bool is_error = false;
  {
    // C++ objects live only in this scope; no Lua call in it can raise except on memory
    // exhaustion (then Lua longjmps past them and they leak, as any C library would).
    // Strings are viewed where they are, on the Lua stack (popped only after the command);
    // numbers are formatted into a buffer the engine reuses, so a call allocates nothing
    // once warm.
    std::string& numbers = LuaEngineAccess::ArgNumbers(lua);
    std::vector<std::string_view>& argv = LuaEngineAccess::ArgViews(lua);
    numbers.clear();
    argv.clear();
    for (int j = 1; j <= argc; ++j) {
      if (lua_type(lua, j) == LUA_TNUMBER) {
        // Not lua_tolstring: Lua's "%.14g" loses precision.
        char buf[64];
        int n = script_internal::FormatArgNumber(lua_tonumber(lua, j), buf, sizeof(buf));
        numbers.append(buf, static_cast<size_t>(n));
        numbers.push_back('\0');
      } else if (lua_type(lua, j) != LUA_TSTRING) {
        bad_args = true;
        break;
      }
    }
    if (!bad_args) {
      const char* next_number = numbers.data();
      for (int j = 1; j <= argc; ++j) {
        if (lua_type(lua, j) == LUA_TNUMBER) {
          std::string_view v(next_number);
          argv.push_back(v);
          next_number += v.size() + 1;
        } else {
          size_t len = 0;
          const char* str = lua_tolstring(lua, j, &len);
          argv.emplace_back(str, len);
        }
      }
      ReplyValue reply;
      if (run->aborted) {
        reply.kind = ReplyValue::Kind::kError;
        reply.str = "ERR script aborted";
      } else if (run->args->call) {
        reply = run->args->call(argv, run->resp);
      } else {
        reply.kind = ReplyValue::Kind::kError;
        reply.str = "ERR Unknown Redis command called from script";
      }
      argv.clear();
      lua_settop(lua, 0);
      is_error = reply.kind == ReplyValue::Kind::kError;
      script_internal::PushReplyValue(lua, reply, run->resp);
    } else {
      lua_settop(lua, 0);
    }
  }
  if (bad_args) {
    PushErrorTable(lua, "Lua redis lib command arguments must be strings or integers");
    is_error = true;
  }
  if (run->aborted || run->killed) {
    // Uncatchable from here on: every line raises again, as after SCRIPT KILL.
    lua_sethook(lua, StopHook, LUA_MASKLINE, 0);
    if (run->killed) {
      lua_settop(lua, 0);
      PushErrorTable(lua, kKilledText);
    }
    return lua_error(lua);
  }
  if (raise && is_error) return lua_error(lua);
  return 1;
}

int RedisCall(lua_State* lua) { return RedisCommand(lua, true); }

int RedisAclCheckCmd(lua_State* lua) {
  LuaEngine::RunContext* run = LuaEngineAccess::Run(lua);
  if (run == nullptr) {
    return RaiseErrorTable(lua,
                           "redis.acl_check_cmd can only be called inside a script invocation");
  }
  int argc = lua_gettop(lua);
  if (argc == 0) {
    return RaiseErrorTable(lua, "Please specify at least one argument for this redis lib call");
  }
  bool bad_args = false;
  std::optional<bool> permitted = true;
  {
    std::vector<std::string> owned;  // see RedisCommand: no raising Lua call in this scope
    for (int j = 1; j <= argc && !bad_args; ++j) {
      if (lua_type(lua, j) == LUA_TNUMBER) {
        char buf[64];
        int n = script_internal::FormatArgNumber(lua_tonumber(lua, j), buf, sizeof(buf));
        owned.emplace_back(buf, static_cast<size_t>(n));
        continue;
      }
      size_t len = 0;
      const char* s = lua_tolstring(lua, j, &len);
      if (s == nullptr) {
        bad_args = true;
      } else {
        owned.emplace_back(s, len);
      }
    }
    if (!bad_args && run->args->acl_check) {
      std::vector<std::string_view> argv(owned.begin(), owned.end());
      permitted = run->args->acl_check(argv);
    }
  }
  if (bad_args) {
    return RaiseErrorTable(lua, "Lua redis lib command arguments must be strings or integers");
  }
  if (!permitted.has_value()) {
    return RaiseErrorTable(lua, "Invalid command passed to redis.acl_check_cmd()");
  }
  lua_pushboolean(lua, *permitted ? 1 : 0);
  return 1;
}
int RedisPcall(lua_State* lua) { return RedisCommand(lua, false); }

// ---- the rest of the redis table ----

int RedisSha1hex(lua_State* lua) {
  if (lua_gettop(lua) != 1) return RaiseErrorTable(lua, "wrong number of arguments");
  size_t len = 0;
  const char* s = lua_tolstring(lua, 1, &len);
  // Redis hashes whatever lua_tolstring gives; nil and tables give nothing, hashed as "".
  char digest[41];
  {
    std::string hex =
        script_internal::Sha1Hex(s == nullptr ? std::string_view() : std::string_view(s, len));
    hex.copy(digest, 40);
  }
  lua_pushlstring(lua, digest, 40);
  return 1;
}

bool OneStringArg(lua_State* lua) {
  return lua_gettop(lua) == 1 && lua_type(lua, -1) == LUA_TSTRING;
}

int RedisErrorReply(lua_State* lua) {
  if (!OneStringArg(lua)) {
    PushErrorTable(lua, "wrong number or type of arguments");
    return 1;
  }
  size_t len = 0;
  const char* s = lua_tolstring(lua, 1, &len);
  std::string_view text(s, len);
  if (!text.empty() && text[0] == '-') {
    PushErrorTable(lua, text);
  } else {
    lua_pushliteral(lua, "-");
    lua_pushvalue(lua, 1);
    lua_concat(lua, 2);
    size_t dlen = 0;
    const char* d = lua_tolstring(lua, -1, &dlen);
    PushErrorTable(lua, std::string_view(d, dlen));
  }
  return 1;
}

int RedisStatusReply(lua_State* lua) {
  if (!OneStringArg(lua)) {
    PushErrorTable(lua, "wrong number or type of arguments");
    return 1;
  }
  lua_createtable(lua, 0, 1);
  lua_pushvalue(lua, 1);
  lua_setfield(lua, -2, "ok");
  return 1;
}

int RedisLog(lua_State* lua) {
  int argc = lua_gettop(lua);
  if (argc < 2) return RaiseErrorTable(lua, "redis.log() requires two arguments or more.");
  if (!lua_isnumber(lua, 1)) {
    return RaiseErrorTable(lua, "First argument must be a number (log level).");
  }
  int level = static_cast<int>(lua_tonumber(lua, 1));
  if (level < 0 || level > 3) return RaiseErrorTable(lua, "Invalid debug level.");
  // Glue the arguments with spaces (non-strings are skipped, as Redis does).
  luaL_Buffer b;
  luaL_buffinit(lua, &b);
  for (int j = 2; j <= argc; ++j) {
    size_t len = 0;
    const char* s = lua_tolstring(lua, j, &len);
    if (s == nullptr) continue;
    if (j != 2) luaL_addchar(&b, ' ');
    luaL_addlstring(&b, s, len);
  }
  luaL_pushresult(&b);
  size_t len = 0;
  const char* line = lua_tolstring(lua, -1, &len);
  const LuaEngine::LogFn& log = LuaEngineAccess::Log(lua);
  if (log) {
    log(static_cast<LogLevel>(level), std::string_view(line, len));
  } else if (LogEnabled(static_cast<LogLevel>(level))) {
    LogLine(static_cast<LogLevel>(level), std::string_view(line, len));
  }
  return 0;
}

int RedisSetResp(lua_State* lua) {
  LuaEngine::RunContext* run = LuaEngineAccess::Run(lua);
  if (run == nullptr) {
    return RaiseErrorTable(lua, "redis.setresp can only be called inside a script invocation");
  }
  if (lua_gettop(lua) != 1) return RaiseErrorTable(lua, "redis.setresp() requires one argument.");
  int resp = static_cast<int>(lua_tonumber(lua, 1));
  if (resp != 2 && resp != 3) return RaiseErrorTable(lua, "RESP version must be 2 or 3.");
  run->resp = resp;
  return 0;
}

// Accepted and ignored: effects replication is the only kind Omnibus has.
int RedisSetRepl(lua_State* lua) {
  if (LuaEngineAccess::Run(lua) == nullptr) {
    return RaiseErrorTable(lua, "redis.set_repl can only be called inside a script invocation");
  }
  if (lua_gettop(lua) != 1) return RaiseErrorTable(lua, "redis.set_repl() requires two arguments.");
  int flags = static_cast<int>(lua_tonumber(lua, 1));
  if ((flags & ~3) != 0) {
    return RaiseErrorTable(
        lua, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
  }
  return 0;
}

int RedisReplicateCommands(lua_State* lua) {
  lua_pushboolean(lua, 1);
  return 1;
}

// Outside the (not implemented) script debugger both are no-ops; breakpoint returns false.
int RedisBreakpoint(lua_State* lua) {
  lua_pushboolean(lua, 0);
  return 1;
}
int RedisDebug(lua_State*) { return 0; }

// ---- math.random, Redis's redisLrand48 (the drand48 generator, same on every platform) ----

constexpr uint64_t kRandMask = (uint64_t{1} << 48) - 1;
constexpr int32_t kRandMax = INT32_MAX;

int32_t Lrand48(uint64_t* x) {
  *x = (*x * 0x5DEECE66DULL + 0xB) & kRandMask;
  return static_cast<int32_t>(*x >> 17);
}

uint64_t Srand48(int32_t seed) { return (uint64_t{static_cast<uint32_t>(seed)} << 16) | 0x330E; }

// One draw: from the server's shared state if there is one (so a client's scripts see Redis's
// single sequence whichever shard runs them), else from the engine's own.
int32_t NextRandom(lua_State* lua) {
  std::atomic<uint64_t>* shared = LuaEngineAccess::SharedRandState(lua);
  if (shared == nullptr) return Lrand48(LuaEngineAccess::RandState(lua));
  uint64_t seen = shared->load(std::memory_order_relaxed);
  uint64_t next;
  int32_t r;
  do {
    next = seen;
    r = Lrand48(&next);
  } while (!shared->compare_exchange_weak(seen, next, std::memory_order_relaxed));
  return r;
}

int MathRandom(lua_State* lua) {
  if (LuaEngineAccess::Run(lua) == nullptr) {
    return luaL_error(lua, "math.random can only be called inside a script invocation");
  }
  lua_Number r =
      static_cast<lua_Number>(NextRandom(lua) % kRandMax) / static_cast<lua_Number>(kRandMax);
  switch (lua_gettop(lua)) {
    case 0:
      lua_pushnumber(lua, r);
      break;
    case 1: {
      int u = luaL_checkint(lua, 1);
      luaL_argcheck(lua, 1 <= u, 1, "interval is empty");
      lua_pushnumber(lua, std::floor(r * u) + 1);
      break;
    }
    case 2: {
      int l = luaL_checkint(lua, 1);
      int u = luaL_checkint(lua, 2);
      luaL_argcheck(lua, l <= u, 2, "interval is empty");
      lua_pushnumber(lua, std::floor(r * (u - l + 1)) + l);
      break;
    }
    default:
      return luaL_error(lua, "wrong number of arguments");
  }
  return 1;
}

int MathRandomseed(lua_State* lua) {
  if (LuaEngineAccess::Run(lua) == nullptr) {
    return luaL_error(lua, "math.randomseed can only be called inside a script invocation");
  }
  uint64_t state = Srand48(luaL_checkint(lua, 1));
  if (std::atomic<uint64_t>* shared = LuaEngineAccess::SharedRandState(lua)) {
    shared->store(state, std::memory_order_relaxed);
  } else {
    *LuaEngineAccess::RandState(lua) = state;
  }
  return 0;
}

// The count hook (should_stop), and the line hook that keeps a killed or aborted script
// raising. Raising from a hook is allowed in Lua 5.1.
void StopHook(lua_State* lua, lua_Debug*) {
  LuaEngine::RunContext* run = LuaEngineAccess::RunFromRegistry(lua);
  if (run == nullptr) return;
  if (!run->killed && !run->aborted) {
    if (!run->args->should_stop || !run->args->should_stop()) return;
    run->killed = true;
    // Every line from now on, so an error caught by pcall is raised again right away.
    lua_sethook(lua, StopHook, LUA_MASKLINE, 0);
  }
  PushErrorTable(lua,
                 run->aborted ? "script aborted" : "Script killed by user with SCRIPT KILL...");
  lua_error(lua);
}

// pcall as Redis 7.0 replaces it: an error that is a {err=...} table (what redis.call raises)
// comes back as its message string, as it did before Redis 7.
int LuaPcall(lua_State* lua) {
  int argc = lua_gettop(lua);
  if (argc == 0) {
    // Redis's version calls its own placeholder here; keep its answer.
    lua_pushboolean(lua, 0);
    lua_pushliteral(lua, "attempt to call a boolean value");
    return 2;
  }
  lua_pushboolean(lua, 1);
  lua_insert(lua, 1);
  if (lua_pcall(lua, argc - 1, LUA_MULTRET, 0) != 0) {
    lua_remove(lua, 1);
    if (lua_istable(lua, -1)) {
      lua_getfield(lua, -1, "err");
      if (lua_isstring(lua, -1)) {
        lua_replace(lua, -2);
      } else {
        lua_pop(lua, 1);
      }
    }
    lua_pushboolean(lua, 0);
    lua_insert(lua, 1);
  }
  return lua_gettop(lua);
}

}  // namespace

LuaEngine::LuaEngine() : rand_state_(0x1234ABCD330EULL) {
  // Redis's rand.c starts from this state (no srand48 call at start-up): the first
  // math.random() of a fresh redis-server is 0.39646477363839.
  CreateState();
  PublishMemory();
}

LuaEngine::~LuaEngine() { CloseState(); }

void LuaEngine::CloseState() {
  if (lua_ != nullptr) lua_close(lua_);
  lua_ = nullptr;
  scripts_.clear();
}

void LuaEngine::Flush() {
  if (store_ != nullptr) store_->Flush();
  Reset();
}

void LuaEngine::Reset() {
  CloseState();
  CreateState();
  if (store_ != nullptr) generation_ = store_->generation();
  PublishMemory();
}

void LuaEngine::SyncWithStore() {
  // Another shard's SCRIPT FLUSH: this interpreter's scripts are gone too.
  if (store_ != nullptr && store_->generation() != generation_) Reset();
}

bool LuaEngine::Fetch(std::string_view lower_sha) {
  if (store_ == nullptr) return false;
  std::optional<std::string> body = store_->Find(lower_sha);
  if (!body) return false;
  std::string sha, error;
  return Load(*body, &sha, &error);
}

void LuaEngine::CreateState() {
  lua_State* lua = luaL_newstate();
  lua_ = lua;
  lua_pushlightuserdata(lua, this);
  lua_setfield(lua, LUA_REGISTRYINDEX, kEngineKey);

  // The libraries Redis 7.0 loads (debug only until the error handler holds it).
  struct Lib {
    const char* name;
    lua_CFunction open;
  };
  const Lib libs[] = {
      {"", luaopen_base},
      {LUA_TABLIBNAME, luaopen_table},
      {LUA_STRLIBNAME, luaopen_string},
      {LUA_MATHLIBNAME, luaopen_math},
      {LUA_DBLIBNAME, luaopen_debug},
      {"cjson", luaopen_cjson},
      {"struct", script_internal::OpenStruct},
      {"cmsgpack", script_internal::OpenCmsgpack},
      {"bit", luaopen_bit},
  };
  for (const Lib& lib : libs) {
    lua_pushcfunction(lua, lib.open);
    lua_pushstring(lua, lib.name);
    lua_call(lua, 1, 1);
    // Debian's cjson does not set its global, struct and cmsgpack are ours: set them all.
    if (lib.name[0] != '\0' && lua_istable(lua, -1)) {
      lua_setglobal(lua, lib.name);
    } else {
      lua_pop(lua, 1);
    }
  }

  // The error handler keeps `debug` as an upvalue; then debug leaves the globals.
  luaL_loadbuffer(lua, kErrHandlerSource, sizeof(kErrHandlerSource) - 1, "@err_handler_def");
  lua_call(lua, 0, 1);
  lua_pushvalue(lua, -1);
  lua_pushvalue(lua, -1);
  lua_setfield(lua, LUA_REGISTRYINDEX, kErrHandlerKey);
  err_handler_ref_ = luaL_ref(lua, LUA_REGISTRYINDEX);
  lua_setglobal(lua, "__redis__err__handler");

  lua_pushcfunction(lua, LuaPcall);
  lua_setglobal(lua, "pcall");

  // The redis table.
  lua_newtable(lua);
  const luaL_Reg redis_functions[] = {
      {"call", RedisCall},
      {"pcall", RedisPcall},
      {"log", RedisLog},
      {"setresp", RedisSetResp},
      {"sha1hex", RedisSha1hex},
      {"error_reply", RedisErrorReply},
      {"status_reply", RedisStatusReply},
      {"set_repl", RedisSetRepl},
      {"replicate_commands", RedisReplicateCommands},
      {"breakpoint", RedisBreakpoint},
      {"debug", RedisDebug},
      {"acl_check_cmd", RedisAclCheckCmd},
  };
  for (const luaL_Reg& f : redis_functions) {
    lua_pushlightuserdata(lua, this);
    lua_pushcclosure(lua, f.func, 1);
    lua_setfield(lua, -2, f.name);
  }
  const std::pair<const char*, int> constants[] = {
      {"LOG_DEBUG", 0},  {"LOG_VERBOSE", 1},
      {"LOG_NOTICE", 2}, {"LOG_WARNING", 3},
      {"REPL_NONE", 0},  {"REPL_AOF", 1},
      {"REPL_SLAVE", 2}, {"REPL_REPLICA", 2},
      {"REPL_ALL", 3},   {"REDIS_VERSION_NUM", kRedisVersionNum},
  };
  for (const auto& [name, value] : constants) {
    lua_pushnumber(lua, value);
    lua_setfield(lua, -2, name);
  }
  lua_pushstring(lua, kRedisVersion);
  lua_setfield(lua, -2, "REDIS_VERSION");
  lua_setglobal(lua, "redis");

  // math.random and math.randomseed on Redis's generator.
  lua_getglobal(lua, "math");
  lua_pushlightuserdata(lua, this);
  lua_pushcclosure(lua, MathRandom, 1);
  lua_setfield(lua, -2, "random");
  lua_pushlightuserdata(lua, this);
  lua_pushcclosure(lua, MathRandomseed, 1);
  lua_setfield(lua, -2, "randomseed");
  lua_pop(lua, 1);

  script_internal::InstallSandbox(lua);
  lua_getfield(lua, LUA_REGISTRYINDEX, script_internal::kRealGlobalsKey);
  globals_ref_ = luaL_ref(lua, LUA_REGISTRYINDEX);
  lua_settop(lua, 0);
  lua_gc(lua, LUA_GCCOLLECT, 0);
}

std::string LuaEngine::Sha1Hex(std::string_view data) { return script_internal::Sha1Hex(data); }

namespace {

// The cache key of a sha as EVALSHA or SCRIPT EXISTS gives it: lower case (Redis's script
// dictionary compares without case). `buf` holds 40 characters.
std::string_view LowerSha(std::string_view sha, char* buf) {
  for (size_t i = 0; i < 40; ++i) {
    char c = sha[i];
    buf[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return std::string_view(buf, 40);
}

}  // namespace

bool LuaEngine::ParseShebang(std::string_view body, uint32_t* flags, size_t* shebang_len,
                             std::string* error) {
  *flags = kScriptEvalCompat;
  *shebang_len = 0;
  if (body.substr(0, 2) != "#!") return true;
  size_t end = body.find('\n');
  if (end == std::string_view::npos) {
    *error = "ERR Invalid script shebang";
    return false;
  }
  *shebang_len = end;
  // Redis splits with sdssplitargs (quotes allowed); plain spaces are what scripts use.
  std::vector<std::string_view> parts;
  std::string_view line = body.substr(0, end);
  size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t' || line[pos] == '\r')) {
      ++pos;
    }
    size_t start = pos;
    while (pos < line.size() && line[pos] != ' ' && line[pos] != '\t' && line[pos] != '\r') {
      ++pos;
    }
    if (pos > start) parts.push_back(line.substr(start, pos - start));
  }
  if (parts.empty()) {
    *error = "ERR Invalid engine in script shebang";
    return false;
  }
  if (parts[0] != "#!lua") {
    *error = "ERR Unexpected engine in script shebang: " + std::string(parts[0]);
    return false;
  }
  static constexpr std::pair<std::string_view, uint32_t> kFlagNames[] = {
      {"no-writes", kScriptNoWrites},
      {"allow-oom", kScriptAllowOom},
      {"allow-stale", kScriptAllowStale},
      {"no-cluster", kScriptNoCluster},
      {"allow-cross-slot-keys", kScriptAllowCrossSlotKeys},
  };
  *flags = 0;
  for (size_t j = 1; j < parts.size(); ++j) {
    if (parts[j].substr(0, 6) != "flags=") {
      *error = "ERR Unknown lua shebang option: " + std::string(parts[j]);
      return false;
    }
    std::string_view list = parts[j].substr(6);
    // sdssplitlen: "" has no flags, "a,,b" has an empty one (an unknown flag).
    size_t p = 0;
    while (!list.empty() && p <= list.size()) {
      size_t comma = list.find(',', p);
      if (comma == std::string_view::npos) comma = list.size();
      std::string_view name = list.substr(p, comma - p);
      uint32_t bit = 0;
      for (const auto& [flag_name, flag_bit] : kFlagNames) {
        if (name == flag_name) bit = flag_bit;
      }
      if (bit == 0) {
        *error = "ERR Unexpected flag in script shebang: " + std::string(name);
        return false;
      }
      *flags |= bit;
      p = comma + 1;
    }
  }
  return true;
}

bool LuaEngine::Load(std::string_view body, std::string* sha, std::string* error, uint32_t* flags) {
  *sha = Sha1Hex(body);
  if (auto it = scripts_.find(*sha); it != scripts_.end()) {
    if (flags != nullptr) *flags = it->second.flags;
    return true;
  }
  uint32_t script_flags = 0;
  size_t shebang_len = 0;
  if (!ParseShebang(body, &script_flags, &shebang_len, error)) return false;
  // The shebang line is left out but its newline kept: errors still say line 2 for the line
  // after it, as redis-server does.
  std::string_view code = body.substr(shebang_len);
  if (luaL_loadbuffer(lua_, code.data(), code.size(), "@user_script") != 0) {
    *error = "ERR Error compiling script (new function): ";
    size_t len = 0;
    const char* msg = lua_tolstring(lua_, -1, &len);
    if (msg != nullptr) error->append(msg, len);
    lua_pop(lua_, 1);
    return false;
  }
  // Named as Redis names it (f_<sha>), and referenced by number for the runs.
  lua_pushvalue(lua_, -1);
  lua_setfield(lua_, LUA_REGISTRYINDEX, ("f_" + *sha).c_str());
  int ref = luaL_ref(lua_, LUA_REGISTRYINDEX);
  scripts_.emplace(*sha, CachedScript{script_flags, ref});
  if (store_ != nullptr) store_->Add(*sha, body);
  PublishMemory();
  if (flags != nullptr) *flags = script_flags;
  return true;
}

bool LuaEngine::Exists(std::string_view sha) {
  if (sha.size() != 40) return false;
  char buf[40];
  std::string_view lower = LowerSha(sha, buf);
  if (store_ != nullptr) return store_->Exists(lower);
  return scripts_.contains(lower);
}

std::optional<uint32_t> LuaEngine::Flags(std::string_view sha) {
  if (sha.size() != 40) return std::nullopt;
  SyncWithStore();
  char buf[40];
  std::string_view lower = LowerSha(sha, buf);
  auto it = scripts_.find(lower);
  if (it == scripts_.end() && Fetch(lower)) it = scripts_.find(lower);
  if (it == scripts_.end()) return std::nullopt;
  return it->second.flags;
}

void LuaEngine::AbortRun() {
  if (run_ != nullptr) run_->aborted = true;
}

void LuaEngine::KillRun() {
  if (run_ != nullptr) run_->killed = true;
}

namespace {

struct ReplyJob {
  ReplyBuilder* out;
  int script_resp;
};

// lua_pcall target: (value, job) -> writes value as the reply.
int WriteReplyProtected(lua_State* lua) {
  auto* job = static_cast<ReplyJob*>(lua_touserdata(lua, 2));
  lua_settop(lua, 1);
  // Redis converts with its error handler still below the result. One slot in its place
  // makes a reply nested past Lua's stack limit stop at the same depth
  // ("reached lua stack limit" after as many levels as redis-server).
  lua_pushnil(lua);
  lua_insert(lua, 1);
  script_internal::WriteLuaReply(lua, job->out, job->script_resp);
  return 0;
}

void PushArray(lua_State* lua, std::span<const std::string_view> values) {
  lua_createtable(lua, static_cast<int>(values.size()), 0);
  for (size_t i = 0; i < values.size(); ++i) {
    lua_pushlstring(lua, values[i].data(), values[i].size());
    lua_rawseti(lua, -2, static_cast<int>(i + 1));
  }
}

void SetGlobalArray(lua_State* lua, int real_globals, const char* name,
                    std::span<const std::string_view> values) {
  PushArray(lua, values);
  lua_setfield(lua, real_globals, name);
}

// Redis's error reply for a failed run: the {err, source, line} table from the handler.
std::string ErrorReplyText(lua_State* lua, std::string_view sha) {
  if (!lua_istable(lua, -1)) {
    const char* msg = lua_tostring(lua, -1);
    std::string text = "ERR Error running script ";
    text.append(sha);
    text.append(", ");
    text.append(msg != nullptr ? std::string_view(msg).substr(0, 100) : "execution failure");
    return text;
  }
  std::string text;
  lua_getfield(lua, -1, "err");
  if (lua_isstring(lua, -1)) {
    text = lua_tostring(lua, -1);
  } else {
    // error({}) with no err field: redis-server 7.0.15 crashes (NULL message); answer
    // something instead.
    text = "ERR unknown error";
  }
  lua_pop(lua, 1);
  lua_getfield(lua, -1, "source");
  lua_getfield(lua, -2, "line");
  if (lua_isstring(lua, -2) && lua_isstring(lua, -1)) {
    text.append(" script: ");
    text.append(sha);
    text.append(", on ");
    text.append(lua_tostring(lua, -2));
    text.push_back(':');
    text.append(lua_tostring(lua, -1));
    text.push_back('.');
  }
  lua_pop(lua, 2);
  return text;
}

}  // namespace

bool LuaEngine::Run(std::string_view body_or_sha, bool is_sha, const ScriptRunArgs& args,
                    ReplyBuilder* reply) {
  if (run_ != nullptr) {
    // A script's command callback ran EVAL: Redis refuses it (EVAL is "noscript"), and one
    // interpreter cannot run two scripts at once.
    reply->Error("ERR This Redis command is not allowed from script");
    return true;
  }
  SyncWithStore();
  std::string loaded_sha;
  char sha_buf[40];
  std::string_view sha;
  int function_ref = 0;
  if (is_sha) {
    auto it = scripts_.end();
    if (body_or_sha.size() == 40) {
      std::string_view lower = LowerSha(body_or_sha, sha_buf);
      it = scripts_.find(lower);
      if (it == scripts_.end() && Fetch(lower)) it = scripts_.find(lower);
    }
    if (it == scripts_.end()) {
      reply->Error("NOSCRIPT No matching script. Please use EVAL.");
      return true;
    }
    sha = it->first;
    function_ref = it->second.function_ref;
  } else {
    std::string error;
    if (!Load(body_or_sha, &loaded_sha, &error)) {
      reply->Error(error);
      return true;
    }
    sha = loaded_sha;
    function_ref = scripts_.find(sha)->second.function_ref;
  }
  return Invoke(function_ref, sha, /*keys_as_params=*/false, args, reply);
}

bool LuaEngine::CallFunction(int function_ref, std::string_view name, const ScriptRunArgs& args,
                             ReplyBuilder* reply) {
  if (run_ != nullptr) {
    reply->Error("ERR This Redis command is not allowed from script");
    return true;
  }
  return Invoke(function_ref, name, /*keys_as_params=*/true, args, reply);
}

bool LuaEngine::Invoke(int function_ref, std::string_view sha, bool keys_as_params,
                       const ScriptRunArgs& args, ReplyBuilder* reply) {
  lua_State* lua = lua_;
  int base = lua_gettop(lua);
  lua_rawgeti(lua, LUA_REGISTRYINDEX, err_handler_ref_);
  int handler = lua_gettop(lua);
  lua_rawgeti(lua, LUA_REGISTRYINDEX, function_ref);

  int nargs = 0;
  if (keys_as_params) {
    // FCALL: the function gets (keys, args) as its parameters; no KEYS/ARGV globals.
    PushArray(lua, args.keys);
    PushArray(lua, args.args);
    nargs = 2;
  } else {
    lua_rawgeti(lua, LUA_REGISTRYINDEX, globals_ref_);
    int real_globals = lua_gettop(lua);
    SetGlobalArray(lua, real_globals, "KEYS", args.keys);
    SetGlobalArray(lua, real_globals, "ARGV", args.args);
    lua_pop(lua, 1);
  }

  RunContext run;
  run.args = &args;
  run_ = &run;
  if (args.should_stop) lua_sethook(lua, StopHook, LUA_MASKCOUNT, 100000);
  int status = lua_pcall(lua, nargs, 1, handler);
  if (args.should_stop || run.aborted) lua_sethook(lua, nullptr, 0, 0);
  // Lua's incremental collector would run whole cycles inside some later script; a small
  // step every 50 runs keeps its work out of the scripts, as Redis does.
  if (++runs_since_gc_ == 50) {
    lua_gc(lua, LUA_GCSTEP, 50);
    runs_since_gc_ = 0;
  }
  if (run.aborted) {
    run_ = nullptr;
    lua_settop(lua, base);
    return false;
  }
  if (status != 0) {
    std::string text = ErrorReplyText(lua, sha);
    reply->Error(text);
  } else {
    // The conversion runs protected (only memory exhaustion can raise there) and into a
    // scratch reply, so a half-written reply never reaches the client.
    ReplyValue captured;
    std::string& scratch = reply_scratch_;
    scratch.clear();
    ReplyBuilder staged = reply->out() != nullptr ? ReplyBuilder(&scratch, reply->resp3() ? 3 : 2)
                                                  : ReplyBuilder(&captured, reply->resp3() ? 3 : 2);
    ReplyJob job{&staged, run.resp};
    lua_pushcfunction(lua, WriteReplyProtected);
    lua_insert(lua, -2);
    lua_pushlightuserdata(lua, &job);
    if (lua_pcall(lua, 2, 0, 0) != 0) {
      const char* msg = lua_tostring(lua, -1);
      std::string text = "ERR Error running script ";
      text.append(sha);
      text.append(", ");
      text.append(msg != nullptr ? msg : "reply conversion failed");
      reply->Error(text);
    } else if (reply->out() != nullptr) {
      reply->out()->append(scratch);
    } else {
      reply->Value(captured);
    }
  }
  run_ = nullptr;
  lua_settop(lua, base);
  PublishMemory();
  return true;
}

size_t LuaEngine::MemoryBytes() const {
  return static_cast<size_t>(lua_gc(lua_, LUA_GCCOUNT, 0)) * 1024 +
         static_cast<size_t>(lua_gc(lua_, LUA_GCCOUNTB, 0));
}

void LuaEngine::CollectGarbage() { lua_gc(lua_, LUA_GCCOLLECT, 0); }

int LuaEngine::TEST_StackTop() const { return lua_gettop(lua_); }

}  // namespace omnibus
