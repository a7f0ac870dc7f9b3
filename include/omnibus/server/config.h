#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "omnibus/net/reactor.h"
#include "omnibus/shard/shard.h"

namespace omnibus {

// Every setting of the server, by its Redis name where Redis has one (ours otherwise).
struct Config {
  int port = 6379;
  std::vector<std::string> bind = {"127.0.0.1", "-::1"};
  int databases = 16;
  int tcp_backlog = 511;
  std::string loglevel = "notice";
  std::string logfile;
  int shards = 0;  // 0: choose from the core count (see DefaultShardCount)
  std::string io_backend = "epoll";
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
};

const std::vector<ConfigParam>& ConfigParams();
const ConfigParam* FindConfigParam(std::string_view name);

// Parses a redis.conf-style text (one "name value..." per line, # comments, quoted args).
// On error returns false with Redis's FATAL CONFIG FILE ERROR text in `error`.
bool LoadConfigText(std::string_view text, Config* config, std::string* error);
// Builds the config from argv: an optional config file path, then "--name value ..." flags.
bool LoadConfigFromArgs(int argc, char** argv, Config* config, std::string* error);

// Redis's memtoull: "1gb", "64mb", "100k", plain bytes.
bool ParseMemory(std::string_view s, int64_t* out);
int DefaultShardCount();

}  // namespace omnibus
