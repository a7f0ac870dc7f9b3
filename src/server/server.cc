#include "omnibus/server/server.h"

#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <random>

#include "omnibus/base/clock.h"
#include "omnibus/base/logging.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/version.h"
#include "omnibus/io/io_backend.h"
#include "omnibus/server/limits.h"
#include "omnibus/store/lazy_free.h"
#include "omnibus/store/memory.h"

namespace omnibus {
namespace {

std::string HumanBytes(double n) {
  const char* units[] = {"B", "K", "M", "G", "T"};
  int u = 0;
  while (n >= 1024 && u < 4) {
    n /= 1024;
    ++u;
  }
  char buf[32];
  snprintf(buf, sizeof(buf), u == 0 ? "%.0f%s" : "%.2f%s", n, units[u]);
  return buf;
}

}  // namespace

Server::Server(Config config) : config_(std::move(config)), start_ms_(UnixTimeMs()) {
  std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 40; ++i) run_id_.push_back(kHex[rng() % 16]);
  for (int i = 0; i < 40; ++i) master_replid_.push_back(kHex[rng() % 16]);
}

Server::~Server() {
  // Every shard first, then join each: a shard parked at a fence is released even when the
  // sibling it waits for has already stopped.
  for (auto& s : shards_) s->RequestStop();
  for (auto& s : shards_) s->Stop();
}

bool Server::Start(std::string* error) {
  for (auto& [from, to] : config_.renames) {
    if (!table_.Rename(from, to)) {
      *error = StrCat("No such command in rename-command: ", from);
      return false;
    }
  }
  // Descriptors for maxclients (or fewer clients), before any is opened (Redis's order).
  if (!AdjustOpenFilesLimit(&config_.net.maxclients, error)) return false;
  IoBackendOptions io_options;
  io_options.backend = config_.io_backend;
  io_options.uring_sqpoll = config_.io_uring_sqpoll;
  std::string fallback;
  std::unique_ptr<IoBackend> io = MakeIoBackend(io_options, error, &fallback);
  if (io == nullptr) return false;
  if (!fallback.empty()) {
    OMNIBUS_LOG(kWarning, "io-backend uring is not available (", fallback, "): using ", io->name(),
                " instead");
  }
  int n = config_.shards > 0 ? config_.shards : DefaultShardCount();
  ShardOptions so;
  so.num_dbs = config_.databases;
  so.hz = config_.hz;
  PublishLimits();
  so.limits = &limits_;
  so.queue_policy = &queue_policy_;
  budget_ = std::make_unique<MemoryBudget>(n);
  so.eviction = &eviction_;
  so.budget = budget_.get();
  so.listeners = &listeners_;
  so.TEST_clock_ms = config_.TEST_clock_ms;
  so.commands = &table_;
  size_t depth = 64;
  while (depth < static_cast<size_t>(config_.shard_queue_depth)) depth *= 2;
  so.queue_capacity = depth;
  // Shards wake the reactor through notifier_, which points at the reactor once it exists;
  // no shard thread runs before then.
  for (int i = 0; i < n; ++i) {
    scripts_.push_back(std::make_unique<LuaEngine>());
    scripts_.back()->SetStore(&script_store_);
    so.script = scripts_.back().get();
    // Each shard has its own function libraries (FUNCTION LOAD & co run on every shard; FCALL
    // uses the engine of the shard it runs on).
    functions_.push_back(std::make_unique<FunctionEngine>());
    so.functions = functions_.back().get();
    shards_.push_back(std::make_unique<Shard>(i, n, so, &notifier_));
  }
  std::vector<FunctionEngine*> function_engines;
  for (auto& f : functions_) function_engines.push_back(f.get());
  for (auto& f : functions_) f->SetSiblings(function_engines);
  std::vector<Shard*> raw;
  for (auto& s : shards_) raw.push_back(s.get());
  reactor_ = std::make_unique<Reactor>(&config_.net, &table_, this, raw, std::move(io));
  notifier_.target = reactor_.get();
  reactor_->set_notice_listeners(&listeners_);
  if (!reactor_->Listen(config_.bind, config_.port, config_.tcp_backlog, error)) return false;
  budget_->wake = [this](int shard) { shards_[static_cast<size_t>(shard)]->Wake(); };
  for (auto& s : shards_) s->Start();
  if (!config_.not_applied.empty()) {
    // Once, in one line: what the configuration asked for that Omnibus does not do (yet).
    OMNIBUS_LOG(kWarning, "Configuration directives accepted but not applied (Omnibus does not ",
                "implement them yet; CONFIG GET shows their values): ",
                JoinStrings(config_.not_applied, ", "));
  }
  reactor_->timers().Add(MonotonicMs() + 100, &Server::SampleMetrics, this);
  OMNIBUS_LOG(kNotice, "Omnibus ", kOmnibusVersion, " (Redis ", kRedisVersion,
              " compatible) started: port=", reactor_->port(), " shards=", n,
              " io-backend=", reactor_->poller_name());
  return true;
}

void Server::ReplyFunctionStats(ReplyBuilder* rb) {
  std::string name;
  std::vector<std::string> command;
  int64_t duration_ms = 0;
  rb->Map(2);
  rb->Bulk("running_script");
  if (reactor_->BusyFunction(&name, &command, &duration_ms)) {
    rb->Map(3);
    rb->Bulk("name");
    rb->Bulk(name);
    rb->Bulk("command");
    rb->Array(command.size());
    for (const std::string& a : command) rb->Bulk(a);
    rb->Bulk("duration_ms");
    rb->Integer(duration_ms);
  } else {
    rb->Null();
  }
  // Every shard loads the same libraries: shard 0's counts are the server's.
  FunctionEngine::Stats fs;
  if (!functions_.empty()) fs = functions_.front()->PublishedStats();
  rb->Bulk("engines");
  rb->Map(1);
  rb->Bulk("LUA");
  rb->Map(2);
  rb->Bulk("libraries_count");
  rb->Integer(static_cast<int64_t>(fs.libraries));
  rb->Bulk("functions_count");
  rb->Integer(static_cast<int64_t>(fs.functions));
}

void Server::Run() {
  OMNIBUS_LOG(kNotice, "Ready to accept connections tcp");
  reactor_->Run();
  OMNIBUS_LOG(kWarning, "Omnibus is now ready to exit, bye bye...");
}

void Server::Stop() {
  if (reactor_) reactor_->Stop();
}

std::vector<std::pair<std::string, std::string>> Server::ConfigGet(std::string_view pattern) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const ConfigParam& p : ConfigParams()) {
    if (GlobMatch(pattern, p.name, true)) out.emplace_back(std::string(p.name), p.get(config_));
  }
  return out;
}

std::string Server::ConfigSet(std::span<const std::string_view> pairs) {
  // Redis 7's order of checks: unknown names first (the first one is named), then immutable
  // and duplicate parameters (named as typed), then values (named canonically). All or
  // nothing: values are applied to a copy that replaces the live config only if all are good.
  std::vector<const ConfigParam*> params;
  std::string_view unknown;
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    const ConfigParam* p = FindConfigParam(pairs[i]);
    if (p == nullptr && unknown.empty()) unknown = pairs[i];
    params.push_back(p);
  }
  if (!unknown.empty())
    return StrCat("ERR Unknown option or number of arguments for CONFIG SET - '", unknown, "'");
  auto failed = [](std::string_view name, std::string_view why) {
    return StrCat("ERR CONFIG SET failed (possibly related to argument '", name, "') - ", why);
  };
  bool protected_allowed = false;
  if (const ConfigParam* p = FindConfigParam("enable-protected-configs")) {
    protected_allowed = p->get(config_) == "yes";
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i]->mutable_at_runtime) return failed(pairs[2 * i], "can't set immutable config");
    if (params[i]->protected_config && !protected_allowed)
      return failed(pairs[2 * i], "can't set protected config");
    for (size_t j = 0; j < i; ++j) {
      if (params[j] == params[i]) return failed(pairs[2 * i], "duplicate parameter");
    }
  }
  Config next = config_;
  for (size_t i = 0; i < params.size(); ++i) {
    std::string err = params[i]->set(next, pairs[2 * i + 1]);
    if (!err.empty()) return failed(params[i]->name, err);
  }
  for (const ConfigParam* p : params) {
    if (!p->applied) OMNIBUS_LOG(kNotice, "CONFIG SET ", p->name, ": accepted, not applied");
  }
  bool loglevel_changed = next.loglevel != config_.loglevel;
  config_ = std::move(next);  // NetOptions lives inside config_: the reactor sees it at once
  PublishLimits();
  reactor_->UpdateNoticeListeners();  // notify-keyspace-events
  if (loglevel_changed) {
    static const char* kLevels[] = {"debug", "verbose", "notice", "warning"};
    for (int i = 0; i < 4; ++i) {
      if (config_.loglevel == kLevels[i]) InitLogging(static_cast<LogLevel>(i), "");
    }
  }
  return "";
}

void Server::PublishLimits() {
  auto put = [](std::atomic<int64_t>& to, int64_t v) { to.store(v, std::memory_order_relaxed); };
  put(limits_.hash_max_listpack_entries, config_.hash_max_listpack_entries);
  put(limits_.hash_max_listpack_value, config_.hash_max_listpack_value);
  put(limits_.list_max_listpack_size, config_.list_max_listpack_size);
  put(limits_.set_max_intset_entries, config_.set_max_intset_entries);
  put(limits_.set_max_listpack_entries, config_.set_max_listpack_entries);
  put(limits_.set_max_listpack_value, config_.set_max_listpack_value);
  put(limits_.zset_max_listpack_entries, config_.zset_max_listpack_entries);
  put(limits_.zset_max_listpack_value, config_.zset_max_listpack_value);
  put(limits_.proto_max_bulk_len, config_.net.proto_max_bulk_len);
  put(queue_policy_.target_ms, config_.queue_target_ms);
  put(queue_policy_.interval_ms, config_.queue_interval_ms);
  put(queue_policy_.shed_ms, config_.queue_shed_ms);
  queue_policy_.adaptive.store(config_.queue_adaptive, std::memory_order_relaxed);
  LazyFreeOptions& lazy = LazyFreeSettings();
  lazy.lazy_eviction.store(config_.lazyfree_lazy_eviction, std::memory_order_relaxed);
  lazy.lazy_expire.store(config_.lazyfree_lazy_expire, std::memory_order_relaxed);
  lazy.lazy_server_del.store(config_.lazyfree_lazy_server_del, std::memory_order_relaxed);
  lazy.lazy_user_del.store(config_.lazyfree_lazy_user_del, std::memory_order_relaxed);
  lazy.lazy_user_flush.store(config_.lazyfree_lazy_user_flush, std::memory_order_relaxed);
  put(eviction_.maxmemory, config_.maxmemory);
  eviction_.policy.store(
      static_cast<uint8_t>(
          ParseEvictionPolicy(config_.maxmemory_policy).value_or(EvictionPolicy::kNoEviction)),
      std::memory_order_relaxed);
  auto put32 = [](std::atomic<int32_t>& to, int64_t v) {
    to.store(static_cast<int32_t>(v), std::memory_order_relaxed);
  };
  put32(eviction_.samples, config_.maxmemory_samples);
  put32(eviction_.tenacity, config_.maxmemory_eviction_tenacity);
  put32(eviction_.lfu_log_factor, config_.lfu_log_factor);
  put32(eviction_.lfu_decay_time, config_.lfu_decay_time);
}

void Server::NoteUsedMemory(int64_t used) {
  int64_t peak = used_memory_peak_.load(std::memory_order_relaxed);
  while (used > peak &&
         !used_memory_peak_.compare_exchange_weak(peak, used, std::memory_order_relaxed)) {
  }
}

MemoryFigures Server::Memory(int64_t store_bytes) {
  MemoryFigures m;
  // Counted memory (DESIGN §10.8): the shards' keyspaces plus the reactor's client buffers.
  m.clients_normal = static_cast<int64_t>(reactor_->client_buffer_bytes());
  m.used = std::max<int64_t>(store_bytes, 0) + m.clients_normal;
  NoteUsedMemory(m.used);
  m.peak = used_memory_peak();
  m.startup = 0;  // at start-up the keyspace holds nothing, and nothing else is counted
  m.lua_caches = static_cast<int64_t>(script_store_.bytes());
  if (!functions_.empty()) {
    m.functions_caches = static_cast<int64_t>(functions_.front()->PublishedStats().overhead_bytes);
  }
  m.cached_scripts = static_cast<int64_t>(script_store_.Count());
  m.clients = static_cast<int64_t>(reactor_->num_clients());
  return m;
}

void Server::ResetStats() {
  ReactorStats& s = reactor_->stats();
  ReactorStats fresh;
  fresh.commands.resize(s.commands.size());
  fresh.max_shard_in_flight.resize(s.max_shard_in_flight.size());
  fresh.shard_queue_full.resize(s.shard_queue_full.size());
  s = std::move(fresh);
  reactor_->flights().stats() = SingleflightStats{};
  for (auto& shard : shards_) shard->ResetQueueStats();
  reactor_->latency().ResetHistograms();  // as Redis's resetCommandTableStats
  ResetLazyFreedObjects();
  // As Redis's resetServerStats: the rates start over from the zeroed counters.
  ops_metric_ = net_input_metric_ = net_output_metric_ = InstantMetric{};
}

bool Server::RequirePassMatches(std::string_view user, std::string_view pass) const {
  if (user != "default") return false;
  if (config_.net.requirepass.empty()) return true;  // the default user is "nopass"
  return pass == config_.net.requirepass;
}

void Server::AppendMemorySection(const ShardTotals& totals, std::string* out) {
  auto line = [out](std::string_view k, const auto& v) { StrAppend(out, k, ":", v, "\r\n"); };
  auto ratio = [](int64_t a, int64_t b) {
    return StrFormat("%.2f", b <= 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b));
  };
  auto human = [](int64_t n) { return HumanBytes(static_cast<double>(n)); };
  // Counted memory (DESIGN §10.8): the shards' keys, values and tables, plus the reactor's
  // client buffers. maxmemory acts on the shards' part only (mem_not_counted_for_evict is the
  // client buffers: a burst of replies never evicts keys).
  MemoryFigures m = Memory(totals.store_bytes);
  const int64_t used = m.used;
  const int64_t rss = ProcessResidentBytes();
  const AllocatorFigures alloc = StoreAllocatorFigures(used);
  // Overhead as Redis counts it: tables and per-key headers, client buffers, script caches.
  int64_t keys = 0, expires = 0;
  for (const auto& [k, e] : totals.dbs) {
    keys += k;
    expires += e;
  }
  const int64_t overhead = static_cast<int64_t>(totals.table_bytes) +
                           keys * static_cast<int64_t>(Record::kHeaderSize) +
                           expires * static_cast<int64_t>(sizeof(int64_t)) + m.clients_normal +
                           m.lua_caches + m.functions_caches;
  const int64_t dataset = std::max<int64_t>(used - overhead, 0);
  const int64_t system = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  out->append("# Memory\r\n");
  line("used_memory", used);
  line("used_memory_human", human(used));
  line("used_memory_rss", rss);
  line("used_memory_rss_human", human(rss));
  line("used_memory_peak", m.peak);
  line("used_memory_peak_human", human(m.peak));
  line("used_memory_peak_perc",
       StrFormat("%.2f%%", m.peak <= 0 ? 0.0 : 100.0 * static_cast<double>(used) / m.peak));
  line("used_memory_overhead", overhead);
  line("used_memory_startup", m.startup);
  line("used_memory_dataset", dataset);
  line("used_memory_dataset_perc",
       StrFormat("%.2f%%", used - m.startup <= 0
                               ? 0.0
                               : 100.0 * static_cast<double>(dataset) / (used - m.startup)));
  line("allocator_allocated", alloc.allocated);
  line("allocator_active", alloc.active);
  line("allocator_resident", alloc.resident);
  line("total_system_memory", system);
  line("total_system_memory_human", human(system));
  // Scripts: every shard's interpreter (as of its last run), and the shared cache.
  size_t lua = 0;
  for (const auto& e : scripts_) lua += e->PublishedMemoryBytes();
  line("used_memory_lua", lua);
  line("used_memory_vm_eval", lua);
  line("used_memory_lua_human", human(static_cast<int64_t>(lua)));
  line("used_memory_scripts_eval", script_store_.bytes());
  line("number_of_cached_scripts", script_store_.Count());
  // Functions: every shard holds the same libraries (counted once, shard 0's) in an
  // interpreter of its own (every shard's counted, as for EVAL).
  FunctionEngine::Stats fs;
  if (!functions_.empty()) fs = functions_.front()->PublishedStats();
  size_t vm_functions = 0;
  for (const auto& f : functions_) vm_functions += f->PublishedStats().vm_bytes;
  line("number_of_functions", fs.functions);
  line("number_of_libraries", fs.libraries);
  line("used_memory_vm_functions", vm_functions);
  line("used_memory_vm_total", lua + vm_functions);
  line("used_memory_vm_total_human", human(static_cast<int64_t>(lua + vm_functions)));
  line("used_memory_functions", fs.overhead_bytes);
  line("used_memory_scripts", script_store_.bytes() + fs.overhead_bytes);
  line("used_memory_scripts_human",
       human(static_cast<int64_t>(script_store_.bytes() + fs.overhead_bytes)));
  line("maxmemory", config_.maxmemory);
  line("maxmemory_human", human(config_.maxmemory));
  line("maxmemory_policy", config_.maxmemory_policy);
  line("allocator_frag_ratio", ratio(alloc.active, alloc.allocated));
  line("allocator_frag_bytes", alloc.active - alloc.allocated);
  line("allocator_rss_ratio", ratio(alloc.resident, alloc.active));
  line("allocator_rss_bytes", alloc.resident - alloc.active);
  line("rss_overhead_ratio", ratio(rss, alloc.resident));
  line("rss_overhead_bytes", rss - alloc.resident);
  line("mem_fragmentation_ratio", ratio(rss, used));
  line("mem_fragmentation_bytes", rss - used);
  line("mem_not_counted_for_evict", m.clients_normal);
  line("mem_replication_backlog", 0);
  line("mem_total_replication_buffers", 0);
  line("mem_clients_slaves", 0);
  line("mem_clients_normal", m.clients_normal);
  line("mem_cluster_links", 0);
  line("mem_aof_buffer", 0);
  line("mem_allocator", StoreAllocatorName());
  line("active_defrag_running", 0);
  line("lazyfree_pending_objects", LazyFreePendingObjects());
  line("lazyfreed_objects", LazyFreedObjects());
  // Ours: the keyspace's bucket arrays.
  line("table_bytes", totals.table_bytes);
}

bool Server::AppendInfoSection(std::string_view section, const ShardTotals& totals,
                               std::string* out) {
  const ReactorStats& st = reactor_->stats();
  auto line = [out](std::string_view k, const auto& v) { StrAppend(out, k, ":", v, "\r\n"); };
  int64_t now = UnixTimeMs();
  if (section == "server") {
    utsname u;
    uname(&u);
    out->append("# Server\r\n");
    line("redis_version", kRedisVersion);
    line("omnibus_version", kOmnibusVersion);
    line("redis_git_sha1", "00000000");
    line("redis_git_dirty", 0);
    line("redis_build_id", "0");
    line("redis_mode", "standalone");
    line("os", StrCat(u.sysname, " ", u.release, " ", u.machine));
    line("arch_bits", 64);
    line("monotonic_clock", "POSIX clock_gettime");
    line("multiplexing_api", reactor_->poller_name());
    line("atomicvar_api", "c11-builtin");
    line("gcc_version", StrCat(__GNUC__, ".", __GNUC_MINOR__, ".", __GNUC_PATCHLEVEL__));
    line("process_id", getpid());
    line("process_supervised", config_.process_supervised);
    line("run_id", run_id_);
    line("tcp_port", reactor_->port());
    line("server_time_usec", UnixTimeUs());
    line("uptime_in_seconds", (now - start_ms_) / 1000);
    line("uptime_in_days", (now - start_ms_) / 86400000);
    line("hz", config_.hz);
    line("configured_hz", config_.hz);
    // Redis's LRU clock: seconds, in 24 bits.
    line("lru_clock", (now / 1000) & ((1 << 24) - 1));
    line("executable", config_.executable);
    line("config_file", config_.config_file);
    line("io_threads_active", 0);
    line("shards", shards_.size());
    return true;
  }
  if (section == "clients") {
    out->append("# Clients\r\n");
    line("connected_clients", reactor_->num_clients());
    line("cluster_connections", 0);
    line("maxclients", config_.net.maxclients);
    line("client_recent_max_input_buffer", reactor_->max_input_buffer());
    line("client_recent_max_output_buffer", reactor_->max_output_buffer());
    line("blocked_clients", reactor_->blocked_clients());
    line("tracking_clients", reactor_->tracking_clients());
    line("clients_in_timeout_table", 0);
    return true;
  }
  if (section == "memory") {
    AppendMemorySection(totals, out);
    return true;
  }
  if (section == "stats") {
    out->append("# Stats\r\n");
    line("total_connections_received", st.total_connections_received);
    line("total_commands_processed", st.total_commands_processed);
    line("instantaneous_ops_per_sec", static_cast<int64_t>(ops_metric_.PerSecond()));
    line("total_net_input_bytes", st.net_input_bytes);
    line("total_net_output_bytes", st.net_output_bytes);
    line("total_net_repl_input_bytes", 0);
    line("total_net_repl_output_bytes", 0);
    line("instantaneous_input_kbps", StrFormat("%.2f", net_input_metric_.PerSecond() / 1024));
    line("instantaneous_output_kbps", StrFormat("%.2f", net_output_metric_.PerSecond() / 1024));
    line("instantaneous_input_repl_kbps", "0.00");
    line("instantaneous_output_repl_kbps", "0.00");
    line("rejected_connections", st.rejected_connections);
    line("sync_full", 0);
    line("sync_partial_ok", 0);
    line("sync_partial_err", 0);
    line("client_query_buffer_limit_disconnections", st.query_buffer_limit_disconnections);
    line("client_output_buffer_limit_disconnections", st.output_buffer_limit_disconnections);
    line("accept_errors", st.accept_errors);
    line("expired_keys", totals.expired_keys);
    line("expired_stale_perc", StrFormat("%.2f", totals.expired_stale_perc));
    line("expired_time_cap_reached_count", totals.expired_time_cap_reached_count);
    line("expire_cycle_cpu_milliseconds", totals.expire_cycle_cpu_milliseconds);
    line("evicted_keys", budget_->Evicted());
    // Redis 7.0's remaining stats, for what Omnibus does not do (client eviction, forks,
    // MIGRATE, replication, active defragmentation, io threads): truthfully zero.
    line("evicted_clients", 0);
    line("keyspace_hits", totals.keyspace_hits);
    line("keyspace_misses", totals.keyspace_misses);
    line("pubsub_channels", reactor_->PubSubChannelCount(PubSubKind::kChannel));
    line("pubsub_patterns", reactor_->PubSubNumPat());
    line("pubsubshard_channels", reactor_->PubSubChannelCount(PubSubKind::kShard));
    line("latest_fork_usec", 0);
    line("total_forks", 0);
    line("migrate_cached_sockets", 0);
    line("slave_expires_tracked_keys", 0);
    line("active_defrag_hits", 0);
    line("active_defrag_misses", 0);
    line("active_defrag_key_hits", 0);
    line("active_defrag_key_misses", 0);
    line("total_active_defrag_time", 0);
    line("current_active_defrag_time", 0);
    line("tracking_total_keys", reactor_->tracking_total_keys());
    line("tracking_total_items", reactor_->tracking_total_items());
    line("tracking_total_prefixes", reactor_->tracking_total_prefixes());
    line("unexpected_error_replies", 0);
    line("total_error_replies", st.total_error_replies);
    line("dump_payload_sanitizations", 0);
    line("total_reads_processed", st.total_reads_processed);
    line("total_writes_processed", st.total_writes_processed);
    line("io_threaded_reads_processed", 0);
    line("io_threaded_writes_processed", 0);
    line("fanout_commands", st.fanouts);
    const SingleflightStats& sf = reactor_->flights().stats();
    line("singleflight_flights", sf.flights);
    line("singleflight_joins", sf.joins);
    line("singleflight_joins_refused_started", sf.refused_started);
    line("singleflight_joins_refused_own_writes", sf.refused_own_writes);
    line("singleflight_bytes_not_copied", sf.bytes_not_copied);
    line("reactor_loop_iterations", st.loop_iterations);
    line("shard_batches", st.shard_batches);
    return true;
  }
  if (section == "replication") {
    out->append("# Replication\r\n");
    line("role", "master");
    line("connected_slaves", 0);
    line("master_failover_state", "no-failover");
    line("master_replid", master_replid_);
    line("master_replid2", std::string(40, '0'));
    line("master_repl_offset", 0);
    line("second_repl_offset", -1);
    line("repl_backlog_active", 0);
    const ConfigParam* backlog = FindConfigParam("repl-backlog-size");
    line("repl_backlog_size", backlog != nullptr ? backlog->get(config_) : "1048576");
    line("repl_backlog_first_byte_offset", 0);
    line("repl_backlog_histlen", 0);
    return true;
  }
  if (section == "cpu") {
    rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    auto secs = [](const timeval& tv) { return StrFormat("%.6f", tv.tv_sec + tv.tv_usec / 1e6); };
    out->append("# CPU\r\n");
    line("used_cpu_sys", secs(self.ru_stime));
    line("used_cpu_user", secs(self.ru_utime));
    line("used_cpu_sys_children", secs(children.ru_stime));
    line("used_cpu_user_children", secs(children.ru_utime));
    // INFO runs on the reactor, which is the main thread (main() calls Server::Run).
    rusage main_thread;
    getrusage(RUSAGE_THREAD, &main_thread);
    line("used_cpu_sys_main_thread", secs(main_thread.ru_stime));
    line("used_cpu_user_main_thread", secs(main_thread.ru_utime));
    return true;
  }
  if (section == "commandstats") {
    out->append("# Commandstats\r\n");
    auto specs = table_.all();
    for (size_t i = 0; i < specs.size(); ++i) {
      const CommandStats& cs = st.commands[i];
      if (cs.calls == 0 && cs.rejected == 0 && cs.failed == 0) continue;
      StrAppend(out, "cmdstat_", specs[i].name, ":calls=", cs.calls, ",usec=", cs.usec,
                ",usec_per_call=",
                StrFormat("%.2f", cs.calls ? static_cast<double>(cs.usec) / cs.calls : 0.0),
                ",rejected_calls=", cs.rejected, ",failed_calls=", cs.failed, "\r\n");
    }
    return true;
  }
  if (section == "errorstats") {
    out->append("# Errorstats\r\n");
    std::vector<std::pair<std::string, uint64_t>> errs(st.errors.begin(), st.errors.end());
    std::sort(errs.begin(), errs.end());
    for (auto& [k, v] : errs) StrAppend(out, "errorstat_", k, ":count=", v, "\r\n");
    return true;
  }
  if (section == "latencystats") {
    // Redis 7.0's per-command percentiles (latency-tracking-info-percentiles), in µs, for
    // every command (and subcommand) called since the last CONFIG RESETSTAT.
    out->append("# Latencystats\r\n");
    const LatencyMonitor& m = reactor_->latency();
    const std::vector<double>& percentiles = config_.net.latency.info_percentiles;
    for (const CommandSpec& spec : table_.all()) {
      const LatencyHistogram* h = m.histogram(spec.id);
      if (h == nullptr) continue;
      StrAppend(out, "latency_percentiles_usec_", spec.name, ":");
      for (size_t j = 0; j < percentiles.size(); ++j) {
        if (j > 0) out->push_back(',');
        StrAppend(
            out, "p", PercentileLabel(percentiles[j]), "=",
            StrFormat("%.3f", static_cast<double>(h->ValueAtPercentile(percentiles[j])) / 1000.0));
      }
      out->append("\r\n");
    }
    return true;
  }
  if (section == "limits") {
    // Invariant 6: every bound, its setting and how close clients have come to it.
    const NetOptions& n = config_.net;
    out->append("# Limits\r\n");
    line("maxclients", n.maxclients);
    line("connected_clients", reactor_->num_clients());
    line("client_query_buffer_limit", n.client_query_buffer_limit);
    line("client_recent_max_input_buffer", reactor_->max_input_buffer());
    line("proto_max_bulk_len", n.proto_max_bulk_len);
    line("pipeline_group_max_commands", n.pipeline_group_max_commands);
    line("max_group_commands_seen", st.max_group_commands);
    line("pipeline_pause_output_bytes", n.pipeline_pause_output_bytes);
    line("pipeline_group_cuts", st.group_cuts);
    line("client_buffer_bytes", reactor_->client_buffer_bytes());
    line("client_output_buffer_limit_normal",
         StrCat(n.output_limit_normal.hard, " ", n.output_limit_normal.soft, " ",
                n.output_limit_normal.soft_seconds));
    line("client_recent_max_output_buffer", reactor_->max_output_buffer());
    line("shard_queue_depth", shards_.empty() ? 0 : shards_[0]->queue_capacity());
    return true;
  }
  if (section == "shards") {
    out->append("# Shards\r\n");
    line("shards", shards_.size());
    for (size_t i = 0; i < shards_.size(); ++i) {
      line(StrCat("shard", i), StrCat("queue_depth=", reactor_->shard_in_flight(i),
                                      ",max_queue_depth=", st.max_shard_in_flight[i],
                                      ",queue_full_waits=", st.shard_queue_full[i],
                                      ",processed=", shards_[i]->processed()));
    }
    return true;
  }
  if (section == "overload") {
    // DESIGN §4: what every shard's queue did. Sojourns are from the reactor queuing an item
    // to its shard starting (or shedding) it; the percentile is to a histogram bucket.
    out->append("# Overload\r\n");
    line("queue_policy", config_.queue_adaptive ? "adaptive" : "fifo");
    line("queue_target_ms", config_.queue_target_ms);
    line("queue_interval_ms", config_.queue_interval_ms);
    line("queue_shed_ms", config_.queue_shed_ms);
    uint64_t shed = 0, missed = 0;
    for (const auto& s : shards_) {
      shed += s->queue_stats().shed.load(std::memory_order_relaxed);
      missed += s->queue_stats().deadlines_missed.load(std::memory_order_relaxed);
    }
    line("shed_total", shed);
    line("deadlines_missed_total", missed);
    const int64_t now = MonotonicNs();
    for (size_t i = 0; i < shards_.size(); ++i) {
      const QueueStats& q = shards_[i]->queue_stats();
      auto get = [](const auto& a) { return a.load(std::memory_order_relaxed); };
      int64_t since = get(q.lifo_since_ns);
      uint64_t lifo_us =
          get(q.lifo_us) + (since != 0 ? static_cast<uint64_t>(now - since) / 1000 : 0);
      line(StrCat("shard", i),
           StrCat("mode=", since != 0 ? "lifo" : "fifo", ",depth=", get(q.depth),
                  ",ring_depth=", shards_[i]->ring_depth(), ",max_depth=", get(q.max_depth),
                  ",sojourn_p99_us=", q.Percentile(0.99), ",sojourn_max_us=", get(q.max_sojourn_us),
                  ",mode_switches=", get(q.mode_switches), ",lifo_ms=", lifo_us / 1000,
                  ",served=", get(q.served), ",shed=", get(q.shed),
                  ",deadlines_missed=", get(q.deadlines_missed)));
    }
    return true;
  }
  if (section == "keyspace") {
    out->append("# Keyspace\r\n");
    for (size_t i = 0; i < totals.dbs.size(); ++i) {
      auto [keys, expires] = totals.dbs[i];
      if (keys == 0) continue;
      StrAppend(out, "db", i, ":keys=", keys, ",expires=", expires, ",avg_ttl=0\r\n");
    }
    return true;
  }
  return AppendRedisInfoSection(section, totals, out);
}

}  // namespace omnibus
