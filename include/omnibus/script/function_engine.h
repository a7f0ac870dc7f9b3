#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omnibus/resp/reply_builder.h"
#include "omnibus/script/lua_engine.h"

namespace omnibus {

// Redis 7.0's functions (FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/STATS, FCALL): the
// libraries ("#!lua name=mylib" code that calls redis.register_function) and their functions,
// compiled in an interpreter of their own, as Redis 7.0 keeps them apart from EVAL's: a
// library never sees EVAL's globals, and SCRIPT FLUSH / FUNCTION FLUSH each leave the other
// alone. The interpreter is a LuaEngine (same libraries, sandbox, redis API, conversions and
// error texts); only loading differs: while a library's code runs its globals are just
// `redis` with register_function, log and the version fields, as in Redis.
// Runs on: one shard thread (one engine per shard; every shard applies the same loads).
class FunctionEngine {
 public:
  struct Function {
    std::string name;
    std::optional<std::string> description;
    uint32_t flags = 0;  // ScriptFlag bits
    int ref = 0;         // the callback in the interpreter's registry
  };
  struct Library {
    std::string name;
    std::string code;  // the whole payload, shebang included (FUNCTION LIST WITHCODE, DUMP)
    // In registration order.
    std::vector<std::unique_ptr<Function>> functions;
  };
  enum class RestorePolicy { kAppend, kReplace, kFlush };

  FunctionEngine();
  ~FunctionEngine();
  FunctionEngine(const FunctionEngine&) = delete;
  FunctionEngine& operator=(const FunctionEngine&) = delete;

  // FUNCTION LOAD [REPLACE]: compiles and runs `code` so it registers its functions, then
  // adds the library. Returns false with Redis's reply text (without '-') in *error and
  // changes nothing. *name receives the library's name.
  bool Load(std::string_view code, bool replace, std::string* name, std::string* error);
  // FUNCTION DELETE: false when no library has that name (case-sensitive, as Redis).
  bool Delete(std::string_view library);
  // FUNCTION FLUSH.
  void Flush();

  // FUNCTION DUMP: Redis's payload (an RDB FUNCTION2 opcode and the code of each library,
  // the RDB version in 2 bytes, CRC64), restorable by redis-server 7.0.
  std::string Dump() const;
  // FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]; also reads the LZF-compressed strings
  // redis-server writes. All or nothing; false with the reply text in *error.
  bool Restore(std::string_view payload, RestorePolicy policy, std::string* error);

  // FCALL's lookup (function names are case-insensitive in Redis); null when unknown.
  const Function* Find(std::string_view name) const;
  // Runs `f` with the keys and args as its parameters; exactly one reply, unless the command
  // callback stopped the run (LuaEngine::AbortRun): then false and no reply.
  bool Call(const Function& f, const ScriptRunArgs& run, ReplyBuilder* reply);
  // The interpreter functions run in (for AbortRun/KillRun from the command callback).
  LuaEngine* lua() { return &lua_; }

  // Libraries sorted by name (FUNCTION LIST; Redis lists them in its hash order).
  std::vector<const Library*> Libraries() const;
  size_t library_count() const { return live_.libraries.size(); }
  size_t function_count() const { return live_.function_count; }

  // INFO memory, readable from any thread: as of the last change (or call, for the bytes).
  struct Stats {
    size_t libraries = 0;
    size_t functions = 0;
    size_t vm_bytes = 0;        // the interpreter (used_memory_vm_functions)
    size_t overhead_bytes = 0;  // names, descriptions and code (used_memory_functions)
  };
  Stats PublishedStats() const;

  // The engines of every shard of one server, in shard order (set once, before the shards
  // run). A command run parked over every shard (inside MULTI/EXEC) runs once per shard on
  // one thread: ForShard(ctx.shard_index) is that shard's own engine. Without siblings,
  // this engine.
  void SetSiblings(std::vector<FunctionEngine*> all) { siblings_ = std::move(all); }
  FunctionEngine* ForShard(int shard) {
    return siblings_.empty() ? this : siblings_[static_cast<size_t>(shard)];
  }

  // Redis's crc64 (Jones polynomial, reflected), as DUMP payloads carry it.
  static uint64_t Crc64(uint64_t crc, std::string_view data);

  // Redis's script flag names in its order ("no-writes", "allow-oom", ...), for `flags`.
  static std::vector<std::string_view> FlagNames(uint32_t flags);

  // The library being loaded (opaque; lua_functions.cc), seen by redis.register_function.
  struct LoadContext;

 private:
  friend struct FunctionEngineAccess;

  // Libraries by name, and their functions by lower-case name: the live set, or the set a
  // RESTORE builds before joining it to the live one.
  struct LibrarySet {
    std::map<std::string, std::unique_ptr<Library>, std::less<>> libraries;
    std::map<std::string, const Function*, std::less<>> functions;
    size_t function_count = 0;  // in every library (FUNCTION STATS)
  };
  // FUNCTION LOAD into `set` (Redis's functionsCreateWithLibraryCtx).
  bool LoadInto(LibrarySet* set, std::string_view code, bool replace, std::string* name,
                std::string* error);
  // Runs the library's code so it registers its functions into *lib.
  bool Register(Library* lib, std::string_view body, std::string* error);
  static void Link(LibrarySet* set, std::unique_ptr<Library> lib);
  static std::unique_ptr<Library> Unlink(LibrarySet* set, std::string_view name);
  void Free(std::unique_ptr<Library> lib);
  void Clear(LibrarySet* set);
  void SetupLoadGlobals();
  void Publish();  // refreshes the published stats (on the engine's thread)

  LuaEngine lua_;  // the functions' own interpreter
  LibrarySet live_;
  std::vector<FunctionEngine*> siblings_;
  std::atomic<size_t> published_libraries_{0};
  std::atomic<size_t> published_functions_{0};
  std::atomic<size_t> published_vm_bytes_{0};
  std::atomic<size_t> published_overhead_{0};
  LoadContext* loading_ = nullptr;  // set only while a library's code runs
  // The globals every library's code (and so every function) runs with: an empty table
  // whose metatable's __index is `redis` alone while a library loads, and the sandboxed
  // globals otherwise (Redis switches them the same way).
  int fenv_ref_ = 0;
  int fenv_meta_ref_ = 0;
  int load_api_ref_ = 0;
  int run_api_ref_ = 0;
};

}  // namespace omnibus
