// Functions (Redis 7.0): FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/STATS/HELP and
// FCALL/FCALL_RO. Every shard keeps the libraries in its own FunctionEngine
// (include/omnibus/script/function_engine.h): the commands that change them run on every
// shard (each applies the same deterministic change; shard 0's reply is the answer), those
// that read them run on shard 0. FCALL is routed as EVAL (net/script.cc) and runs the
// function in the engine of the shard it runs on; redis.call is EVAL's (script_call.h).
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/script/function_engine.h"
#include "script_call.h"

namespace omnibus {
namespace {

using Args = std::span<const std::string_view>;

// The text of an argument as Redis's "%s" prints it (up to a NUL byte).
std::string_view CString(std::string_view s) { return s.substr(0, s.find('\0')); }

void FcallGeneric(ExecContext& ctx, bool read_only_command) {
  Args a = ctx.args;
  const FunctionEngine::Function* f = ctx.functions->Find(a[1]);
  if (f == nullptr) return ctx.reply->Error("ERR Function not found");
  int64_t numkeys;
  if (!ParseInt64(a[2], &numkeys)) return ctx.reply->Error("ERR Bad number of keys provided");
  if (numkeys > static_cast<int64_t>(a.size()) - 3) {
    return ctx.reply->Error("ERR Number of keys can't be greater than number of args");
  }
  if (numkeys < 0) return ctx.reply->Error("ERR Number of keys can't be negative");
  bool no_writes = (f->flags & kScriptNoWrites) != 0;
  if (read_only_command && !no_writes) {
    return ctx.reply->Error("ERR Can not execute a script with write flag using *_ro command.");
  }
  if (ScriptRefusedForMemory(ctx, f->flags)) return;
  bool read_only = read_only_command || no_writes;
  FunctionEngine& functions = *ctx.functions;
  RunScript(
      ctx, functions.lua(), a.subspan(3, static_cast<size_t>(numkeys)),
      a.subspan(3 + static_cast<size_t>(numkeys)), read_only, /*is_function=*/true,
      [&](const ScriptRunArgs& run) { return functions.Call(*f, run, ctx.reply); }, f->name);
}

void Fcall(ExecContext& ctx) { FcallGeneric(ctx, false); }
void FcallRo(ExecContext& ctx) { FcallGeneric(ctx, true); }

// The engine of the shard this runs for: its own, also when a transaction runs it parked
// once per shard on one thread (FunctionEngine::ForShard).
FunctionEngine& Engine(ExecContext& ctx) { return *ctx.functions->ForShard(ctx.shard_index); }

// Redis's addReplySubcommandSyntaxError.
void SubcommandSyntaxError(ExecContext& ctx) {
  std::string upper(ctx.args[0]);
  for (char& c : upper) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  ctx.reply->Error(StrCat("ERR unknown subcommand or wrong number of arguments for '",
                          CString(ctx.args[1]).substr(0, 128), "'. Try ", upper, " HELP."));
}

void FunctionLoad(ExecContext& ctx) {
  Args a = ctx.args;
  bool replace = false;
  for (size_t i = 2; i + 1 < a.size(); ++i) {
    if (!EqualsIgnoreCase(a[i], "replace")) {
      return ctx.reply->Error(StrCat("ERR Unknown option given: ", CString(a[i])));
    }
    replace = true;
  }
  std::string name, error;
  if (!Engine(ctx).Load(a.back(), replace, &name, &error)) return ctx.reply->Error(error);
  ctx.reply->Bulk(name);
}

void FunctionDelete(ExecContext& ctx) {
  if (!Engine(ctx).Delete(ctx.args[2])) return ctx.reply->Error("ERR Library not found");
  ctx.reply->Ok();
}

void FunctionFlush(ExecContext& ctx) {
  Args a = ctx.args;
  if (a.size() > 3) return SubcommandSyntaxError(ctx);
  if (a.size() == 3 && !EqualsIgnoreCase(a[2], "sync") && !EqualsIgnoreCase(a[2], "async")) {
    return ctx.reply->Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
  }
  Engine(ctx).Flush();
  ctx.reply->Ok();
}

void FunctionRestore(ExecContext& ctx) {
  Args a = ctx.args;
  if (a.size() > 4) return SubcommandSyntaxError(ctx);
  auto policy = FunctionEngine::RestorePolicy::kAppend;
  if (a.size() == 4) {
    if (EqualsIgnoreCase(a[3], "append")) {
      policy = FunctionEngine::RestorePolicy::kAppend;
    } else if (EqualsIgnoreCase(a[3], "replace")) {
      policy = FunctionEngine::RestorePolicy::kReplace;
    } else if (EqualsIgnoreCase(a[3], "flush")) {
      policy = FunctionEngine::RestorePolicy::kFlush;
    } else {
      return ctx.reply->Error(
          "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
    }
  }
  std::string error;
  if (!Engine(ctx).Restore(a[2], policy, &error)) return ctx.reply->Error(error);
  ctx.reply->Ok();
}

void FunctionList(ExecContext& ctx) {
  Args a = ctx.args;
  bool with_code = false;
  bool have_pattern = false;
  std::string_view pattern;
  for (size_t i = 2; i < a.size(); ++i) {
    if (!with_code && EqualsIgnoreCase(a[i], "withcode")) {
      with_code = true;
      continue;
    }
    if (!have_pattern && EqualsIgnoreCase(a[i], "libraryname")) {
      if (i + 1 >= a.size()) return ctx.reply->Error("ERR library name argument was not given");
      pattern = a[++i];
      have_pattern = true;
      continue;
    }
    return ctx.reply->Error(StrCat("ERR Unknown argument ", CString(a[i])));
  }
  std::vector<const FunctionEngine::Library*> libs = Engine(ctx).Libraries();
  if (have_pattern) {
    std::erase_if(libs, [pattern](const FunctionEngine::Library* lib) {
      return !GlobMatch(pattern, lib->name, /*nocase=*/true);
    });
  }
  ReplyBuilder& rb = *ctx.reply;
  rb.Array(libs.size());
  for (const FunctionEngine::Library* lib : libs) {
    rb.Map(with_code ? 4 : 3);
    rb.Bulk("library_name");
    rb.Bulk(lib->name);
    rb.Bulk("engine");
    rb.Bulk("LUA");
    rb.Bulk("functions");
    rb.Array(lib->functions.size());
    for (const auto& f : lib->functions) {
      rb.Map(3);
      rb.Bulk("name");
      rb.Bulk(f->name);
      rb.Bulk("description");
      if (f->description.has_value()) {
        rb.Bulk(*f->description);
      } else {
        rb.Null();
      }
      rb.Bulk("flags");
      std::vector<std::string_view> flags = FunctionEngine::FlagNames(f->flags);
      rb.Set(flags.size());
      for (std::string_view flag : flags) rb.SimpleString(flag);
    }
    if (with_code) {
      rb.Bulk("library_code");
      rb.Bulk(lib->code);
    }
  }
}

void FunctionDump(ExecContext& ctx) { ctx.reply->Bulk(Engine(ctx).Dump()); }

// On the reactor (allow-busy, as Redis): it names a busy function, whose shard cannot
// answer.
void FunctionStats(ReactorContext& ctx) { ctx.server->ReplyFunctionStats(ctx.reply); }

void FunctionHelp(ReactorContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "LOAD [REPLACE] <FUNCTION CODE>",
      "    Create a new library with the given library name and code.",
      "DELETE <LIBRARY NAME>",
      "    Delete the given library.",
      "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
      "    Return general information on all the libraries:",
      "    * Library name",
      "    * The engine used to run the Library",
      "    * Library description",
      "    * Functions list",
      "    * Library code (if WITHCODE is given)",
      "    It also possible to get only function that matches a pattern using LIBRARYNAME "
      "argument.",
      "STATS",
      "    Return information about the current function running:",
      "    * Function name",
      "    * Command used to run the function",
      "    * Duration in MS that the function is running",
      "    If no function is running, return nil",
      "    In addition, returns a list of available engines.",
      "KILL",
      "    Kill the current running function.",
      "FLUSH [ASYNC|SYNC]",
      "    Delete all the libraries.",
      "    When called without the optional mode argument, the behavior is determined by the",
      "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
      "    * ASYNC: Asynchronously flush the libraries.",
      "    * SYNC: Synchronously flush the libraries.",
      "DUMP",
      "    Return a serialized payload representing the current libraries, can be restored "
      "using FUNCTION RESTORE command",
      "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
      "    Restore the libraries represented by the given payload, it is possible to give a "
      "restore policy to",
      "    control how to handle existing libraries (default APPEND):",
      "    * FLUSH: delete all existing libraries.",
      "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
      "abort.",
      "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
      "replace the old",
      "      libraries with the new libraries (notice that even on this option there is a "
      "chance of failure",
      "      in case of functions name collision with another library).",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelpLines(ctx.reply, kLines);
}

// Every shard applied the same change: shard 0's reply is the answer.
void MergeFirst(MergeContext& ctx) { ctx.reply->Value(*ctx.parts[0].value); }

int OnShardZero(Args, int, ReplyBuilder*) { return 0; }

CommandDoc Doc(std::string_view summary, std::string_view complexity, std::string_view args) {
  return CommandDoc{summary, "7.0.0", "scripting", complexity, args};
}

// A subcommand every shard applies to its own libraries.
CommandSpec OnEveryShard(std::string_view name, int arity, uint32_t flags, std::string_view acl,
                         ShardHandler handler, CommandDoc doc) {
  CommandSpec s{name, arity, kCmdNoScript | flags, acl, 0, 0, 0, Route::kAllShards, handler};
  s.merge = MergeFirst;
  s.doc = doc;
  return s;
}

// A subcommand that reads the libraries (shard 0's, the same as every shard's).
CommandSpec OnShardZeroSub(std::string_view name, int arity, uint32_t flags, std::string_view acl,
                           ShardHandler handler, CommandDoc doc) {
  CommandSpec s{name, arity, kCmdNoScript | flags, acl, 0, 0, 0, Route::kCustom, handler};
  s.route_fn = OnShardZero;
  s.doc = doc;
  return s;
}

CommandSpec FcallCommand(std::string_view name, uint32_t flags, ShardHandler handler,
                         std::string_view args) {
  // Routed as EVAL (net/script.cc): on the declared keys' shard, parked when they span
  // shards or the function reaches another shard's key.
  CommandSpec s{name, -3, flags, "@slow @scripting", 0, 0, 0, Route::kTask, handler};
  s.task = ReactorTask::kScript;
  s.keys_fn = ScriptKeys;
  bool ro = name == "fcall_ro";
  s.doc = Doc(ro ? "Invoke a read-only function" : "Invoke a function",
              "Depends on the function that is executed.", args);
  s.doc.key_notes = ro ? "We cannot tell how the keys will be used so we assume the worst, RO and "
                         "ACCESS"
                       : "We cannot tell how the keys will be used so we assume the worst, RW and "
                         "UPDATE";
  return s;
}

// FUNCTION KILL, on the reactor: a busy function's shard is not reachable through its queue.
void FunctionKill(ReactorContext& ctx) {
  std::string error = ctx.server->KillScripts(/*function=*/true);
  if (error.empty()) return ctx.reply->Ok();
  ctx.reply->Error(error);
}

constexpr uint32_t kFcallFlags = kCmdNoScript | kCmdSkipMonitor | kCmdStale | kCmdNoMandatoryKeys;

}  // namespace

std::vector<CommandSpec> FunctionFamily() {
  return {
      FcallCommand("fcall", kFcallFlags, Fcall,
                   "function:string numkeys:integer [key:key{key_flags=RW+access+update}...] "
                   "[arg:string...]"),
      FcallCommand("fcall_ro", kFcallFlags | kCmdReadOnly, FcallRo,
                   "function:string numkeys:integer [key:key{key_flags=RO+access}...] "
                   "[arg:string...]"),
      ReactorCommand("function", -2, 0, "@slow", nullptr,
                     Doc("A container for function commands", "Depends on subcommand.", "")),
      OnEveryShard("function|load", -3, kCmdWrite | kCmdDenyOom, "@write @slow @scripting",
                   FunctionLoad,
                   Doc("Create a function with the given arguments (name, code, description)",
                       "O(1) (considering compilation time is redundant)",
                       "[replace:pure-token:REPLACE] function-code:string")),
      OnEveryShard("function|delete", 3, kCmdWrite, "@write @slow @scripting", FunctionDelete,
                   Doc("Delete a function by name", "O(1)", "library-name:string")),
      OnEveryShard("function|flush", -2, kCmdWrite, "@write @slow @scripting", FunctionFlush,
                   Doc("Deleting all functions", "O(N) where N is the number of functions deleted",
                       "[async:oneof(async:pure-token:ASYNC|sync:pure-token:SYNC)]")),
      OnEveryShard("function|restore", -3, kCmdWrite | kCmdDenyOom, "@write @slow @scripting",
                   FunctionRestore,
                   Doc("Restore all the functions on the given payload",
                       "O(N) where N is the number of functions on the payload",
                       "serialized-value:string [policy:oneof(flush:pure-token:FLUSH|append:"
                       "pure-token:APPEND|replace:pure-token:REPLACE)]")),
      OnShardZeroSub(
          "function|list", -2, 0, "@slow @scripting", FunctionList,
          Doc("List information about all the functions", "O(N) where N is the number of functions",
              "[library-name-pattern:string:LIBRARYNAME] [withcode:pure-token:"
              "WITHCODE]")),
      OnShardZeroSub("function|dump", 2, 0, "@slow @scripting", FunctionDump,
                     Doc("Dump all functions into a serialized binary payload",
                         "O(N) where N is the number of functions", "")),
      // Not allow_busy (Redis's flag): shard 0 answers it, and a shard running a busy script
      // cannot; -BUSY beats waiting for the script.
      ReactorCommand("function|stats", 2, kCmdNoScript | kCmdAllowBusy, "@slow @scripting",
                     FunctionStats,
                     Doc("Return information about the function currently running (name, "
                         "description, duration)",
                         "O(1)", "")),
      ReactorCommand("function|kill", 2, kCmdNoScript | kCmdAllowBusy, "@slow @scripting",
                     FunctionKill, Doc("Kill the function currently in execution.", "O(1)", "")),
      ReactorCommand("function|help", 2, kCmdLoading | kCmdStale, "@slow @scripting", FunctionHelp,
                     Doc("Show helpful text about the different subcommands", "O(1)", "")),
  };
}

}  // namespace omnibus
