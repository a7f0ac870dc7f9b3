// Scripting: EVAL EVALSHA EVAL_RO EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH. A script may touch
// any key, so it parks every shard (DESIGN §6) and runs on the thread that arrives last, in
// the one interpreter (include/omnibus/script/lua_engine.h); redis.call runs commands through
// the command table with direct access to every shard's keys. SCRIPT subcommands run on shard
// 0, where no script can run at the same time.
#include <cctype>

#include "omnibus/base/clock.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/script/lua_engine.h"

namespace omnibus {
namespace {

using Args = std::span<const std::string_view>;

// EVAL script numkeys key... arg...: the declared keys, then "any key" (parks every shard).
void EvalKeys(Args args, std::vector<int>* out) {
  int64_t n;
  if (args.size() < 3 || !ParseInt64(args[2], &n) || n < 0 ||
      n > static_cast<int64_t>(args.size()) - 3)
    return;
  for (int64_t i = 0; i < n; ++i) out->push_back(3 + static_cast<int>(i));
  out->push_back(kAllShardsKey);
}

ReplyValue ErrorValue(std::string_view text) {
  ReplyValue v;
  v.kind = ReplyValue::Kind::kError;
  v.str = std::string(text);
  return v;
}

// redis.call / redis.pcall: one command, run here with direct access to every shard's keys.
// The command (or subcommand) `argv` names, as Redis's lookupCommand: nullptr when unknown.
const CommandSpec* FindScriptCommand(const CommandTable& table, Args argv) {
  const CommandSpec* spec = argv.empty() ? nullptr : table.Find(argv[0]);
  // "config|get" names a table entry, not a command a client (or script) can send.
  if (spec != nullptr && spec->name.find('|') != std::string_view::npos) return nullptr;
  if (spec != nullptr && spec->container && argv.size() >= 2) {
    std::string sub = StrCat(spec->name, "|", argv[1]);
    AsciiToLower(&sub);
    spec = table.Find(sub);
  }
  return spec;
}

// `db` is the script's own DB: SELECT in a script changes it for the script's later calls only
// (Redis 7.0 no longer lets it leak to the caller).
ReplyValue CallFromScript(const ExecContext& ctx, Args argv, int resp, bool read_only, int* db) {
  const CommandSpec* spec = FindScriptCommand(*ctx.commands, argv);
  if (spec == nullptr) return ErrorValue("ERR Unknown Redis command called from script");
  int argc = static_cast<int>(argv.size());
  if ((spec->arity > 0 && argc != spec->arity) || argc < -spec->arity) {
    return ErrorValue("ERR Wrong number of args calling Redis command from script");
  }
  if (spec->flags & kCmdNoScript) {
    return ErrorValue("ERR This Redis command is not allowed from script");
  }
  if (read_only && (spec->flags & kCmdWrite)) {
    return ErrorValue("ERR Write commands are not allowed from read-only scripts.");
  }
  ReplyValue v;
  ReplyBuilder rb(&v, resp);
  ExecContext sub = ctx;
  sub.db_index = *db;
  sub.args = argv;
  sub.reply = &rb;
  sub.may_block = false;  // blocking commands do not block in scripts
  switch (spec->route) {
    case Route::kKey:
    case Route::kScatter:
    case Route::kParked:
    case Route::kTask:
      if (spec->shard == nullptr) break;
      spec->shard(sub);
      return v;
    case Route::kCustom: {
      int shard = spec->route_fn(argv, ctx.num_shards, &rb);
      if (shard < 0) return v;
      if (ctx.all != nullptr) {
        sub.local = ctx.all[shard];
        sub.shard_index = shard;
      }
      spec->shard(sub);
      return v;
    }
    case Route::kAllShards: {
      if (spec->merge == nullptr || spec->name == "info") break;  // INFO needs the reactor
      int n = ctx.all != nullptr ? ctx.num_shards : 1;
      std::vector<ReplyValue> parts(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        ReplyBuilder prb(&parts[static_cast<size_t>(i)], resp);
        ExecContext each = sub;
        each.reply = &prb;
        if (ctx.all != nullptr) {
          each.local = ctx.all[i];
          each.shard_index = i;
        }
        spec->shard(each);
      }
      std::vector<SubReply> subs;
      for (const ReplyValue& p : parts) subs.push_back(SubReply{&p, {}});
      MergeContext merge{argv, subs, &rb, nullptr, nullptr};
      spec->merge(merge);
      return v;
    }
    case Route::kReactor:
      // Connection state lives on the reactor: of the keyless commands only the pure ones
      // run here.
      if (spec->name == "ping") {
        if (argc == 1) {
          rb.SimpleString("PONG");
        } else if (argc == 2) {
          rb.Bulk(argv[1]);
        } else {
          return ErrorValue("ERR Wrong number of args calling Redis command from script");
        }
        return v;
      }
      if (spec->name == "echo") {
        rb.Bulk(argv[1]);
        return v;
      }
      if (spec->name == "time") {
        int64_t us = UnixTimeUs();
        rb.Array(2);
        rb.Bulk(StrCat(us / 1'000'000));
        rb.Bulk(StrCat(us % 1'000'000));
        return v;
      }
      if (spec->name == "select") {
        int64_t to;
        if (!ArgToInt64(argv[1], &to, &rb)) return v;
        if (to < 0 || to >= ctx.local->num_dbs()) return ErrorValue("ERR DB index is out of range");
        *db = static_cast<int>(to);
        rb.Ok();
        return v;
      }
      break;
  }
  return ErrorValue("ERR This Redis command is not allowed from script");
}

// EVAL/EVALSHA (and their _RO forms): numkeys, then the run.
void EvalGeneric(ExecContext& ctx, bool is_sha, bool read_only_command) {
  Args a = ctx.args;
  int64_t numkeys;
  if (!ParseInt64(a[2], &numkeys)) return ReplyStatus(ctx.reply, OpStatus::kNotAnInteger);
  if (numkeys > static_cast<int64_t>(a.size()) - 3) {
    return ctx.reply->Error("ERR Number of keys can't be greater than number of args");
  }
  if (numkeys < 0) return ctx.reply->Error("ERR Number of keys can't be negative");
  LuaEngine& engine = *ctx.script;
  uint32_t flags = 0;
  if (is_sha) {
    flags = engine.Flags(a[1]).value_or(0);
  } else {
    size_t shebang_len = 0;
    std::string error;
    if (!LuaEngine::ParseShebang(a[1], &flags, &shebang_len, &error)) {
      return ctx.reply->Error(error);
    }
  }
  // A script with a shebang declares whether it writes: *_RO refuses one that does not say
  // no-writes before it runs (after it compiles, as Redis checks), unlike a compat script.
  if (read_only_command && (flags & (kScriptEvalCompat | kScriptNoWrites)) == 0 &&
      (!is_sha || engine.Exists(a[1]))) {
    std::string sha, error;
    if (!is_sha && !engine.Load(a[1], &sha, &error)) return ctx.reply->Error(error);
    return ctx.reply->Error("ERR Can not execute a script with write flag using *_ro command.");
  }
  bool read_only = read_only_command || (flags & kScriptNoWrites) != 0;
  ScriptRunArgs run;
  run.keys = a.subspan(3, static_cast<size_t>(numkeys));
  run.args = a.subspan(3 + static_cast<size_t>(numkeys));
  // redis.acl_check_cmd: no ACL users yet, so every existing command is permitted; an
  // unknown command (or subcommand) is Redis's "Invalid command" error.
  run.acl_check = [&ctx](Args argv) -> std::optional<bool> {
    if (FindScriptCommand(*ctx.commands, argv) == nullptr) return std::nullopt;
    return true;
  };
  int db = ctx.db_index;
  run.call = [&ctx, read_only, &db](Args argv, int resp) {
    return CallFromScript(ctx, argv, resp, read_only, &db);
  };
  engine.Run(a[1], is_sha, run, ctx.reply);
}

void Eval(ExecContext& ctx) { EvalGeneric(ctx, false, false); }
void EvalSha(ExecContext& ctx) { EvalGeneric(ctx, true, false); }
void EvalRo(ExecContext& ctx) { EvalGeneric(ctx, false, true); }
void EvalShaRo(ExecContext& ctx) { EvalGeneric(ctx, true, true); }

int OnShardZero(Args, int, ReplyBuilder*) { return 0; }

void ScriptLoad(ExecContext& ctx) {
  std::string sha, error;
  if (!ctx.script->Load(ctx.args[2], &sha, &error)) return ctx.reply->Error(error);
  ctx.reply->Bulk(sha);
}

void ScriptExists(ExecContext& ctx) {
  ctx.reply->Array(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    ctx.reply->Integer(ctx.script->Exists(ctx.args[i]) ? 1 : 0);
  }
}

void ScriptFlush(ExecContext& ctx) {
  if (ctx.args.size() > 3) return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  if (ctx.args.size() == 3 && !EqualsIgnoreCase(ctx.args[2], "sync") &&
      !EqualsIgnoreCase(ctx.args[2], "async")) {
    return ctx.reply->Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
  }
  ctx.script->Flush();
  ctx.reply->Ok();
}

CommandDoc ScriptDoc(std::string_view summary, std::string_view since, std::string_view complexity,
                     std::string_view args) {
  return CommandDoc{summary, since, "scripting", complexity, args};
}

CommandSpec EvalCommand(std::string_view name, uint32_t flags, std::string_view acl,
                        ShardHandler handler, CommandDoc doc) {
  CommandSpec s{name, -3, flags, acl, 0, 0, 0, Route::kParked, handler};
  s.keys_fn = EvalKeys;
  s.doc = doc;
  return s;
}

CommandSpec ScriptSub(std::string_view name, int arity, uint32_t flags, std::string_view acl,
                      ShardHandler handler, CommandDoc doc) {
  CommandSpec s{name, arity, kCmdNoScript | flags, acl, 0, 0, 0, Route::kCustom, handler};
  s.route_fn = OnShardZero;
  s.doc = doc;
  return s;
}

constexpr uint32_t kEvalFlags = kCmdNoScript | kCmdSkipMonitor | kCmdStale | kCmdNoMandatoryKeys;
constexpr std::string_view kEvalComplexity = "Depends on the script that is executed.";

}  // namespace

std::vector<CommandSpec> ScriptFamily() {
  return {
      EvalCommand("eval", kEvalFlags, "@slow @scripting", Eval,
                  ScriptDoc("Execute a Lua script server side", "2.6.0", kEvalComplexity,
                            "script:string numkeys:integer [key:key...] [arg:string...]")),
      EvalCommand("evalsha", kEvalFlags, "@slow @scripting", EvalSha,
                  ScriptDoc("Execute a Lua script server side", "2.6.0", kEvalComplexity,
                            "sha1:string numkeys:integer [key:key...] [arg:string...]")),
      EvalCommand("eval_ro", kEvalFlags | kCmdReadOnly, "@slow @scripting", EvalRo,
                  ScriptDoc("Execute a read-only Lua script server side", "7.0.0", kEvalComplexity,
                            "script:string numkeys:integer key:key... arg:string...")),
      EvalCommand("evalsha_ro", kEvalFlags | kCmdReadOnly, "@slow @scripting", EvalShaRo,
                  ScriptDoc("Execute a read-only Lua script server side", "7.0.0", kEvalComplexity,
                            "sha1:string numkeys:integer key:key... arg:string...")),
      ReactorCommand("script", -2, 0, "@slow", nullptr,
                     ScriptDoc("A container for Lua scripts management commands", "2.6.0",
                               "Depends on subcommand.", "")),
      ScriptSub(
          "script|load", 3, kCmdStale, "@slow @scripting", ScriptLoad,
          ScriptDoc("Load the specified Lua script into the script cache.", "2.6.0",
                    "O(N) with N being the length in bytes of the script body.", "script:string")),
      ScriptSub("script|exists", -3, 0, "@slow @scripting", ScriptExists,
                ScriptDoc("Check existence of scripts in the script cache.", "2.6.0",
                          "O(N) with N being the number of scripts to check (so checking a "
                          "single script is an O(1) operation).",
                          "sha1:string...")),
      ScriptSub("script|flush", -2, 0, "@slow @scripting", ScriptFlush,
                ScriptDoc("Remove all the scripts from the script cache.", "2.6.0",
                          "O(N) with N being the number of scripts in cache",
                          "[async:oneof(async:pure-token:ASYNC{since=6.2.0}|sync:pure-token:"
                          "SYNC{since=6.2.0})]")),
  };
}

}  // namespace omnibus
