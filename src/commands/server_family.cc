// Server commands: INFO CONFIG COMMAND TIME SHUTDOWN (DBSIZE/FLUSH* live with the keys).
// Runs on: the reactor thread, except INFO's per-shard part.
#include <array>
#include <cstdlib>

#include "omnibus/base/clock.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_docs.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/store/memory.h"

namespace omnibus {
namespace {

// INFO's shard part, typed for MergeInfo: [expired keys, table bytes, counted store bytes,
// keyspace hits, keyspace misses, stale share of expiry samples (per million), expiry cycles
// cut by their budget, µs in expiry cycles, then db index, keys, expires for each non-empty
// DB].
void InfoShard(ExecContext& ctx) {
  int64_t expired = 0, hits = 0, misses = 0;
  size_t table_bytes = 0;
  std::vector<std::array<int64_t, 3>> dbs;
  for (int i = 0; i < ctx.local->num_dbs(); ++i) {
    Db* db = ctx.local->db_if_exists(i);
    if (db == nullptr) continue;
    expired += static_cast<int64_t>(db->expired_keys);
    hits += static_cast<int64_t>(db->keyspace_hits);
    misses += static_cast<int64_t>(db->keyspace_misses);
    table_bytes += db->table().bucket_bytes();
    if (db->size() == 0) continue;
    dbs.push_back({i, static_cast<int64_t>(db->size()), static_cast<int64_t>(db->volatile_keys())});
  }
  ctx.reply->Array(8 + 3 * dbs.size());
  ctx.reply->Integer(expired);
  ctx.reply->Integer(static_cast<int64_t>(table_bytes));
  ctx.reply->Integer(StoreAllocatedBytes());
  ctx.reply->Integer(hits);
  ctx.reply->Integer(misses);
  const Keyspace::ExpireCycleStats& es = ctx.local->expire_cycle_stats();
  ctx.reply->Integer(static_cast<int64_t>(es.stale_perc * 1e6));
  ctx.reply->Integer(static_cast<int64_t>(es.time_cap_reached_count));
  ctx.reply->Integer(es.cpu_us);
  for (const auto& d : dbs) {
    for (int64_t v : d) ctx.reply->Integer(v);
  }
}

// Redis 7.0's groups. Sections come out in Redis's order whatever order they were asked in;
// Omnibus's own sections (limits, shards, overload) follow, when asked for by name.
constexpr std::string_view kDefaultSections[] = {"server",      "clients",     "memory",  "stats",
                                                 "persistence", "replication", "cpu",     "modules",
                                                 "errorstats",  "cluster",     "keyspace"};
constexpr std::string_view kAllSections[] = {
    "server",  "clients",      "memory",     "persistence",  "stats",   "replication", "cpu",
    "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace"};
constexpr std::string_view kSectionOrder[] = {
    "server",   "clients", "memory",       "persistence", "stats",        "replication",
    "cpu",      "modules", "commandstats", "errorstats",  "latencystats", "cluster",
    "keyspace", "limits",  "shards",       "overload"};

void MergeInfo(MergeContext& ctx) {
  ShardTotals totals;
  for (const SubReply& part : ctx.parts) {
    const std::vector<ReplyValue>& f = part.value->elements;
    totals.expired_keys += f[0].integer;
    totals.table_bytes += static_cast<size_t>(f[1].integer);
    totals.store_bytes += f[2].integer;
    totals.keyspace_hits += f[3].integer;
    totals.keyspace_misses += f[4].integer;
    // The mean over shards of each one's stale share, in percent.
    totals.expired_stale_perc += static_cast<double>(f[5].integer) / 1e4 /
                                 static_cast<double>(std::max<size_t>(ctx.parts.size(), 1));
    totals.expired_time_cap_reached_count += f[6].integer;
    totals.expire_cycle_cpu_milliseconds += f[7].integer;  // µs until the end of the loop
    for (size_t i = 8; i + 2 < f.size(); i += 3) {
      size_t db = static_cast<size_t>(f[i].integer);
      if (totals.dbs.size() <= db) totals.dbs.resize(db + 1);
      totals.dbs[db].first += f[i + 1].integer;
      totals.dbs[db].second += f[i + 2].integer;
    }
  }
  totals.expire_cycle_cpu_milliseconds /= 1000;
  std::vector<std::string> wanted;
  if (ctx.args.size() == 1) {
    wanted.assign(std::begin(kDefaultSections), std::end(kDefaultSections));
  }
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    std::string s(ctx.args[i]);
    AsciiToLower(&s);
    if (s == "default") {
      wanted.insert(wanted.end(), std::begin(kDefaultSections), std::end(kDefaultSections));
    } else if (s == "all" || s == "everything") {
      wanted.insert(wanted.end(), std::begin(kAllSections), std::end(kAllSections));
    } else {
      wanted.push_back(s);
    }
  }
  std::vector<std::string> ordered;
  for (std::string_view s : kSectionOrder) {
    if (std::find(wanted.begin(), wanted.end(), s) != wanted.end()) ordered.emplace_back(s);
  }
  std::string text;
  for (const std::string& s : ordered) {
    std::string section;
    if (!ctx.server->AppendInfoSection(s, totals, &section)) continue;
    if (!text.empty()) text.append("\r\n");
    text.append(section);
  }
  ctx.reply->Verbatim("txt", text);
}

void ConfigGet(ReactorContext& ctx) {
  std::vector<std::pair<std::string, std::string>> all;
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    std::string_view pattern = ctx.args[i];
    bool glob = pattern.find_first_of("[*?") != std::string_view::npos;
    for (auto& kv : ctx.server->ConfigGet(pattern)) {
      // Like Redis, a plain name is echoed back as the client spelled it.
      if (!glob) kv.first = std::string(pattern);
      bool seen = false;
      for (auto& have : all) seen |= have.first == kv.first;
      if (!seen) all.push_back(std::move(kv));
    }
  }
  ctx.reply->Map(all.size());
  for (auto& [k, v] : all) {
    ctx.reply->Bulk(k);
    ctx.reply->Bulk(v);
  }
}

void ConfigSet(ReactorContext& ctx) {
  if (ctx.args.size() % 2 != 0) return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  std::string err = ctx.server->ConfigSet(ctx.args.subspan(2));
  if (!err.empty()) return ctx.reply->Error(err);
  ctx.reply->Ok();
}

void ConfigRewrite(ReactorContext& ctx) {
  std::string err = ctx.server->ConfigRewrite();
  if (!err.empty()) return ctx.reply->Error(err);
  ctx.reply->Ok();
}

// CONFIG RESETSTAT runs on every shard (the keyspace counters INFO sums live there: expired
// keys, hits and misses, the expire cycles' figures), then on the reactor (its own).
void ConfigResetStatShard(ExecContext& ctx) {
  for (int i = 0; i < ctx.local->num_dbs(); ++i) {
    Db* db = ctx.local->db_if_exists(i);
    if (db == nullptr) continue;
    db->expired_keys = 0;
    db->keyspace_hits = 0;
    db->keyspace_misses = 0;
  }
  ctx.local->ResetExpireCycleStats();
  ctx.reply->Ok();
}

void ConfigResetStat(MergeContext& ctx) {
  ctx.server->ResetStats();
  ctx.reply->Ok();
}

void Monitor(ReactorContext& ctx) {
  ctx.server->Monitor(*ctx.session);
  ctx.reply->Ok();
}

void Time(ReactorContext& ctx) {
  int64_t us = UnixTimeUs();
  ctx.reply->Array(2);
  ctx.reply->Bulk(StrCat(us / 1'000'000));
  ctx.reply->Bulk(StrCat(us % 1'000'000));
}

void Shutdown(ReactorContext& ctx) {
  bool nosave = false, save = false, abort = false, other = false;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    std::string_view o = ctx.args[i];
    if (EqualsIgnoreCase(o, "nosave")) {
      nosave = true;
    } else if (EqualsIgnoreCase(o, "save")) {
      save = true;
    } else if (EqualsIgnoreCase(o, "now") || EqualsIgnoreCase(o, "force")) {
      other = true;
    } else if (EqualsIgnoreCase(o, "abort")) {
      abort = true;
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  if ((abort && (nosave || save || other)) || (nosave && save))
    return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  // Shutdown is immediate (nothing to persist), so there is never one in progress to abort.
  if (abort) return ctx.reply->Error("ERR No shutdown in progress.");
  // Like Redis, a successful SHUTDOWN sends no reply: the connection just closes.
  ctx.session->close_after_reply = true;
  ctx.server->RequestShutdown();
}

void CommandAll(ReactorContext& ctx) {
  auto specs = ctx.server->commands().all();
  std::vector<const CommandSpec*> top;
  for (const CommandSpec& s : specs) {
    if (s.name.find('|') == std::string_view::npos) top.push_back(&s);
  }
  ctx.reply->Array(top.size());
  for (const CommandSpec* s : top) ReplyCommandInfo(*s, ctx.server->commands(), ctx.reply);
}

void CommandCount(ReactorContext& ctx) {
  int64_t n = 0;
  for (const CommandSpec& s : ctx.server->commands().all())
    n += s.name.find('|') == std::string_view::npos;
  ctx.reply->Integer(n);
}

void CommandList(ReactorContext& ctx) {
  std::string_view pattern;
  if (ctx.args.size() == 5 && EqualsIgnoreCase(ctx.args[2], "FILTERBY") &&
      EqualsIgnoreCase(ctx.args[3], "PATTERN")) {
    pattern = ctx.args[4];
  } else if (ctx.args.size() != 2) {
    return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  }
  std::vector<std::string_view> names;
  for (const CommandSpec& s : ctx.server->commands().all()) {
    if (pattern.empty() || GlobMatch(pattern, s.name, true)) names.push_back(s.name);
  }
  ctx.reply->Array(names.size());
  for (std::string_view n : names) ctx.reply->Bulk(n);
}

void CommandInfo(ReactorContext& ctx) {
  const CommandTable& table = ctx.server->commands();
  if (ctx.args.size() == 2) return CommandAll(ctx);
  ctx.reply->Array(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    const CommandSpec* s = table.Find(ctx.args[i]);
    if (s == nullptr) {
      ctx.reply->Null();
    } else {
      ReplyCommandInfo(*s, table, ctx.reply);
    }
  }
}

void CommandDocs(ReactorContext& ctx) {
  const CommandTable& table = ctx.server->commands();
  std::vector<const CommandSpec*> which;
  if (ctx.args.size() == 2) {
    for (const CommandSpec& s : table.all()) {
      if (s.name.find('|') == std::string_view::npos) which.push_back(&s);
    }
  } else {
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      if (const CommandSpec* s = table.Find(ctx.args[i])) which.push_back(s);
    }
  }
  ctx.reply->Map(which.size());
  for (const CommandSpec* s : which) {
    ctx.reply->Bulk(s->name);
    ReplyCommandDocs(*s, table, ctx.reply);
  }
}

void CommandGetKeys(ReactorContext& ctx) {
  const CommandSpec* s = ctx.server->commands().Find(ctx.args[2]);
  // A container's subcommand names the entry (MEMORY USAGE key, OBJECT ENCODING key), as
  // Redis's lookupCommand.
  if (s != nullptr && s->container && ctx.args.size() > 3) {
    s = ctx.server->commands().Find(StrCat(s->name, "|", ctx.args[3]));
  }
  if (s == nullptr) return ctx.reply->Error("ERR Invalid command specified");
  auto cmd_args = ctx.args.subspan(2);
  int argc = static_cast<int>(cmd_args.size());
  if ((s->arity > 0 && argc != s->arity) || argc < -s->arity)
    return ctx.reply->Error("ERR Invalid number of arguments specified for command");
  if (s->first_key == 0 && s->keys_fn == nullptr)
    return ctx.reply->Error("ERR The command has no key arguments");
  std::vector<int> positions;
  KeyPositions(*s, cmd_args, &positions);
  if (positions.empty()) return ctx.reply->Error("ERR Invalid arguments specified for command");
  std::erase(positions, kAllShardsKey);
  ctx.reply->Array(positions.size());
  for (int i : positions) ctx.reply->Bulk(cmd_args[static_cast<size_t>(i)]);
}

CommandDoc SrvDoc(std::string_view summary, std::string_view since, std::string_view complexity,
                  std::string_view args) {
  return CommandDoc{summary, since, "server", complexity, args};
}

}  // namespace

std::vector<CommandSpec> ServerFamily() {
  constexpr auto reactor = ReactorCommand;
  constexpr uint32_t kCfg = kCmdAdmin | kCmdNoScript | kCmdLoading | kCmdStale;
  CommandSpec info{"info",
                   -1,
                   kCmdLoading | kCmdStale | kCmdJumpsQueue,
                   "@slow @dangerous",
                   0,
                   0,
                   0,
                   Route::kAllShards,
                   InfoShard,
                   nullptr,
                   MergeInfo,
                   nullptr,
                   SrvDoc("Get information and statistics about the server", "1.0.0", "O(1)",
                          "[section:string...]")};
  return {
      info,
      reactor("config", -2, 0, "@slow", nullptr,
              SrvDoc("A container for server configuration commands", "2.0.0",
                     "Depends on subcommand.", "")),
      reactor("config|get", -3, kCfg, "@admin @slow @dangerous", ConfigGet,
              SrvDoc("Get the values of configuration parameters", "2.0.0",
                     "O(N) when N is the number of configuration parameters provided",
                     "parameter:block(parameter:string)...")),
      reactor("config|set", -4, kCfg | kCmdMayReplicate, "@admin @slow @dangerous", ConfigSet,
              SrvDoc("Set configuration parameters to the given values", "2.0.0",
                     "O(N) when N is the number of configuration parameters provided",
                     "parameter_value:block(parameter:string value:string)...")),
      CommandSpec{"config|resetstat", 2, kCfg, "@admin @slow @dangerous", 0, 0, 0,
                  Route::kAllShards, ConfigResetStatShard, nullptr, ConfigResetStat, nullptr,
                  SrvDoc("Reset the stats returned by INFO", "2.0.0", "O(1)", "")},
      reactor("config|rewrite", 2, kCfg, "@admin @slow @dangerous", ConfigRewrite,
              SrvDoc("Rewrite the configuration file with the in memory configuration", "2.8.0",
                     "O(1)", "")),
      reactor("command", -1, kCmdLoading | kCmdStale, "@slow @connection", CommandAll,
              SrvDoc("Get array of Redis command details", "2.8.13",
                     "O(N) where N is the total number of Redis commands", "")),
      reactor("command|count", 2, kCmdLoading | kCmdStale, "@slow @connection", CommandCount,
              SrvDoc("Get total number of Redis commands", "2.8.13", "O(1)", "")),
      reactor(
          "command|list", -2, kCmdLoading | kCmdStale, "@slow @connection", CommandList,
          SrvDoc("Get an array of Redis command names", "7.0.0",
                 "O(N) where N is the total number of Redis commands",
                 "[filterby:oneof(module-name:string:MODULE|category:string:ACLCAT|pattern:pattern"
                 ":PATTERN):FILTERBY]")),
      reactor("command|info", -2, kCmdLoading | kCmdStale, "@slow @connection", CommandInfo,
              SrvDoc("Get array of specific Redis command details, or all when no argument is "
                     "given.",
                     "2.8.13", "O(N) where N is the number of commands to look up",
                     "[command-name:string...]")),
      reactor(
          "command|docs", -2, kCmdLoading | kCmdStale, "@slow @connection", CommandDocs,
          SrvDoc("Get array of specific Redis command documentation", "7.0.0",
                 "O(N) where N is the number of commands to look up", "[command-name:string...]")),
      reactor("command|getkeys", -4, kCmdLoading | kCmdStale, "@slow @connection", CommandGetKeys,
              SrvDoc("Extract keys given a full Redis command", "2.8.13",
                     "O(N) where N is the number of arguments to the command", "")),
      reactor("monitor", 1, kCmdAdmin | kCmdNoScript | kCmdLoading | kCmdStale,
              "@admin @slow @dangerous", Monitor,
              CommandDoc{"Listen for all requests received by the server in real time", "1.0.0",
                         "server", "", ""}),
      reactor("time", 1, kCmdLoading | kCmdStale | kCmdFast, "@fast", Time,
              SrvDoc("Return the current server time", "2.6.0", "O(1)", "")),
      reactor(
          "shutdown", -1,
          kCmdAdmin | kCmdNoScript | kCmdLoading | kCmdStale | kCmdAllowBusy | kCmdNoMulti,
          "@admin @slow @dangerous", Shutdown,
          SrvDoc("Synchronously save the dataset to disk and then shut down the server", "1.0.0",
                 "O(N) when saving, where N is the total number of keys in all "
                 "databases when saving data, otherwise O(1)",
                 "[nosave_save:oneof(nosave:pure-token:NOSAVE|save:pure-token:SAVE)] [now:pure-tok"
                 "en:NOW{since=7.0.0}] [force:pure-token:FORCE{since=7.0.0}] [abort:pure-token:ABO"
                 "RT{since=7.0.0}]")),
  };
}

}  // namespace omnibus
