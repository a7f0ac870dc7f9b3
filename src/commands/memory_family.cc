// MEMORY USAGE STATS DOCTOR MALLOC-STATS PURGE HELP over counted memory (DESIGN §10.8,
// store/memory.h).
// Runs on: USAGE on the key's shard; STATS, DOCTOR and PURGE on every shard, merged on the
// reactor; MALLOC-STATS and HELP on the reactor.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/store/memory.h"
#include "omnibus/store/memory_release.h"

namespace omnibus {
namespace {

// Redis's OBJ_COMPUTE_SIZE_DEF_SAMPLES.
constexpr int64_t kDefaultSamples = 5;

// MEMORY USAGE key [SAMPLES count]: the record (key, expiry, small value, its bucket slot)
// and its container at real block sizes, a large container's elements estimated from
// `count` of them (0: all), as Redis's objectComputeSize.
void MemoryUsage(ExecContext& ctx) {
  int64_t samples = kDefaultSamples;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    if (EqualsIgnoreCase(ctx.args[j], "samples") && j + 1 < ctx.args.size()) {
      if (!ArgToInt64(ctx.args[j + 1], &samples, ctx.reply)) return;
      if (samples < 0) return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
      ++j;
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  Db::Entry e = ctx.DbFor(ctx.args[2]).Peek(ctx.args[2]);
  if (!e) return ctx.reply->Null();
  size_t usage = RecordFootprint(e.get());
  if (e->is_container()) usage += ObjectMemoryUsage(e->object(), static_cast<size_t>(samples));
  ctx.reply->Integer(static_cast<int64_t>(usage));
}

// STATS and DOCTOR's shard part, typed for the merge: [counted bytes, then db index, keys,
// keys with an expiry, bucket-array bytes for each non-empty DB].
void MemoryShardFigures(ExecContext& ctx) {
  std::vector<std::array<int64_t, 4>> dbs;
  for (int i = 0; i < ctx.local->num_dbs(); ++i) {
    Db* db = ctx.local->db_if_exists(i);
    if (db == nullptr || db->size() == 0) continue;
    dbs.push_back({i, static_cast<int64_t>(db->size()), static_cast<int64_t>(db->volatile_keys()),
                   static_cast<int64_t>(db->table().bucket_bytes())});
  }
  ctx.reply->Array(1 + 4 * dbs.size());
  ctx.reply->Integer(StoreAllocatedBytes());
  for (const auto& d : dbs) {
    for (int64_t v : d) ctx.reply->Integer(v);
  }
}

// Redis's struct redisMemOverhead over our figures.
struct Overhead {
  MemoryFigures m;
  struct DbOverhead {
    int64_t index = 0;
    int64_t keys = 0;
    int64_t main = 0;     // bucket arrays and record headers
    int64_t expires = 0;  // the expiry fields of records that have one
  };
  std::vector<DbOverhead> dbs;
  int64_t overhead_total = 0;
  int64_t keys = 0;
  int64_t bytes_per_key = 0;
  int64_t dataset = 0;
  float dataset_pct = 0;
  float peak_pct = 0;
  AllocatorFigures alloc;
  int64_t rss = 0;
  float allocator_frag = 0;
  int64_t allocator_frag_bytes = 0;
  float allocator_rss = 0;
  int64_t allocator_rss_bytes = 0;
  float rss_extra = 0;
  int64_t rss_extra_bytes = 0;
  float total_frag = 0;
  int64_t total_frag_bytes = 0;
};

float Ratio(int64_t a, int64_t b) { return b == 0 ? 0.0f : static_cast<float>(a) / b; }

Overhead ComputeOverhead(MergeContext& ctx) {
  int64_t store = 0;
  std::vector<Overhead::DbOverhead> by_index;
  for (const SubReply& part : ctx.parts) {
    const std::vector<ReplyValue>& f = part.value->elements;
    store += f[0].integer;
    for (size_t i = 1; i + 3 < f.size(); i += 4) {
      size_t idx = static_cast<size_t>(f[i].integer);
      if (by_index.size() <= idx) by_index.resize(idx + 1);
      Overhead::DbOverhead& d = by_index[idx];
      d.index = static_cast<int64_t>(idx);
      d.keys += f[i + 1].integer;
      d.main += f[i + 3].integer + f[i + 1].integer * static_cast<int64_t>(Record::kHeaderSize);
      d.expires += f[i + 2].integer * static_cast<int64_t>(sizeof(int64_t));
    }
  }
  Overhead o;
  o.m = ctx.server->Memory(store);
  o.overhead_total = o.m.startup + o.m.clients_normal + o.m.lua_caches + o.m.functions_caches;
  for (const Overhead::DbOverhead& d : by_index) {
    if (d.keys == 0) continue;
    o.dbs.push_back(d);
    o.overhead_total += d.main + d.expires;
    o.keys += d.keys;
  }
  int64_t net = o.m.used - o.m.startup;
  if (o.keys > 0) o.bytes_per_key = net / o.keys;
  o.dataset = std::max<int64_t>(o.m.used - o.overhead_total, 0);
  o.dataset_pct = net > 0 ? static_cast<float>(o.dataset) * 100 / static_cast<float>(net) : 0;
  o.peak_pct = o.m.peak > 0 ? static_cast<float>(o.m.used) * 100 / static_cast<float>(o.m.peak) : 0;
  o.alloc = StoreAllocatorFigures(o.m.used);
  o.rss = ProcessResidentBytes();
  o.allocator_frag = Ratio(o.alloc.active, o.alloc.allocated);
  o.allocator_frag_bytes = o.alloc.active - o.alloc.allocated;
  o.allocator_rss = Ratio(o.alloc.resident, o.alloc.active);
  o.allocator_rss_bytes = o.alloc.resident - o.alloc.active;
  o.rss_extra = Ratio(o.rss, o.alloc.resident);
  o.rss_extra_bytes = o.rss - o.alloc.resident;
  o.total_frag = Ratio(o.rss, o.m.used);
  o.total_frag_bytes = o.rss - o.m.used;
  return o;
}

void MergeMemoryStats(MergeContext& ctx) {
  Overhead o = ComputeOverhead(ctx);
  ReplyBuilder* rb = ctx.reply;
  auto integer = [rb](std::string_view name, int64_t v) {
    rb->Bulk(name);
    rb->Integer(v);
  };
  auto dbl = [rb](std::string_view name, float v) {
    rb->Bulk(name);
    rb->Double(v);
  };
  rb->Map(27 + o.dbs.size());
  integer("peak.allocated", o.m.peak);
  integer("total.allocated", o.m.used);
  integer("startup.allocated", o.m.startup);
  integer("replication.backlog", 0);  // no replication yet
  integer("clients.slaves", 0);
  integer("clients.normal", o.m.clients_normal);
  integer("cluster.links", 0);
  integer("aof.buffer", 0);  // no AOF yet
  integer("lua.caches", o.m.lua_caches);
  integer("functions.caches", o.m.functions_caches);
  for (const Overhead::DbOverhead& d : o.dbs) {
    rb->Bulk(StrCat("db.", d.index));
    rb->Map(3);
    integer("overhead.hashtable.main", d.main);
    integer("overhead.hashtable.expires", d.expires);
    integer("overhead.hashtable.slot-to-keys", 0);  // not a cluster
  }
  integer("overhead.total", o.overhead_total);
  integer("keys.count", o.keys);
  integer("keys.bytes-per-key", o.bytes_per_key);
  integer("dataset.bytes", o.dataset);
  dbl("dataset.percentage", o.dataset_pct);
  dbl("peak.percentage", o.peak_pct);
  integer("allocator.allocated", o.alloc.allocated);
  integer("allocator.active", o.alloc.active);
  integer("allocator.resident", o.alloc.resident);
  dbl("allocator-fragmentation.ratio", o.allocator_frag);
  integer("allocator-fragmentation.bytes", o.allocator_frag_bytes);
  dbl("allocator-rss.ratio", o.allocator_rss);
  integer("allocator-rss.bytes", o.allocator_rss_bytes);
  dbl("rss-overhead.ratio", o.rss_extra);
  integer("rss-overhead.bytes", o.rss_extra_bytes);
  dbl("fragmentation", o.total_frag);
  integer("fragmentation.bytes", o.total_frag_bytes);
}

// Redis's getMemoryDoctorReport: the same checks and texts, over our figures.
void MergeMemoryDoctor(MergeContext& ctx) {
  Overhead o = ComputeOverhead(ctx);
  constexpr int64_t k10Mb = 10 << 20;
  bool empty = false, big_peak = false, high_frag = false, high_alloc_frag = false,
       high_alloc_rss = false, high_proc_rss = false, big_client_buf = false, many_scripts = false;
  int reports = 0;
  if (o.m.used < 5 * 1024 * 1024) {
    empty = true;
    ++reports;
  } else {
    if (static_cast<float>(o.m.peak) / static_cast<float>(o.m.used) > 1.5f) {
      big_peak = true;
      ++reports;
    }
    if (o.total_frag > 1.4f && o.total_frag_bytes > k10Mb) {
      high_frag = true;
      ++reports;
    }
    if (o.allocator_frag > 1.1f && o.allocator_frag_bytes > k10Mb) {
      high_alloc_frag = true;
      ++reports;
    }
    if (o.allocator_rss > 1.1f && o.allocator_rss_bytes > k10Mb) {
      high_alloc_rss = true;
      ++reports;
    }
    if (o.rss_extra > 1.1f && o.rss_extra_bytes > k10Mb) {
      high_proc_rss = true;
      ++reports;
    }
    if (o.m.clients > 0 && o.m.clients_normal / o.m.clients > 1024 * 200) {
      big_client_buf = true;
      ++reports;
    }
    if (o.m.cached_scripts > 1000) {
      many_scripts = true;
      ++reports;
    }
  }
  std::string s;
  if (reports == 0) {
    s = "Hi Sam, I can't find any memory issue in your instance. I can only account for what "
        "occurs on this base.\n";
  } else if (empty) {
    s = "Hi Sam, this instance is empty or is using very little memory, my issues detector "
        "can't be used in these conditions. Please, leave for your mission on Earth and fill it "
        "with some data. The new Sam and I will be back to our programming as soon as I "
        "finished rebooting.\n";
  } else {
    s = "Sam, I detected a few issues in this Redis instance memory implants:\n\n";
    if (big_peak) {
      s += " * Peak memory: In the past this instance used more than 150% the memory that is "
           "currently using. The allocator is normally not able to release memory after a peak, "
           "so you can expect to see a big fragmentation ratio, however this is actually "
           "harmless and is only due to the memory peak, and if the Redis instance Resident Set "
           "Size (RSS) is currently bigger than expected, the memory will be used as soon as you "
           "fill the Redis instance with more data. If the memory peak was only occasional and "
           "you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise "
           "the only other option is to shutdown and restart the instance.\n\n";
    }
    if (high_frag) {
      s += StrCat(
          " * High total RSS: This instance has a memory fragmentation and RSS overhead greater "
          "than 1.4 (this means that the Resident Set Size of the Redis process is much larger "
          "than the sum of the logical allocations Redis performed). This problem is usually due "
          "either to a large peak memory (check if there is a peak memory entry above in the "
          "report) or may result from a workload that causes the allocator to fragment memory a "
          "lot. If the problem is a large peak memory, then there is no issue. Otherwise, make "
          "sure you are using the Jemalloc allocator and not the default libc malloc. Note: The "
          "currently used allocator is \"",
          StoreAllocatorName(), "\".\n\n");
    }
    if (high_alloc_frag) {
      s += " * High allocator fragmentation: This instance has an allocator external "
           "fragmentation greater than 1.1. This problem is usually due either to a large peak "
           "memory (check if there is a peak memory entry above in the report) or may result "
           "from a workload that causes the allocator to fragment memory a lot. You can try "
           "enabling 'activedefrag' config option.\n\n";
    }
    if (high_alloc_rss) {
      s += " * High allocator RSS overhead: This instance has an RSS memory overhead is greater "
           "than 1.1 (this means that the Resident Set Size of the allocator is much larger than "
           "the sum what the allocator actually holds). This problem is usually due to a large "
           "peak memory (check if there is a peak memory entry above in the report), you can try "
           "the MEMORY PURGE command to reclaim it.\n\n";
    }
    if (high_proc_rss) {
      s += " * High process RSS overhead: This instance has non-allocator RSS memory overhead is "
           "greater than 1.1 (this means that the Resident Set Size of the Redis process is much "
           "larger than the RSS the allocator holds). This problem may be due to Lua scripts or "
           "Modules.\n\n";
    }
    if (big_client_buf) {
      s += " * Big client buffers: The clients output buffers in this instance are greater than "
           "200K per client (on average). This may result from different causes, like Pub/Sub "
           "clients subscribed to channels bot not receiving data fast enough, so that data "
           "piles on the Redis instance output buffer, or clients sending commands with large "
           "replies or very large sequences of commands in the same pipeline. Please use the "
           "CLIENT LIST command in order to investigate the issue if it causes problems in your "
           "instance, or to understand better why certain clients are using a big amount of "
           "memory.\n\n";
    }
    if (many_scripts) {
      s += " * Many scripts: There seem to be many cached scripts in this instance (more than "
           "1000). This may be because scripts are generated and `EVAL`ed, instead of being "
           "parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT "
           "FLUSH` is called periodically, the scripts' caches may end up consuming most of your "
           "memory.\n\n";
    }
    s += "I'm here to keep you safe, Sam. I want to help you.\n";
  }
  ctx.reply->Verbatim("txt", s);
}

// MEMORY PURGE: every shard gives its allocator's free pages back, then the reactor does.
void MemoryPurgeShard(ExecContext& ctx) {
  ReleaseFreeMemory(true);
  ctx.reply->Ok();
}

void MergeMemoryPurge(MergeContext& ctx) {
  ReleaseFreeMemory(true);
  ctx.reply->Ok();
}

void MemoryMallocStats(ReactorContext& ctx) {
  std::string text = StoreAllocatorStatsText();
  if (text.empty()) return ctx.reply->Bulk("Stats not supported for the current allocator");
  ctx.reply->Verbatim("txt", text);
}

void MemoryHelp(ReactorContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "DOCTOR",
      "    Return memory problems reports.",
      "MALLOC-STATS",
      "    Return internal statistics report from the memory allocator.",
      "PURGE",
      "    Attempt to purge dirty pages for reclamation by the allocator.",
      "STATS",
      "    Return information about the memory usage of the server.",
      "USAGE <key> [SAMPLES <count>]",
      "    Return memory in bytes used by <key> and its value. Nested values are",
      "    sampled up to <count> times (default: 5, 0 means sample all).",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelpLines(ctx.reply, kLines);
}

CommandDoc Doc(std::string_view summary, std::string_view complexity, std::string_view args) {
  return CommandDoc{summary, "4.0.0", "server", complexity, args};
}

CommandSpec AllShards(std::string_view name, ShardHandler shard, MergeHandler merge,
                      CommandDoc doc) {
  CommandSpec s{name, 2, 0, "@slow", 0, 0, 0, Route::kAllShards, shard, nullptr, merge};
  s.doc = doc;
  return s;
}

}  // namespace

std::vector<CommandSpec> MemoryFamily() {
  CommandSpec usage{"memory|usage", -3,         kCmdReadOnly, "@read @slow", 2, 2, 1,
                    Route::kKey,    MemoryUsage};
  usage.doc = Doc("Estimate the memory usage of a key", "O(N) where N is the number of samples.",
                  "key:key{key_flags=RO} [count:integer:SAMPLES]");
  return {
      ReactorCommand(
          "memory", -2, 0, "@slow", nullptr,
          Doc("A container for memory diagnostics commands", "Depends on subcommand.", "")),
      AllShards("memory|doctor", MemoryShardFigures, MergeMemoryDoctor,
                Doc("Outputs memory problems report", "O(1)", "")),
      AllShards("memory|purge", MemoryPurgeShard, MergeMemoryPurge,
                Doc("Ask the allocator to release memory",
                    "Depends on how much memory is allocated, could be slow", "")),
      ReactorCommand("memory|help", 2, kCmdLoading | kCmdStale, "@slow", MemoryHelp,
                     Doc("Show helpful text about the different subcommands", "O(1)", "")),
      ReactorCommand("memory|malloc-stats", 2, 0, "@slow", MemoryMallocStats,
                     Doc("Show allocator internal stats",
                         "Depends on how much memory is allocated, could be slow", "")),
      usage,
      AllShards("memory|stats", MemoryShardFigures, MergeMemoryStats,
                Doc("Show memory usage details", "O(1)", "")),
  };
}

}  // namespace omnibus
