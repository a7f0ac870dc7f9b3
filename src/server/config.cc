#include "omnibus/server/config.h"

#include <climits>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>

#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/version.h"
#include "omnibus/resp/parser.h"
#include "omnibus/store/container_limits.h"
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
  return {name, true, [field](const Config& c) { return StrCat(c.net.*field); },
          [field, lo, hi](Config& c, std::string_view v) -> std::string {
            int64_t x;
            if (!ParseMemory(v, &x)) return "argument must be a memory value";
            // Too small: Redis's text. Too big for us (Redis takes up to LLONG_MAX): the
            // range we hold.
            if (x < lo) return IntRangeError(lo, LLONG_MAX);
            if (x > hi) return IntRangeError(lo, hi);
            c.net.*field = x;
            return "";
          }};
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
  p.push_back(NetBoolParam("protected-mode", &NetOptions::protected_mode));
  p.push_back({"requirepass", true, [](const Config& c) { return c.net.requirepass; },
               [](Config& c, std::string_view v) -> std::string {
                 c.net.requirepass = std::string(v);
                 return "";
               }});
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
  p.push_back(IntParam("hz", false, &Config::hz, 1, 500));
  // lua-time-limit is Redis 7.0's old name for busy-reply-threshold.
  p.push_back(NetIntParam("busy-reply-threshold", &NetOptions::busy_reply_threshold, 0, LLONG_MAX));
  p.push_back(NetIntParam("lua-time-limit", &NetOptions::busy_reply_threshold, 0, LLONG_MAX));
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
    if (*alias) p.push_back(IntParam(alias, true, field, 0, LLONG_MAX));
  }
  p.push_back(
      IntParam("list-max-listpack-size", true, &Config::list_max_listpack_size, INT_MIN, INT_MAX));
  p.push_back(
      IntParam("list-max-ziplist-size", true, &Config::list_max_listpack_size, INT_MIN, INT_MAX));
  // Omnibus keeps no data on disk (yet): these report that truthfully, so tools that read
  // them (redis-benchmark reads both) see what they would see on a Redis without persistence.
  p.push_back({"save", false, [](const Config&) { return std::string(); },
               [](Config&, std::string_view v) -> std::string {
                 return v.empty() ? "" : "persistence is not supported";
               }});
  p.push_back({"appendonly", false, [](const Config&) { return std::string("no"); },
               [](Config&, std::string_view v) -> std::string {
                 return EqualsIgnoreCase(v, "no") ? "" : "persistence is not supported";
               }});
  // Ours.
  p.push_back(IntParam("shards", false, &Config::shards, 0, 256));
  p.push_back({"io-backend", false, [](const Config& c) { return c.io_backend; },
               [](Config& c, std::string_view v) -> std::string {
                 std::string b(v);
                 AsciiToLower(&b);
                 if (b != "epoll" && b != "kqueue")
                   return "argument(s) must be one of the following: epoll, kqueue";
                 c.io_backend = b;
                 return "";
               }});
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
  AddLatencyParams(&p);
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
  // One core stays with the reactor (and, on a small machine, with the load generator); see
  // docs/benchmarks.md for the measurements behind this choice.
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  return cores > 1 ? cores - 1 : 1;
}

bool LoadConfigText(std::string_view text, Config* config, std::string* error) {
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
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos || line[start] == '#') continue;
    std::vector<std::string> argv;
    if (!SplitInlineArgs(line, &argv)) return fail("Unbalanced quotes in configuration line");
    if (argv.empty()) continue;
    std::string name = argv[0];
    AsciiToLower(&name);
    if (name == "rename-command") {
      if (argv.size() != 3) return fail("Bad directive or wrong number of arguments");
      config->renames.emplace_back(argv[1], argv[2]);
      continue;
    }
    const ConfigParam* p = FindConfigParam(name);
    if (p == nullptr) return fail("Bad directive or wrong number of arguments");
    std::string value;
    if (name == "bind") {
      std::vector<std::string> rest(argv.begin() + 1, argv.end());
      value = JoinStrings(rest, " ");
    } else {
      if (argv.size() != 2) return fail("wrong number of arguments");
      value = argv[1];
    }
    std::string err = p->set(*config, value);
    if (!err.empty()) return fail(err);
  }
  return true;
}

bool LoadConfigFromArgs(int argc, char** argv, Config* config, std::string* error) {
  std::string text;
  int i = 1;
  if (i < argc && argv[i][0] != '-') {
    std::ifstream in(argv[i]);
    if (!in) {
      *error =
          StrCat("Fatal error, can't open config file '", argv[i], "': No such file or directory");
      return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
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
