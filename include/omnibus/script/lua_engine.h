#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "omnibus/base/logging.h"
#include "omnibus/resp/reply_builder.h"
#include "omnibus/resp/reply_value.h"

struct lua_State;

namespace omnibus {

class ScriptStore;

// What redis.call / redis.pcall ask the server to run. `argv` is the command and its
// arguments as the script passed them (numbers already formatted "%.17g" as Redis does).
// `resp` is the protocol the script chose with redis.setresp (2 unless changed): the command
// must reply in it, because Lua sees the two differently (HGETALL is a flat array in RESP2,
// {map=...} in RESP3). The callback returns the reply; an error is Kind::kError with the text
// after '-' ("ERR Unknown Redis command called from script", "WRONGTYPE ..."). The engine
// decides whether it raises (redis.call) or is returned as {err=...} (redis.pcall).
// Runs on: the engine's shard thread, synchronously inside Run.
using ScriptCallFn = std::function<ReplyValue(std::span<const std::string_view> argv, int resp)>;

// redis.acl_check_cmd: whether the calling user may run `argv`; nullopt when the command
// does not exist ("ERR Invalid command passed to redis.acl_check_cmd()").
using ScriptAclCheckFn = std::function<std::optional<bool>(std::span<const std::string_view> argv)>;

// One script invocation's inputs (EVAL's KEYS and ARGV, and the way to run commands).
struct ScriptRunArgs {
  std::span<const std::string_view> keys;
  std::span<const std::string_view> args;
  // Empty: redis.call / redis.pcall reply "ERR Unknown Redis command called from script".
  ScriptCallFn call;
  // Empty: every command is taken as existing and permitted (Omnibus has no ACL users yet).
  ScriptAclCheckFn acl_check;
  // Asked every 100,000 Lua instructions, as Redis's count hook (SCRIPT KILL, and where the
  // caller can notice a busy script). Returning true stops the script with "ERR Script
  // killed by user with SCRIPT KILL..."; from then on every line raises again, so a pcall
  // inside the script cannot swallow it. Empty: never asked (no hook, no cost).
  std::function<bool()> should_stop;
};

// Flags of an EVAL script, from its shebang line ("#!lua flags=no-writes,allow-oom"), as
// Redis 7.0. A script without a shebang runs in Redis's compatibility mode (kEvalCompat):
// no flags, and the caller applies Redis's pre-7.0 rules (e.g. it may write).
enum ScriptFlag : uint32_t {
  kScriptNoWrites = 1 << 0,
  kScriptAllowOom = 1 << 1,
  kScriptAllowStale = 1 << 2,
  kScriptNoCluster = 1 << 3,
  kScriptAllowCrossSlotKeys = 1 << 4,
  kScriptEvalCompat = 1 << 5,
};

// A sandboxed Lua 5.1 interpreter set up as Redis 7.0's: base, table, string, math, cjson,
// bit, struct and cmsgpack; the `redis` table; read-only globals and library tables; the
// script cache (SHA1 of the body, registry functions named f_<sha>).
// It registers no command: EVAL/EVALSHA/SCRIPT call Load, Exists, Flush and Run.
// Runs on: one shard thread (one engine per shard, never shared; lua_State is not
// thread-safe).
class LuaEngine {
 public:
  // Where redis.log lines go. The default writes through LogLine (the server log).
  using LogFn = std::function<void(LogLevel, std::string_view)>;

  LuaEngine();
  ~LuaEngine();
  LuaEngine(const LuaEngine&) = delete;
  LuaEngine& operator=(const LuaEngine&) = delete;

  void SetLogSink(LogFn log) { log_ = std::move(log); }
  // Shares the script cache with the other shards' engines (script_store.h): Load adds to
  // it, EVALSHA compiles from it what this engine has not seen, Flush empties it. Without a
  // store the engine's own cache is the only one (tests).
  void SetStore(ScriptStore* store) { store_ = store; }

  // SCRIPT LOAD: compiles `body` and caches it under its SHA1 (lower-case hex), which it
  // stores in *sha. On a syntax error returns false with the Redis reply text in *error
  // ("ERR Error compiling script (new function): user_script:1: ...") and caches nothing.
  // A bad shebang fails the same way ("ERR Unexpected flag in script shebang: bad").
  // `flags` (optional) receives the script's ScriptFlag bits.
  bool Load(std::string_view body, std::string* sha, std::string* error, uint32_t* flags = nullptr);
  // SCRIPT EXISTS (case-insensitive, as Redis's script dictionary): in the store if shared.
  bool Exists(std::string_view sha);
  // The cached script's ScriptFlag bits (EVALSHA checks no-writes etc. before running),
  // compiling it from the store if this engine has not yet; nullopt when not cached.
  std::optional<uint32_t> Flags(std::string_view sha);

  // Redis 7.0's evalExtractShebangFlags: for a body starting with "#!", the flags and the
  // length of the shebang line (which is then compiled as an empty line, so line numbers
  // still count it). False with the reply text in *error for a bad shebang.
  static bool ParseShebang(std::string_view body, uint32_t* flags, size_t* shebang_len,
                           std::string* error);
  // SCRIPT FLUSH: drops every script (from the store too) by replacing the interpreter, as
  // Redis does (a script can leave garbage behind; a fresh state also returns its memory).
  // The other engines sharing the store replace theirs when they next run. Never from
  // inside a script's command callback (SCRIPT is not allowed from scripts).
  void Flush();
  size_t ScriptCount() const { return scripts_.size(); }

  // EVAL (is_sha false: `body_or_sha` is the body, cached on the way) or EVALSHA (true:
  // NOSCRIPT unless cached). Writes exactly one reply to `reply`; the reply's protocol is
  // the client's, while the script's own redis.setresp (reset to 2 for each run) decides how
  // booleans come out, as in Redis. Not re-entrant: called from inside a script's command
  // callback it replies "ERR This Redis command is not allowed from script".
  // Returns false, having written nothing, when the command callback called AbortRun.
  bool Run(std::string_view body_or_sha, bool is_sha, const ScriptRunArgs& run,
           ReplyBuilder* reply);
  // From inside the command callback: stop the running script without a reply. The command
  // the callback is answering raises, and so does every line after it (pcall cannot catch
  // it); the caller of Run then retries the script elsewhere (a shard it could not reach).
  void AbortRun();
  // From inside the command callback: the script was killed (SCRIPT KILL won the race with
  // its first write). The command raises the killed error, uncatchable, as after should_stop.
  void KillRun();

  // redis.sha1hex and the script cache's key: SHA1 as 40 lower-case hex digits.
  static std::string Sha1Hex(std::string_view data);

  // Bytes the interpreter holds (Redis's used_memory_lua). On the engine's thread only.
  size_t MemoryBytes() const;
  // The same, as of the end of the last run, load or flush: readable from any thread (INFO).
  size_t PublishedMemoryBytes() const { return published_memory_.load(std::memory_order_relaxed); }
  // A full garbage collection (runs otherwise step by step, every 50 scripts).
  void CollectGarbage();
  // For tests: the Lua stack depth between runs (0 when every run left it balanced).
  int TEST_StackTop() const;

  // The state of the script being run (opaque; defined in lua_engine.cc).
  struct RunContext;

 private:
  friend struct LuaEngineAccess;

  void CreateState();
  void CloseState();
  void Reset();                            // a fresh interpreter, no scripts
  void SyncWithStore();                    // Reset if the store was flushed since
  bool Fetch(std::string_view lower_sha);  // compiles the store's body of `sha`

  lua_State* lua_ = nullptr;
  struct CachedScript {
    uint32_t flags;    // ScriptFlag bits
    int function_ref;  // the compiled function in the registry (also named f_<sha> there)
  };
  // Lets EVALSHA look a string_view up without building a std::string.
  struct ShaHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Cached scripts by lower-case sha.
  std::unordered_map<std::string, CachedScript, ShaHash, std::equal_to<>> scripts_;
  // Registry references taken once per interpreter (faster than named lookups per run).
  int err_handler_ref_ = 0;
  int globals_ref_ = 0;
  std::string reply_scratch_;  // a script's reply before it is handed on, reused
  LogFn log_;
  // Redis's redisLrand48 state (math.random): seeded as Redis's at start-up, and not
  // re-seeded between runs (Redis 7.0 no longer does), so a sequence continues across calls.
  uint64_t rand_state_ = 0;
  RunContext* run_ = nullptr;  // set only while a script runs
  ScriptStore* store_ = nullptr;
  uint64_t generation_ = 0;  // the store's generation this engine's scripts belong to
  std::atomic<size_t> published_memory_{0};
  void PublishMemory() { published_memory_.store(MemoryBytes(), std::memory_order_relaxed); }
  int runs_since_gc_ = 0;
  // redis.call's argument views and formatted numbers, reused from call to call.
  std::vector<std::string_view> call_argv_;
  std::string call_numbers_;
};

}  // namespace omnibus
