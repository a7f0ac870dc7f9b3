// Scripting: EVAL EVALSHA EVAL_RO EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH (DESIGN §6).
//
// Every shard has its own interpreter (include/omnibus/script/lua_engine.h) over one shared
// script cache (script_store.h). A script whose declared keys are all on one shard runs
// there in one shard step, like any keyed command; one that declares keys on several
// shards runs parked over every shard. A script may also reach keys it did not declare
// (Redis allows it outside cluster mode): on its own shard that simply works; when it
// reaches another shard's key the run stops, anything it changed is put back from an undo
// log, and the reactor runs it again parked over every shard (and remembers to run that
// script parked from then on). redis.call runs commands through the command table.
// SCRIPT subcommands run on shard 0; the cache they change is every shard's.
#include <cctype>
#include <optional>

#include "omnibus/base/clock.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/script/lua_engine.h"
#include "omnibus/store/object.h"
#include "script_call.h"

namespace omnibus {
namespace {

using Args = std::span<const std::string_view>;

ReplyValue ErrorValue(std::string_view text) {
  ReplyValue v;
  v.kind = ReplyValue::Kind::kError;
  v.str = std::string(text);
  return v;
}

// What a script run on one shard changed, to put back if it must run again parked: each key
// as it was before the script's first write to it. Values too big to copy cheaply are not
// kept; after such a write the run can no longer be undone (`irreversible`).
class UndoLog {
 public:
  UndoLog() = default;
  UndoLog(const UndoLog&) = delete;
  UndoLog& operator=(const UndoLog&) = delete;
  ~UndoLog() {
    for (Saved& s : saved_) {
      if (s.obj.ptr != nullptr) FreeObject(s.obj);
    }
  }

  bool irreversible() const { return irreversible_; }

  // Before a write to `key` in `db`.
  void Save(Db& db, int db_index, std::string_view key) {
    if (irreversible_) return;
    for (const Saved& s : saved_) {
      if (s.db == db_index && s.key == key) return;
    }
    Saved s;
    s.db = db_index;
    s.key = std::string(key);
    Db::Entry e = db.Find(key);
    if (e) {
      s.existed = true;
      s.expire_at_ms = e->expire_at_ms();
      if (e->is_container()) {
        if (ObjectLength(e->object()) > kMaxElements) {
          irreversible_ = true;
          return;
        }
        s.obj = CopyObject(e->object());
      } else {
        if (e->value().size() > kMaxBytes) {
          irreversible_ = true;
          return;
        }
        s.value = std::string(e->value());
      }
    }
    saved_.push_back(std::move(s));
  }

  // Puts every saved key back as it was (the script's changes to it are lost).
  void Rollback(Keyspace* keyspace) {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      Db& db = keyspace->db(it->db);
      if (!it->existed) {
        db.Delete(it->key);
      } else if (it->obj.ptr != nullptr) {
        db.StoreObject(it->key, it->obj);
        it->obj = ObjectRef{};
        if (it->expire_at_ms >= 0) db.SetExpire(db.Find(it->key), it->expire_at_ms);
      } else {
        db.SetString(it->key, it->value, it->expire_at_ms);
      }
    }
    saved_.clear();
  }

 private:
  // A container with more elements, or a string longer, is not copied.
  static constexpr size_t kMaxElements = 512;
  static constexpr size_t kMaxBytes = 64 * 1024;
  struct Saved {
    int db = 0;
    std::string key;
    bool existed = false;
    int64_t expire_at_ms = -1;
    std::string value;
    ObjectRef obj{};
  };
  std::vector<Saved> saved_;
  bool irreversible_ = false;
};

// Whether a command a script calls while it runs on one shard stays on that shard; if it is
// a write, the keys it changes are saved first.
bool StaysLocal(const ExecContext& ctx, const CommandSpec& spec, Args argv, UndoLog* undo) {
  switch (spec.route) {
    case Route::kReactor:
      return true;
    case Route::kAllShards:
      return false;
    case Route::kCustom: {
      std::string ignored;
      ReplyBuilder rb(&ignored, 2);
      int shard = spec.route_fn(argv, ctx.num_shards, &rb);
      return shard < 0 || shard == ctx.shard_index;
    }
    case Route::kKey:
    case Route::kScatter:
    case Route::kParked:
    case Route::kTask:
      break;
  }
  std::vector<int> key_at;
  KeyPositions(spec, argv, &key_at);
  for (int k : key_at) {
    if (k == kAllShardsKey) return false;
    if (ShardForKey(argv[static_cast<size_t>(k)], ctx.num_shards) != ctx.shard_index) return false;
  }
  if (spec.flags & kCmdWrite) {
    for (int k : key_at) {
      undo->Save(ctx.LocalDb(), ctx.db_index, argv[static_cast<size_t>(k)]);
    }
    // MOVE key db and COPY src dst DB db also write a key in another DB: saved there too.
    // (Marking the run irreversible instead made a MOVE that moved nothing stop a later
    // cross-shard call, which the same script with one shard ran.)
    std::string_view other_key;
    std::string_view other_db;
    if (spec.name == "move" && argv.size() == 3) {
      other_key = argv[1];
      other_db = argv[2];
    } else if (spec.name == "copy") {
      for (size_t i = 3; i + 1 < argv.size(); ++i) {
        if (EqualsIgnoreCase(argv[i], "db")) {
          other_key = argv[2];
          other_db = argv[i + 1];
        }
      }
    }
    int64_t db;
    if (!other_db.empty() && ParseInt64(other_db, &db) && db >= 0 && db < ctx.local->num_dbs()) {
      undo->Save(ctx.local->db(static_cast<int>(db)), static_cast<int>(db), other_key);
    }
  }
  return true;
}

// `ctx` in another DB: the script's, after a SELECT in it.
ExecContext InDb(const ExecContext& ctx, int db) {
  ExecContext in_db = ctx;
  in_db.db_index = db;
  return in_db;
}

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

// redis.call / redis.pcall: one command. Parked (ctx.all set) or with one shard, every key
// is reachable; on one shard of several, `undo` is the run's undo log and a command that
// leaves the shard stops the run (or, past an irreversible write, fails).
// `db` is the script's own DB: SELECT in a script changes it for the script's later calls only
// (Redis 7.0 no longer lets it leak to the caller). `engine` runs the script (EVAL's, or the
// function engine's own).
ReplyValue CallFromScript(ExecContext& ctx, LuaEngine* engine, Args argv, int resp, bool read_only,
                          UndoLog* undo, int* db) {
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
  if (ctx.script_oom && (spec->flags & kCmdDenyOom)) {
    return ErrorValue(kOomError);
  }
  if ((spec->flags & kCmdWrite) && ctx.activity != nullptr && !ctx.activity->MarkWrite()) {
    engine->KillRun();  // SCRIPT KILL came first: the script never writes
    return ErrorValue("ERR Script killed by user with SCRIPT KILL...");
  }
  if (undo != nullptr &&
      !StaysLocal(*db == ctx.db_index ? ctx : InDb(ctx, *db), *spec, argv, undo)) {
    if (undo->irreversible()) {
      ctx.reached_out = true;
      return ErrorValue(
          "ERR Script reached a key of another shard after a change that cannot be undone; "
          "declare every key the script uses in KEYS");
    }
    ctx.escalate = true;
    engine->AbortRun();
    return ErrorValue("ERR script aborted");
  }
  if (ctx.track_reads && (spec->flags & kCmdReadOnly) && !(spec->flags & kCmdPubSub)) {
    // Client tracking: Redis 7.0 remembers, for a script's caller, the keys of the script's
    // own command (its declared KEYS) once the script runs a read-only command.
    std::vector<int> key_at;
    ScriptKeys(ctx.args, &key_at);
    for (int k : key_at) {
      if (k == kAllShardsKey) continue;
      std::string_view key = ctx.args[static_cast<size_t>(k)];
      ctx.DbFor(key).NoteRead(key);
    }
    ctx.track_reads = false;  // once per run
  }
  // MONITOR shows the command once it ran (as Redis 7.0's call() does: a SELECT shows its new
  // DB), as "[db lua]", however it returns.
  struct FeedMonitors {
    Keyspace* keyspace;
    const int* db;
    Args argv;
    bool shown;
    ~FeedMonitors() {
      if (!shown) return;
      Db& here = keyspace->db(*db);
      if (here.Listening(kNoticeMonitor)) {
        here.NoteMonitor(MonitorLine(UnixTimeUs(), *db, "lua", argv));
      }
    }
  } monitor{ctx.local, db, argv, !(spec->flags & (kCmdAdmin | kCmdSkipMonitor))};
  // Read-only commands announce the keys they miss (keymiss), for this call only.
  struct ReadLookups {
    const ExecContext& ctx;
    ~ReadLookups() { ctx.SetReadLookups(false); }
  } read_lookups{ctx};
  ctx.SetReadLookups((spec->flags & kCmdReadOnly) != 0);
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
      if (spec->name == "time") {  // pure: no session or server needed
        ReactorContext pure{argv, &rb, nullptr, nullptr};
        spec->reactor(pure);
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

}  // namespace

bool ScriptRefusedForMemory(ExecContext& ctx, uint32_t flags) {
  // Redis's pre-command OOM state, taken once as the script starts (evicting first).
  ctx.script_oom = !(flags & kScriptAllowOom) && !ctx.local->MakeRoom();
  if (!ctx.script_oom || (flags & (kScriptEvalCompat | kScriptNoWrites))) return false;
  // A script that declares flags and may write is refused before it runs; a compat script
  // runs and its deny-oom calls fail.
  ctx.reply->Error(kOomError);
  return true;
}

namespace {

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
  if (ScriptRefusedForMemory(ctx, flags)) return;
  bool read_only = read_only_command || (flags & kScriptNoWrites) != 0;
  RunScript(ctx, &engine, a.subspan(3, static_cast<size_t>(numkeys)),
            a.subspan(3 + static_cast<size_t>(numkeys)), read_only, /*is_function=*/false,
            [&](const ScriptRunArgs& run) { return engine.Run(a[1], is_sha, run, ctx.reply); });
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

// SCRIPT KILL, on the reactor: a busy script's shard is not reachable through its queue.
void ScriptKill(ReactorContext& ctx) {
  std::string error = ctx.server->KillScripts(/*function=*/false);
  if (error.empty()) return ctx.reply->Ok();
  ctx.reply->Error(error);
}

// Redis 7.0's text, without DEBUG (Omnibus has no Lua debugger).
void ScriptHelp(ReactorContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "EXISTS <sha1> [<sha1> ...]",
      "    Return information about the existence of the scripts in the script cache.",
      "FLUSH [ASYNC|SYNC]",
      "    Flush the Lua scripts cache. Very dangerous on replicas.",
      "    When called without the optional mode argument, the behavior is determined by the",
      "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
      "    * ASYNC: Asynchronously flush the scripts cache.",
      "    * SYNC: Synchronously flush the scripts cache.",
      "KILL",
      "    Kill the currently executing Lua script.",
      "LOAD <script>",
      "    Load a script into the scripts cache without executing it.",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelpLines(ctx.reply, kLines);
}

CommandDoc ScriptDoc(std::string_view summary, std::string_view since, std::string_view complexity,
                     std::string_view args) {
  return CommandDoc{summary, since, "scripting", complexity, args};
}

// EVAL and EVALSHA: Redis's key spec says it cannot tell how the keys are used.
CommandDoc EvalDoc(std::string_view summary, std::string_view since, std::string_view args,
                   std::string_view notes) {
  CommandDoc d = ScriptDoc(summary, since, "Depends on the script that is executed.", args);
  d.key_notes = notes;
  return d;
}

CommandSpec EvalCommand(std::string_view name, uint32_t flags, std::string_view acl,
                        ShardHandler handler, CommandDoc doc) {
  CommandSpec s{name, -3, flags, acl, 0, 0, 0, Route::kTask, handler};
  s.task = ReactorTask::kScript;
  s.keys_fn = ScriptKeys;
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

void ScriptKeys(Args args, std::vector<int>* out) {
  int64_t n;
  if (args.size() < 3 || !ParseInt64(args[2], &n) || n < 0 ||
      n > static_cast<int64_t>(args.size()) - 3)
    return;
  for (int64_t i = 0; i < n; ++i) out->push_back(3 + static_cast<int>(i));
  out->push_back(kAllShardsKey);
}

void RunScript(ExecContext& ctx, LuaEngine* engine, Args keys, Args args, bool read_only,
               bool is_function, absl::FunctionRef<bool(const ScriptRunArgs&)> invoke,
               std::string_view function_name) {
  ScriptRunArgs run;
  run.keys = keys;
  run.args = args;
  // redis.acl_check_cmd: no ACL users yet, so every existing command is permitted; an
  // unknown command (or subcommand) is Redis's "Invalid command" error.
  run.acl_check = [&ctx](Args argv) -> std::optional<bool> {
    if (FindScriptCommand(*ctx.commands, argv) == nullptr) return std::nullopt;
    return true;
  };
  // On one shard of several (not parked): keys elsewhere stop the run (see the top).
  UndoLog undo;
  UndoLog* local = ctx.all == nullptr && ctx.num_shards > 1 ? &undo : nullptr;
  int db = ctx.db_index;  // the script's own, after a SELECT in it
  run.call = [&ctx, engine, read_only, local, &db](Args argv, int resp) {
    return CallFromScript(ctx, engine, argv, resp, read_only, local, &db);
  };
  ScriptActivity* activity = ctx.activity;
  if (activity != nullptr) {
    activity->Begin(MonotonicMs(), ctx.all != nullptr, is_function, ctx.args, function_name);
    run.should_stop = [activity] {
      activity->WhileRunning();
      return activity->ShouldStop();
    };
  }
  // An aborted run (it reached another shard) never happened: its changes are undone, and
  // the key notices of its changes and of the undoing are dropped (notifications, tracking,
  // MONITOR lines come from the run that counts).
  const size_t notices_before = ctx.local->notice_list().size();
  if (!invoke(run)) {
    undo.Rollback(ctx.local);
    ctx.local->notice_list().resize(notices_before);
  }
  if (activity != nullptr) activity->End();
}

std::vector<CommandSpec> ScriptFamily() {
  return {
      EvalCommand("eval", kEvalFlags, "@slow @scripting", Eval,
                  EvalDoc("Execute a Lua script server side", "2.6.0",
                          "script:string numkeys:integer [key:key{key_flags=RW+access+update}...] "
                          "[arg:string...]",
                          "We cannot tell how the keys will be used so we assume the worst, RW "
                          "and UPDATE")),
      EvalCommand("evalsha", kEvalFlags, "@slow @scripting", EvalSha,
                  ScriptDoc("Execute a Lua script server side", "2.6.0", kEvalComplexity,
                            "sha1:string numkeys:integer [key:key{key_flags=RW+access+update}...] "
                            "[arg:string...]")),
      EvalCommand("eval_ro", kEvalFlags | kCmdReadOnly, "@slow @scripting", EvalRo,
                  EvalDoc("Execute a read-only Lua script server side", "7.0.0",
                          "script:string numkeys:integer [key:key...] [arg:string...]",
                          "We cannot tell how the keys will be used so we assume the worst, RO "
                          "and ACCESS")),
      EvalCommand("evalsha_ro", kEvalFlags | kCmdReadOnly, "@slow @scripting", EvalShaRo,
                  ScriptDoc("Execute a read-only Lua script server side", "7.0.0", kEvalComplexity,
                            "sha1:string numkeys:integer [key:key...] [arg:string...]")),
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
      ReactorCommand(
          "script|help", 2, kCmdLoading | kCmdStale, "@slow @scripting", ScriptHelp,
          ScriptDoc("Show helpful text about the different subcommands", "5.0.0", "O(1)", "")),
      ReactorCommand("script|kill", 2, kCmdNoScript | kCmdAllowBusy, "@slow @scripting", ScriptKill,
                     ScriptDoc("Kill the script currently in execution.", "2.6.0", "O(1)", "")),
      ScriptSub("script|flush", -2, 0, "@slow @scripting", ScriptFlush,
                ScriptDoc("Remove all the scripts from the script cache.", "2.6.0",
                          "O(N) with N being the number of scripts in cache",
                          "[async:oneof(async:pure-token:ASYNC{since=6.2.0}|sync:pure-token:"
                          "SYNC{since=6.2.0})]")),
  };
}

}  // namespace omnibus
