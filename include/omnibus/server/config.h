#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "omnibus/net/reactor.h"
#include "omnibus/shard/shard.h"

namespace omnibus {

struct CpuBudget;

// Every setting of the server, by its Redis name where Redis has one (ours otherwise).
struct Config {
  int port = 6379;
  std::vector<std::string> bind = {"127.0.0.1", "-::1"};
  int databases = 16;
  int tcp_backlog = 511;
  std::string loglevel = "notice";
  std::string logfile;
  int shards = 0;  // 0: choose from the core count (see DefaultShardCount)
  // io-backend: epoll | kqueue | uring (DESIGN §7). io_uring by default on Linux (it falls
  // back to epoll, with one log line, where the kernel lacks it); kqueue elsewhere.
#if defined(__linux__)
  std::string io_backend = "uring";
#else
  std::string io_backend = "kqueue";
#endif
  bool io_uring_sqpoll = false;  // io-uring-sqpoll: a kernel thread submits (ours)
  int hz = 10;
  int64_t shard_queue_depth = 65536;
  // Overload control (DESIGN §4; ours): shard/shard_queue.h.
  int64_t queue_target_ms = 5;
  int64_t queue_interval_ms = 100;
  int64_t queue_shed_ms = 50;
  bool queue_adaptive = true;  // queue-policy adaptive|fifo
  // maxmemory and eviction (DESIGN §10.8, store/eviction.h); Redis 7.0's defaults.
  int64_t maxmemory = 0;
  std::string maxmemory_policy = "noeviction";
  int64_t maxmemory_samples = 5;
  int64_t maxmemory_eviction_tenacity = 10;
  int64_t lfu_log_factor = 10;
  int64_t lfu_decay_time = 1;
  // Container encodings (store/container_limits.h has their meaning and defaults).
  int64_t hash_max_listpack_entries = 512;
  int64_t hash_max_listpack_value = 64;
  int64_t list_max_listpack_size = -2;
  int64_t set_max_intset_entries = 512;
  int64_t set_max_listpack_entries = 128;
  int64_t set_max_listpack_value = 64;
  int64_t zset_max_listpack_entries = 128;
  int64_t zset_max_listpack_value = 64;
  // Lazy free (store/lazy_free.h): Redis 7.0's names and defaults.
  bool lazyfree_lazy_eviction = false;
  bool lazyfree_lazy_expire = false;
  bool lazyfree_lazy_server_del = false;
  bool lazyfree_lazy_user_del = false;
  bool lazyfree_lazy_user_flush = false;
  std::vector<std::pair<std::string, std::string>> renames;  // rename-command
  // Process management (server/daemon.h): applied by main() before the server starts.
  bool daemonize = false;
  std::string pidfile;
  std::string supervised = "no";  // no|upstart|systemd|auto
  // Not settings: what main() found (INFO server's process_supervised and executable).
  std::string process_supervised = "no";
  std::string executable;
  // The absolute path of the file the server was started with ("" when none): INFO
  // config_file, CONFIG REWRITE.
  std::string config_file;
  // Redis 7.0 directives Omnibus accepts (with Redis's syntax and checks) but does not apply
  // yet, by canonical name; a name absent here has Redis's default (config_redis.cc).
  std::map<std::string, std::string, std::less<>> kept;
  // Which of those a config file or the command line set (canonical names, in order): logged
  // once at start-up. `user` and `loadmodule` lines are kept whole (also not applied).
  std::vector<std::string> not_applied;
  std::vector<std::string> user_lines;
  std::vector<std::string> loadmodule_lines;
  NetOptions net;
  // Test seam (not a setting): the keyspace clock of every shard, see ShardOptions.
  const std::atomic<int64_t>* TEST_clock_ms = nullptr;
};

// One setting: how to read, write and validate it. Errors use Redis's texts.
struct ConfigParam {
  std::string_view name;
  bool mutable_at_runtime;
  std::function<std::string(const Config&)> get;
  // Returns "" on success, else the reason ("argument couldn't be parsed into an integer").
  std::function<std::string(Config&, std::string_view)> set;
  // What Omnibus does with it: false for a Redis directive it only keeps (CONFIG GET shows
  // the value; start-up logs it as accepted-but-not-applied).
  bool applied = true;
  // Redis's string configs: CONFIG REWRITE writes the value quoted, as Redis does.
  bool quoted = false;
  // For Redis's second name of a setting (hash-max-ziplist-entries), the first name:
  // CONFIG REWRITE writes only the first.
  std::string_view alias_of = {};
  // Redis's PROTECTED_CONFIG (dir, dbfilename): CONFIG SET refuses it unless
  // enable-protected-configs is yes.
  bool protected_config = false;
  // Redis's MEMORY_CONFIG: CONFIG REWRITE writes 64mb rather than 67108864, as Redis does.
  bool memory = false;
  // Redis's MULTI_ARG_CONFIG: a config file line's arguments are joined by spaces.
  bool multi_arg = false;
};

const std::vector<ConfigParam>& ConfigParams();
const ConfigParam* FindConfigParam(std::string_view name);

// Parses a redis.conf-style text (one "name value..." per line, # comments, quoted args).
// On error returns false with Redis's FATAL CONFIG FILE ERROR text in `error`.
bool LoadConfigText(std::string_view text, Config* config, std::string* error);
// Builds the config from argv: an optional config file path, then "--name value ..." flags.
bool LoadConfigFromArgs(int argc, char** argv, Config* config, std::string* error);

// The Redis 7.0 parameters Omnibus keeps without applying (config_redis.cc).
void AddKeptRedisParams(std::vector<ConfigParam>* params);
// Redis's getAbsolutePath: `path` made absolute against the current directory.
std::string AbsolutePath(const std::string& path);
// CONFIG REWRITE (config_rewrite.cc): rewrites `path` Redis's way (comments and unknown lines
// kept, changed settings replaced in place, new ones appended). "" or the error text.
std::string RewriteConfigFile(const std::string& path, const Config& config);

// Redis's memtoull: "1gb", "64mb", "100k", plain bytes.
bool ParseMemory(std::string_view s, int64_t* out);
// usable CPUs - 1 (the reactor keeps one), at least 1; the CPUs are ProbeCpuBudget()'s. Logs
// (notice) how the count was derived when the usable CPUs differ from the host's cores: the
// server calls it once, at start-up, when --shards is not given.
int DefaultShardCount();
// The same for a given budget. `derivation` (if not null) gets a line for the log saying how
// the count was derived when the usable CPUs differ from the host's, "" otherwise.
int DefaultShardCount(const CpuBudget& cpus, std::string* derivation = nullptr);

}  // namespace omnibus
