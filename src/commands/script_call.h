#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "omnibus/script/lua_engine.h"
#include "omnibus/shard/work.h"

namespace omnibus {

// EVAL / FCALL name numkeys key... arg...: the declared keys, then "any key"
// (kAllShardsKey): how MULTI/EXEC sees a script, which parks every shard there; outside
// MULTI, net/script.cc decides where it runs.
void ScriptKeys(std::span<const std::string_view> args, std::vector<int>* out);

// One EVAL script or FCALL function run on the executing shard (or parked over every shard),
// with redis.call / redis.pcall wired through the command table as EVAL's are
// (script_family.cc): undo log and escalation when the run is on one shard of several, busy
// script activity, `read_only` refusing writes (EVAL_RO, FCALL_RO, no-writes). `engine` is
// the interpreter that runs it; `invoke` runs it there (LuaEngine::Run or CallFunction) with
// the run arguments and returns what they return (false: stopped, to run again parked).
// `function_name`: FCALL's function as registered (FUNCTION STATS shows it while busy).
// maxmemory: notes in `ctx` whether the script's deny-oom calls must fail (out of memory
// after eviction, unless `flags` say allow-oom); true when the script may not run at all
// (then the -OOM reply is made): a script with flags that may write.
bool ScriptRefusedForMemory(ExecContext& ctx, uint32_t flags);

void RunScript(ExecContext& ctx, LuaEngine* engine, std::span<const std::string_view> keys,
               std::span<const std::string_view> args, bool read_only, bool is_function,
               absl::FunctionRef<bool(const ScriptRunArgs&)> invoke,
               std::string_view function_name = {});

}  // namespace omnibus
