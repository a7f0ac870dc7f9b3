#include "omnibus/server/config.h"

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <tuple>

#include "omnibus/base/logging.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/version.h"
#include "omnibus/resp/parser.h"
#include "omnibus/server/cpus.h"
#include "omnibus/store/container_limits.h"
#include "omnibus/store/eviction.h"
#include "omnibus/store/key_notice.h"

namespace omnibus {
namespace {

std::string IntRangeError(int64_t lo, int64_t hi) {
  return StrCat("argument must be between ", lo, " and ", hi, " inclusive");
}

template <typename T>
ConfigParam IntParam(std::string_view name, bool mut, T Config::*field, int64_t lo, int64_t hi) {
  return {name, mut, [field](const Config& c) { return StrCat(c.*field); },
          [field, lo, hi](Config& c, std::string_view v) -> std::string {
            int64_t x;
            if (!ParseInt64(v, &x)) return "argument couldn't be parsed into an integer";
            if (x < lo || x > hi) return IntRangeError(lo, hi);
            c.*field = static_cast<T>(x);
            return "";
          }};
}

template <typename T>
ConfigParam NetIntParam(std::string_view name, T NetOptions::*field, int64_t lo, int64_t hi) {
  return {name, true, [field](const Config& c) { return StrCat(c.net.*field); },
          [field, lo, hi](Config& c, std::string_view v) -> std::string {
            int64_t x;
            if (!ParseInt64(v, &x)) return "argument couldn't be parsed into an integer";
            if (x < lo || x > hi) return IntRangeError(lo, hi);
            c.net.*field = static_cast<T>(x);
            return "";
          }};
}

ConfigParam NetMemoryParam(std::string_view name, int64_t NetOptions::*field, int64_t lo,
                           int64_t hi = LLONG_MAX) {
  ConfigParam p{name, true, [field](const Config& c) { return StrCat(c.net.*field); },
                [field, lo, hi](Config& c, std::string_view v) -> std::string {
                  int64_t x;
                  if (!ParseMemory(v, &x)) return "argument must be a memory value";
                  // Too small: Redis's text. Too big for us (Redis takes up to LLONG_MAX):
                  // the range we hold.
                  if (x < lo) return IntRangeError(lo, LLONG_MAX);
                  if (x > hi) return IntRangeError(lo, hi);
                  c.net.*field = x;
                  return "";
                }};
  p.memory = true;
  return p;
}

std::string YesNo(bool b) { return b ? "yes" : "no"; }

ConfigParam NetBoolParam(std::string_view name, bool NetOptions::*field) {
  return {name, true, [field](const Config& c) { return YesNo(c.net.*field); },
          [field](Config& c, std::string_view v) -> std::string {
            if (EqualsIgnoreCase(v, "yes")) {
              c.net.*field = true;
            } else if (EqualsIgnoreCase(v, "no")) {
              c.net.*field = false;
            } else {
              return "argument must be 'yes' or 'no'";
            }
            return "";
          }};
}

ConfigParam BoolParam(std::string_view name, bool Config::*field) {
  return {name, true, [field](const Config& c) { return YesNo(c.*field); },
          [field](Config& c, std::string_view v) -> std::string {
            if (EqualsIgnoreCase(v, "yes")) {
              c.*field = true;
            } else if (EqualsIgnoreCase(v, "no")) {
              c.*field = false;
            } else {
              return "argument must be 'yes' or 'no'";
            }
            return "";
          }};
}

ConfigParam LatencyIntParam(std::string_view name, int64_t LatencySettings::*field, int64_t lo) {
  return {name, true, [field](const Config& c) { return StrCat(c.net.latency.*field); },
          [field, lo](Config& c, std::string_view v) -> std::string {
            int64_t x;
            if (!ParseInt64(v, &x)) return "argument couldn't be parsed into an integer";
            if (x < lo) return IntRangeError(lo, LLONG_MAX);
            c.net.latency.*field = x;
            return "";
          }};
}

// SLOWLOG and LATENCY's settings (commands/latency_monitor.h), Redis 7.0's names and checks.
// maxmemory and eviction (store/eviction.h), Redis 7.0's names, ranges and errors.
void AddEvictionParams(std::vector<ConfigParam>* p) {
  p->push_back({"maxmemory", true, [](const Config& c) { return StrCat(c.maxmemory); },
                [](Config& c, std::string_view v) -> std::string {
                  int64_t x;
                  if (!ParseMemory(v, &x) || x < 0) return "argument must be a memory value";
                  c.maxmemory = x;
                  return "";
                }});
  p->push_back({"maxmemory-policy", true, [](const Config& c) { return c.maxmemory_policy; },
                [](Config& c, std::string_view v) -> std::string {
                  auto policy = ParseEvictionPolicy(v);
                  if (!policy) {
                    return "argument(s) must be one of the following: volatile-lru, "
                           "volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, "
                           "allkeys-lfu, allkeys-random, noeviction, allkeys-tinylfu";
                  }
                  c.maxmemory_policy = std::string(EvictionPolicyName(*policy));
                  return "";
                }});
  p->push_back(IntParam("maxmemory-samples", true, &Config::maxmemory_samples, 1, INT_MAX));
  p->push_back(
      IntParam("maxmemory-eviction-tenacity", true, &Config::maxmemory_eviction_tenacity, 0, 100));
  p->push_back(IntParam("lfu-log-factor", true, &Config::lfu_log_factor, 0, INT_MAX));
  p->push_back(IntParam("lfu-decay-time", true, &Config::lfu_decay_time, 0, INT_MAX));
}

void AddLatencyParams(std::vector<ConfigParam>* p) {
  p->push_back(
      LatencyIntParam("slowlog-log-slower-than", &LatencySettings::slowlog_log_slower_than, -1));
  p->push_back(LatencyIntParam("slowlog-max-len", &LatencySettings::slowlog_max_len, 0));
  p->push_back(
      LatencyIntParam("latency-monitor-threshold", &LatencySettings::latency_monitor_threshold, 0));
  p->push_back({"latency-tracking", true,
                [](const Config& c) { return YesNo(c.net.latency.latency_tracking); },
                [](Config& c, std::string_view v) -> std::string {
                  if (EqualsIgnoreCase(v, "yes")) {
                    c.net.latency.latency_tracking = true;
                  } else if (EqualsIgnoreCase(v, "no")) {
                    c.net.latency.latency_tracking = false;
                  } else {
                    return "argument must be 'yes' or 'no'";
                  }
                  return "";
                }});
  p->push_back(
      {"latency-tracking-info-percentiles", true,
       [](const Config& c) {
         std::string out;
         for (double pct : c.net.latency.info_percentiles) {
           if (!out.empty()) out.push_back(' ');
           out += PercentileLabel(pct);
         }
         return out;
       },
       [](Config& c, std::string_view v) -> std::string {
         std::vector<std::string> parts;
         if (!SplitInlineArgs(v, &parts))
           return "Invalid latency-tracking-info-percentiles parameters";
         std::vector<double> values;
         for (const std::string& part : parts) {
           long double d;
           if (!ParseLongDouble(part, &d))
             return "Invalid latency-tracking-info-percentiles parameters";
           if (d < 0.0L || d > 100.0L)
             return "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]";
           values.push_back(static_cast<double>(d));
         }
         c.net.latency.info_percentiles = std::move(values);
         return "";
       }});
  p->back().multi_arg = true;
}

// daemonize, pidfile, supervised: applied by main() (server/daemon.h), immutable as in Redis.
void AddProcessParams(std::vector<ConfigParam>* p) {
  p->push_back({"daemonize", false, [](const Config& c) { return YesNo(c.daemonize); },
                [](Config& c, std::string_view v) -> std::string {
                  if (EqualsIgnoreCase(v, "yes")) {
                    c.daemonize = true;
                  } else if (EqualsIgnoreCase(v, "no")) {
                    c.daemonize = false;
                  } else {
                    return "argument must be 'yes' or 'no'";
                  }
                  return "";
                }});
  p->push_back({"pidfile", false, [](const Config& c) { return c.pidfile; },
                [](Config& c, std::string_view v) -> std::string {
                  c.pidfile = std::string(v);
                  return "";
                }});
  p->back().quoted = true;
  p->push_back({"supervised", false, [](const Config& c) { return c.supervised; },
                [](Config& c, std::string_view v) -> std::string {
                  std::string m(v);
                  AsciiToLower(&m);
                  if (m != "upstart" && m != "systemd" && m != "auto" && m != "no")
                    return "argument(s) must be one of the following: upstart, systemd, auto, no";
                  c.supervised = m;
                  return "";
                }});
}

std::vector<ConfigParam> BuildParams() {
  std::vector<ConfigParam> p;
  p.push_back(IntParam("port", false, &Config::port, 0, 65535));
  p.push_back({"bind", false, [](const Config& c) { return JoinStrings(c.bind, " "); },
               [](Config& c, std::string_view v) -> std::string {
                 std::vector<std::string> parts;
                 if (!SplitInlineArgs(v, &parts) || parts.empty())
                   return "Too many bind addresses specified.";
                 c.bind = parts;
                 return "";
               }});
  p.back().multi_arg = true;
  p.push_back(NetBoolParam("protected-mode", &NetOptions::protected_mode));
  p.push_back({"requirepass", true, [](const Config& c) { return c.net.requirepass; },
               [](Config& c, std::string_view v) -> std::string {
                 c.net.requirepass = std::string(v);
                 return "";
               }});
  p.back().quoted = true;
  p.push_back(IntParam("databases", false, &Config::databases, 1, 256));
  p.push_back(NetIntParam("maxclients", &NetOptions::maxclients, 1, UINT_MAX));
  p.push_back(NetIntParam("timeout", &NetOptions::timeout, 0, INT_MAX));
  p.push_back(IntParam("tcp-backlog", false, &Config::tcp_backlog, 0, INT_MAX));
  p.push_back(NetIntParam("tcp-keepalive", &NetOptions::tcp_keepalive, 0, INT_MAX));
  p.push_back({"loglevel", true, [](const Config& c) { return c.loglevel; },
               [](Config& c, std::string_view v) -> std::string {
                 std::string l(v);
                 AsciiToLower(&l);
                 if (l != "debug" && l != "verbose" && l != "notice" && l != "warning")
                   return "argument(s) must be one of the following: debug, verbose, notice, "
                          "warning";
                 c.loglevel = l;
                 return "";
               }});
  p.push_back({"logfile", false, [](const Config& c) { return c.logfile; },
               [](Config& c, std::string_view v) -> std::string {
                 c.logfile = std::string(v);
                 return "";
               }});
  p.back().quoted = true;
  AddProcessParams(&p);
  p.push_back({"notify-keyspace-events", true,
               [](const Config& c) { return NotifyFlagsToString(c.net.notify_keyspace_events); },
               [](Config& c, std::string_view v) -> std::string {
                 uint32_t flags;
                 if (!ParseNotifyFlags(v, &flags))
                   return "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
                 c.net.notify_keyspace_events = flags;
                 return "";
               }});
  p.push_back(
      NetIntParam("tracking-table-max-keys", &NetOptions::tracking_table_max_keys, 0, LLONG_MAX));
  // At most what a record's 32-bit value length holds (Redis allows up to LLONG_MAX).
  p.push_back(NetMemoryParam("proto-max-bulk-len", &NetOptions::proto_max_bulk_len, 1024 * 1024,
                             kMaxValueLen));
  p.push_back(NetMemoryParam("client-query-buffer-limit", &NetOptions::client_query_buffer_limit,
                             1024 * 1024));
  p.push_back(
      {"client-output-buffer-limit", true,
       [](const Config& c) {
         auto one = [](std::string_view name, const OutputBufferLimit& l) {
           return StrCat(name, " ", l.hard, " ", l.soft, " ", l.soft_seconds);
         };
         return StrCat(one("normal", c.net.output_limit_normal), " ",
                       one("slave", c.net.output_limit_replica), " ",
                       one("pubsub", c.net.output_limit_pubsub));
       },
       [](Config& c, std::string_view v) -> std::string {
         // "<class> <hard> <soft> <soft-seconds>" repeated; classes not named keep their
         // values. Validated in full before anything changes, as Redis does.
         std::vector<std::string> f;
         if (!SplitInlineArgs(v, &f) || f.empty() || f.size() % 4 != 0)
           return "Wrong number of arguments in buffer limit configuration.";
         NetOptions next = c.net;
         for (size_t i = 0; i < f.size(); i += 4) {
           std::string cls = f[i];
           AsciiToLower(&cls);
           OutputBufferLimit* target;
           if (cls == "normal") {
             target = &next.output_limit_normal;
           } else if (cls == "slave" || cls == "replica") {
             target = &next.output_limit_replica;
           } else if (cls == "pubsub") {
             target = &next.output_limit_pubsub;
           } else {
             return "Invalid client class specified in buffer limit configuration.";
           }
           OutputBufferLimit l;
           if (!ParseMemory(f[i + 1], &l.hard) || !ParseMemory(f[i + 2], &l.soft) ||
               !ParseInt64(f[i + 3], &l.soft_seconds) || l.soft_seconds < 0)
             return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
           *target = l;
         }
         c.net = next;
         return "";
       }});
  p.back().multi_arg = true;
  // Redis takes any hz from 0 and keeps it within 1..500 (CONFIG_MIN_HZ/CONFIG_MAX_HZ).
  p.push_back({"hz", false, [](const Config& c) { return StrCat(c.hz); },
               [](Config& c, std::string_view v) -> std::string {
                 int64_t x;
                 if (!ParseInt64(v, &x)) return "argument couldn't be parsed into an integer";
                 if (x < 0 || x > INT_MAX) return IntRangeError(0, INT_MAX);
                 c.hz = static_cast<int>(std::clamp<int64_t>(x, 1, 500));
                 return "";
               }});
  // lua-time-limit is Redis 7.0's old name for busy-reply-threshold.
  p.push_back(NetIntParam("busy-reply-threshold", &NetOptions::busy_reply_threshold, 0, LLONG_MAX));
  p.push_back(NetIntParam("lua-time-limit", &NetOptions::busy_reply_threshold, 0, LLONG_MAX));
  p.back().alias_of = "busy-reply-threshold";
  // Container encodings; the *-ziplist-* names are Redis's aliases for the same settings.
  for (auto [name, alias, field] :
       {std::tuple{"hash-max-listpack-entries", "hash-max-ziplist-entries",
                   &Config::hash_max_listpack_entries},
        std::tuple{"hash-max-listpack-value", "hash-max-ziplist-value",
                   &Config::hash_max_listpack_value},
        std::tuple{"zset-max-listpack-entries", "zset-max-ziplist-entries",
                   &Config::zset_max_listpack_entries},
        std::tuple{"zset-max-listpack-value", "zset-max-ziplist-value",
                   &Config::zset_max_listpack_value},
        std::tuple{"set-max-intset-entries", "", &Config::set_max_intset_entries},
        std::tuple{"set-max-listpack-entries", "", &Config::set_max_listpack_entries},
        std::tuple{"set-max-listpack-value", "", &Config::set_max_listpack_value}}) {
    p.push_back(IntParam(name, true, field, 0, LLONG_MAX));
    if (*alias) {
      p.push_back(IntParam(alias, true, field, 0, LLONG_MAX));
      p.back().alias_of = name;
    }
  }
  p.push_back(
      IntParam("list-max-listpack-size", true, &Config::list_max_listpack_size, INT_MIN, INT_MAX));
  p.push_back(
      IntParam("list-max-ziplist-size", true, &Config::list_max_listpack_size, INT_MIN, INT_MAX));
  p.back().alias_of = "list-max-listpack-size";
  // Lazy free (store/lazy_free.h).
  p.push_back(BoolParam("lazyfree-lazy-eviction", &Config::lazyfree_lazy_eviction));
  p.push_back(BoolParam("lazyfree-lazy-expire", &Config::lazyfree_lazy_expire));
  p.push_back(BoolParam("lazyfree-lazy-server-del", &Config::lazyfree_lazy_server_del));
  p.push_back(BoolParam("lazyfree-lazy-user-del", &Config::lazyfree_lazy_user_del));
  p.push_back(BoolParam("lazyfree-lazy-user-flush", &Config::lazyfree_lazy_user_flush));
  // Ours.
  p.push_back(IntParam("shards", false, &Config::shards, 0, 256));
  p.push_back({"io-backend", false, [](const Config& c) { return c.io_backend; },
               [](Config& c, std::string_view v) -> std::string {
                 std::string b(v);
                 AsciiToLower(&b);
                 if (b != "epoll" && b != "kqueue" && b != "uring")
                   return "argument(s) must be one of the following: epoll, kqueue, uring";
                 c.io_backend = b;
                 return "";
               }});
  p.push_back(BoolParam("io-uring-sqpoll", &Config::io_uring_sqpoll));
  p.back().mutable_at_runtime = false;
  p.push_back(IntParam("shard-queue-depth", false, &Config::shard_queue_depth, 64, 1 << 24));
  p.push_back(NetIntParam("pipeline-group-max-commands", &NetOptions::pipeline_group_max_commands,
                          1, 1 << 20));
  p.push_back(NetMemoryParam("pipeline-pause-output-bytes",
                             &NetOptions::pipeline_pause_output_bytes, 16 * 1024));
  p.push_back(NetBoolParam("singleflight", &NetOptions::singleflight));
  p.push_back(IntParam("queue-target-ms", true, &Config::queue_target_ms, 1, 60'000));
  p.push_back(IntParam("queue-interval-ms", true, &Config::queue_interval_ms, 1, 600'000));
  p.push_back(IntParam("queue-shed-ms", true, &Config::queue_shed_ms, 1, 3'600'000));
  p.push_back({"queue-policy", true,
               [](const Config& c) { return std::string(c.queue_adaptive ? "adaptive" : "fifo"); },
               [](Config& c, std::string_view v) -> std::string {
                 if (EqualsIgnoreCase(v, "adaptive")) {
                   c.queue_adaptive = true;
                 } else if (EqualsIgnoreCase(v, "fifo")) {
                   c.queue_adaptive = false;
                 } else {
                   return "argument(s) must be one of the following: adaptive, fifo";
                 }
                 return "";
               }});
  AddEvictionParams(&p);
  AddLatencyParams(&p);
  AddKeptRedisParams(&p);
  return p;
}

}  // namespace

const std::vector<ConfigParam>& ConfigParams() {
  static const std::vector<ConfigParam> params = BuildParams();
  return params;
}

const ConfigParam* FindConfigParam(std::string_view name) {
  for (const ConfigParam& p : ConfigParams()) {
    if (EqualsIgnoreCase(p.name, name)) return &p;
  }
  return nullptr;
}

bool ParseMemory(std::string_view s, int64_t* out) {
  size_t digits = 0;
  while (digits < s.size() &&
         (isdigit(static_cast<unsigned char>(s[digits])) || (digits == 0 && s[0] == '-')))
    ++digits;
  std::string unit(s.substr(digits));
  AsciiToLower(&unit);
  int64_t mul;
  if (unit.empty() || unit == "b")
    mul = 1;
  else if (unit == "k")
    mul = 1000;
  else if (unit == "kb")
    mul = 1024;
  else if (unit == "m")
    mul = 1000 * 1000;
  else if (unit == "mb")
    mul = 1024 * 1024;
  else if (unit == "g")
    mul = 1000LL * 1000 * 1000;
  else if (unit == "gb")
    mul = 1024LL * 1024 * 1024;
  else
    return false;
  int64_t v;
  if (!ParseInt64(s.substr(0, digits), &v) || v < 0) return false;
  if (v > LLONG_MAX / mul) return false;
  *out = v * mul;
  return true;
}

int DefaultShardCount() {
  std::string derivation;
  int n = DefaultShardCount(ProbeCpuBudget(), &derivation);
  if (!derivation.empty()) OMNIBUS_LOG(kNotice, derivation);
  return n;
}

int DefaultShardCount(const CpuBudget& cpus, std::string* derivation) {
  // One core stays with the reactor (and, on a small machine, with the load generator); see
  // docs/benchmarks.md for the measurements behind this choice. The cores are those the
  // process may use (affinity mask, cgroup quota), not the host's.
  int usable = cpus.Usable();
  int n = usable > 1 ? usable - 1 : 1;
  if (derivation != nullptr) {
    derivation->clear();
    if (usable != cpus.host)
      *derivation = StrCat(cpus.Describe(), ": ", n, n == 1 ? " shard" : " shards");
  }
  return n;
}

namespace {

// Redis's ACL categories (7.0), for checking `user` lines.
bool IsAclCategory(std::string_view c) {
  static constexpr std::string_view kCategories[] = {
      "keyspace",   "read",        "write",     "set",         "sortedset", "list",
      "hash",       "string",      "bitmap",    "hyperloglog", "geo",       "stream",
      "pubsub",     "admin",       "fast",      "slow",        "blocking",  "dangerous",
      "connection", "transaction", "scripting", "all"};
  for (std::string_view k : kCategories) {
    if (EqualsIgnoreCase(c, k)) return true;
  }
  return false;
}

// A `user <name> [rule ...]` line: checked with Redis's ACL rule syntax. Omnibus has one
// user, "default", with every permission: a line that would restrict it (a password, off, key
// or command limits) cannot be honoured and is refused rather than silently ignored.
std::string CheckUserLine(const std::vector<std::string>& argv) {
  bool is_default = argv[1] == "default";
  for (size_t i = 2; i < argv.size(); ++i) {
    const std::string& r = argv[i];
    auto bad = [&](std::string_view why) {
      return StrCat("Error in user declaration '", r, "': ", why);
    };
    std::string l = r;
    AsciiToLower(&l);
    bool permissive = l == "on" || l == "nopass" || l == "allkeys" || l == "~*" ||
                      l == "allchannels" || l == "&*" || l == "allcommands" || l == "+@all" ||
                      l == "sanitize-payload" || l == "skip-sanitize-payload";
    bool known = permissive || l == "off" || l == "resetkeys" || l == "resetchannels" ||
                 l == "nocommands" || l == "resetpass" || l == "reset" || l == "clearselectors" ||
                 r[0] == '>' || r[0] == '<' || r[0] == '~' || r[0] == '&' || r[0] == '(' ||
                 l.starts_with("%r~") || l.starts_with("%w~") || l.starts_with("%rw~");
    if (r[0] == '#' || r[0] == '!') {
      bool hex = r.size() == 65;
      for (size_t j = 1; hex && j < r.size(); ++j)
        hex = isdigit(static_cast<unsigned char>(r[j])) || (r[j] >= 'a' && r[j] <= 'f');
      if (!hex)
        return bad(
            "The password hash must be exactly 64 characters and contain only lowercase "
            "hexadecimal characters");
      known = true;
    } else if (r[0] == '+' || r[0] == '-') {
      if (r.size() > 1 && r[1] == '@' && !IsAclCategory(std::string_view(r).substr(2)))
        return bad("Unknown command or category name in ACL");
      known = r.size() > 1;
    }
    if (!known) return bad("Syntax error");
    if (is_default && !permissive && l != "reset" && l != "resetpass") {
      return bad(
          "Omnibus has only the default user, with every permission (use requirepass for a "
          "password): this rule cannot be applied");
    }
  }
  return "";
}

struct LoadState {
  int depth = 0;
  bool save_seen = false;  // Redis: the first save line replaces the defaults, later ones add
};

bool ReadFile(const std::string& path, std::string* text, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = StrCat("Fatal error, can't open config file '", path, "': ", strerror(errno));
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  *text = ss.str();
  return true;
}

bool LoadText(std::string_view text, Config* config, std::string* error, LoadState* state);

// Redis's include: a path, or a glob (no match is fine, so an empty conf.d is).
bool LoadInclude(const std::string& pattern, Config* config, std::string* error, LoadState* state) {
  if (state->depth >= 16) {
    *error = StrCat("Fatal error, include nesting too deep at '", pattern, "'");
    return false;
  }
  std::vector<std::string> paths;
  if (pattern.find_first_of("*?[") != std::string::npos) {
    glob_t g;
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) paths.emplace_back(g.gl_pathv[i]);
    }
    globfree(&g);
  } else {
    paths.push_back(pattern);
  }
  for (const std::string& path : paths) {
    // Only regular files: a device a glob matched (/dev/*) would never end.
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      *error = StrCat("Fatal error, can't open config file '", path, "': not a regular file");
      return false;
    }
    std::string text;
    if (!ReadFile(path, &text, error)) return false;
    ++state->depth;
    bool ok = LoadText(text, config, error, state);
    --state->depth;
    if (!ok) return false;
  }
  return true;
}

void NoteNotApplied(Config* config, std::string_view name) {
  for (const std::string& n : config->not_applied) {
    if (n == name) return;
  }
  config->not_applied.emplace_back(name);
}

bool LoadText(std::string_view text, Config* config, std::string* error, LoadState* state) {
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    auto fail = [&](std::string_view why) {
      *error =
          StrCat("\n*** FATAL CONFIG FILE ERROR (Redis ", kRedisVersion, ") ***\n",
                 "Reading the configuration file, at line ", line_no, "\n>>> '", line, "'\n", why);
      return false;
    };
    // Redis trims both ends (the error message shows the trimmed line).
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> argv;
    if (!SplitInlineArgs(line, &argv)) return fail("Unbalanced quotes in configuration line");
    if (argv.empty()) continue;
    std::string name = argv[0];
    AsciiToLower(&name);
    const ConfigParam* p = FindConfigParam(name);
    if (p != nullptr) {
      if (!p->multi_arg && argv.size() != 2) return fail("wrong number of arguments");
      std::string value;
      if (p->multi_arg) {
        if (argv.size() < 2) return fail("wrong number of arguments");
        std::vector<std::string> rest(argv.begin() + 1, argv.end());
        // A single "" stays a single empty argument (save "", bind "").
        value = rest.size() == 1 && rest[0].empty() ? std::string() : JoinStrings(rest, " ");
      } else {
        value = argv[1];
      }
      if (name == "save" && !value.empty()) {
        // save lines add up; the first one replaces Redis's default points.
        if (state->save_seen) {
          std::string before = p->get(*config);
          if (!before.empty()) value = StrCat(before, " ", value);
        }
      }
      if (name == "save") state->save_seen = true;
      std::string err = p->set(*config, value);
      if (!err.empty()) return fail(err);
      if (!p->applied) NoteNotApplied(config, p->name);
      continue;
    }
    // Redis 7.0 ignores these removed settings.
    if ((name == "list-max-ziplist-entries" || name == "list-max-ziplist-value" ||
         name == "lua-replicate-commands") &&
        argv.size() == 2)
      continue;
    if (name == "include" && argv.size() == 2) {
      std::string why;
      if (!LoadInclude(argv[1], config, &why, state)) {
        // An error inside the included file has its own report; a file that cannot be read
        // is reported at this line (Redis's text last).
        if (why.starts_with("\n***")) {
          *error = why;
          return false;
        }
        return fail(why);
      }
      continue;
    }
    if (name == "rename-command" && argv.size() == 3) {
      config->renames.emplace_back(argv[1], argv[2]);
      continue;
    }
    if (name == "user" && argv.size() >= 2) {
      std::string err = CheckUserLine(argv);
      if (!err.empty()) return fail(err);
      config->user_lines.emplace_back(line);
      NoteNotApplied(config, "user");
      continue;
    }
    if (name == "loadmodule" && argv.size() >= 2) {
      config->loadmodule_lines.emplace_back(line);
      NoteNotApplied(config, "loadmodule");
      continue;
    }
    return fail("Bad directive or wrong number of arguments");
  }
  return true;
}

}  // namespace

bool LoadConfigText(std::string_view text, Config* config, std::string* error) {
  LoadState state;
  return LoadText(text, config, error, &state);
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  char buf[4096];
  if (getcwd(buf, sizeof(buf)) == nullptr) return path;
  std::string out = buf;
  if (out.back() != '/') out.push_back('/');
  return out + path;
}

bool LoadConfigFromArgs(int argc, char** argv, Config* config, std::string* error) {
  std::string text;
  int i = 1;
  if (i < argc && argv[i][0] != '-') {
    if (!ReadFile(argv[i], &text, error)) return false;
    config->config_file = AbsolutePath(argv[i]);
    ++i;
  } else if (i < argc && std::string_view(argv[i]) == "-") {
    // Redis reads the config from standard input when the first argument is "-".
    std::stringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
    ++i;
  }
  // Like Redis, command-line options are appended to the file's text as config lines.
  for (; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.substr(0, 2) == "--") {
      text += StrCat("\n", a.substr(2));
    } else {
      std::string quoted;
      for (char ch : a) {
        if (ch == '"' || ch == '\\') quoted.push_back('\\');
        quoted.push_back(ch);
      }
      text += StrCat(" \"", quoted, "\"");
    }
  }
  return LoadConfigText(text, config, error);
}

}  // namespace omnibus
