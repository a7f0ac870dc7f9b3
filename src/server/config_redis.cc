// The Redis 7.0 directives Omnibus accepts but does not apply yet (persistence, replication,
// cluster, TLS, defragmentation, ...). Each is parsed with Redis's syntax, range and error
// text, kept in Config::kept (CONFIG GET shows it, CONFIG REWRITE writes it) and logged at
// start-up as accepted-but-not-applied: a user's redis.conf loads, and nothing is pretended.
// The names, types, ranges and defaults are those of Redis 7.0's config table (config.c).
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <initializer_list>

#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/resp/parser.h"
#include "omnibus/server/config.h"

namespace omnibus {
namespace {

constexpr bool kMutable = true;
constexpr bool kImmutable = false;

std::string KeptValue(const Config& c, std::string_view name, const std::string& dflt) {
  auto it = c.kept.find(name);
  return it == c.kept.end() ? dflt : it->second;
}

ConfigParam Kept(std::string_view name, bool mut, std::string dflt,
                 std::function<std::string(std::string_view, std::string*)> check) {
  ConfigParam p{name, mut, [name, dflt](const Config& c) { return KeptValue(c, name, dflt); },
                [name, check](Config& c, std::string_view v) -> std::string {
                  std::string stored;
                  std::string err = check(v, &stored);
                  if (err.empty()) c.kept[std::string(name)] = std::move(stored);
                  return err;
                }};
  p.applied = false;
  return p;
}

// Adds `p` under its name and, when Redis has one, under its alias (same value).
void Add(std::vector<ConfigParam>* out, ConfigParam p, std::string_view alias = {}) {
  out->push_back(p);
  if (!alias.empty()) {
    // The alias reads and writes the canonical name's value.
    p.alias_of = p.name;
    p.name = alias;
    out->push_back(std::move(p));
  }
}

void Bool(std::vector<ConfigParam>* out, std::string_view name, bool mut, bool dflt,
          std::string_view alias = {}) {
  Add(out,
      Kept(name, mut, dflt ? "yes" : "no",
           [](std::string_view v, std::string* stored) -> std::string {
             if (EqualsIgnoreCase(v, "yes")) {
               *stored = "yes";
             } else if (EqualsIgnoreCase(v, "no")) {
               *stored = "no";
             } else {
               return "argument must be 'yes' or 'no'";
             }
             return "";
           }),
      alias);
}

enum class Num { kInteger, kMemory, kOctal };

void Int(std::vector<ConfigParam>* out, std::string_view name, bool mut, int64_t lo, int64_t hi,
         int64_t dflt, Num kind = Num::kInteger, std::string_view alias = {}) {
  std::string shown =
      kind == Num::kOctal ? StrFormat("%llo", static_cast<long long>(dflt)) : StrCat(dflt);
  Add(out,
      Kept(name, mut, shown,
           [lo, hi, kind](std::string_view v, std::string* stored) -> std::string {
             int64_t x = 0;
             if (kind == Num::kMemory) {
               if (!ParseMemory(v, &x)) return "argument must be a memory value";
             } else if (kind == Num::kOctal) {
               std::string s(v);
               char* end = nullptr;
               errno = 0;
               long long parsed = s.empty() ? 0 : strtoll(s.c_str(), &end, 8);
               if (s.empty() || errno != 0 || *end != '\0')
                 return "argument couldn't be parsed into an integer";
               x = parsed;
             } else if (!ParseInt64(v, &x)) {
               return "argument couldn't be parsed into an integer";
             }
             if (x < lo || x > hi) {
               if (kind == Num::kOctal)
                 return StrFormat("argument must be between %llo and %llo inclusive",
                                  static_cast<long long>(lo), static_cast<long long>(hi));
               return StrCat("argument must be between ", lo, " and ", hi, " inclusive");
             }
             *stored =
                 kind == Num::kOctal ? StrFormat("%llo", static_cast<long long>(x)) : StrCat(x);
             return "";
           }),
      alias);
  if (kind == Num::kMemory) {
    out->back().memory = true;
    if (!alias.empty()) (*out)[out->size() - 2].memory = true;
  }
}

// `names` in Redis's order (its error lists them so); `canonical` maps a name to the one
// CONFIG GET shows (Redis shows the first name with the same value: oom-score-adj relative
// reads back as yes).
void Enum(std::vector<ConfigParam>* out, std::string_view name, bool mut, std::string_view dflt,
          std::vector<std::pair<std::string_view, std::string_view>> names) {
  Add(out, Kept(name, mut, std::string(dflt),
                [names](std::string_view v, std::string* stored) -> std::string {
                  for (auto [n, canonical] : names) {
                    if (EqualsIgnoreCase(v, n)) {
                      *stored = std::string(canonical);
                      return "";
                    }
                  }
                  std::string all;
                  for (auto [n, canonical] : names) {
                    if (!all.empty()) all += ", ";
                    all += n;
                  }
                  return StrCat("argument(s) must be one of the following: ", all);
                }));
}

std::vector<std::pair<std::string_view, std::string_view>> Same(
    std::initializer_list<std::string_view> names) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  for (std::string_view n : names) out.emplace_back(n, n);
  return out;
}

void String(std::vector<ConfigParam>* out, std::string_view name, bool mut, std::string_view dflt,
            std::string_view alias = {}, std::string_view not_a_path_error = {}) {
  ConfigParam p = Kept(name, mut, std::string(dflt),
                       [not_a_path_error](std::string_view v, std::string* stored) -> std::string {
                         if (!not_a_path_error.empty() && v.find('/') != std::string_view::npos)
                           return std::string(not_a_path_error);
                         *stored = std::string(v);
                         return "";
                       });
  p.quoted = true;
  Add(out, std::move(p), alias);
}

// Redis's `save <seconds> <changes> [...]`: pairs, seconds >= 1, changes >= 0; "" for none.
std::string CheckSave(std::string_view v, std::string* stored) {
  std::vector<std::string> args;
  if (!SplitInlineArgs(v, &args)) return "Invalid save parameters";
  if (args.size() == 1 && args[0].empty()) args.clear();
  if (args.size() % 2 != 0) return "Invalid save parameters";
  for (size_t j = 0; j < args.size(); ++j) {
    int64_t x;
    if (!ParseInt64(args[j], &x) || (j % 2 == 0 && x < 1) || (j % 2 == 1 && x < 0))
      return "Invalid save parameters";
  }
  *stored = JoinStrings(args, " ");
  return "";
}

// Redis's `replicaof <host> <port>` or `replicaof no one`; CONFIG GET shows "host port" (""
// when none, which is accepted back).
std::string CheckReplicaOf(std::string_view v, std::string* stored) {
  if (v.empty()) {
    stored->clear();
    return "";
  }
  std::vector<std::string> args;
  if (!SplitInlineArgs(v, &args) || args.size() != 2) return "wrong number of arguments";
  if (EqualsIgnoreCase(args[0], "no") && EqualsIgnoreCase(args[1], "one")) {
    stored->clear();
    return "";
  }
  int64_t port;
  if (!ParseInt64(args[1], &port) || port < 0 || port > 65535) return "Invalid master port";
  *stored = StrCat(args[0], " ", port);
  return "";
}

std::string CheckOomScoreAdjValues(std::string_view v, std::string* stored) {
  std::vector<std::string> args;
  if (!SplitInlineArgs(v, &args) || args.size() != 3) return "wrong number of arguments";
  std::vector<std::string> values;
  for (const std::string& a : args) {
    int64_t x;
    if (!ParseInt64(a, &x)) return "Invalid oom-score-adj-values";
    if (x < -2000 || x > 2000)
      return "Invalid oom-score-adj-values, elements must be between -2000 and 2000.";
    values.push_back(StrCat(x));
  }
  *stored = JoinStrings(values, " ");
  return "";
}

// shutdown-on-sigint/sigterm: "default", or flags among save, nosave, now, force (save and
// nosave exclusive), as Redis's flag configs; CONFIG GET shows them in Redis's order.
std::string CheckShutdownFlags(std::string_view v, std::string* stored) {
  std::vector<std::string> args;
  const std::string kError =
      "argument(s) must be one of the following: default, save, nosave, now, force";
  if (!SplitInlineArgs(v, &args) || args.empty()) return kError;
  bool flags[4] = {};  // save nosave now force
  static constexpr std::string_view kNames[] = {"save", "nosave", "now", "force"};
  bool dflt = false;
  for (const std::string& a : args) {
    bool known = false;
    if (EqualsIgnoreCase(a, "default")) {
      dflt = known = true;
    }
    for (int i = 0; i < 4; ++i) {
      if (EqualsIgnoreCase(a, kNames[i])) flags[i] = known = true;
    }
    if (!known) return kError;
  }
  if (flags[0] && flags[1]) return "shutdown-on-sigint/sigterm: save and nosave are exclusive";
  std::vector<std::string> out;
  for (int i = 0; i < 4; ++i) {
    if (flags[i]) out.emplace_back(kNames[i]);
  }
  *stored = out.empty() || (dflt && out.empty()) ? "default" : JoinStrings(out, " ");
  return "";
}

// Redis chdir()s to `dir`; Omnibus keeps no files there, so it only checks that it could.
std::string CheckDir(std::string_view v, std::string* stored) {
  std::string path(v);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return strerror(errno);
  if (!S_ISDIR(st.st_mode)) return strerror(ENOTDIR);
  if (access(path.c_str(), X_OK) != 0) return strerror(errno);
  *stored = path;
  return "";
}

}  // namespace

void AddKeptRedisParams(std::vector<ConfigParam>* p) {
  // Booleans.
  Bool(p, "rdbchecksum", kImmutable, true);
  Bool(p, "io-threads-do-reads", kImmutable, false);
  Bool(p, "always-show-logo", kImmutable, false);
  Bool(p, "rdbcompression", kMutable, true);
  Bool(p, "rdb-del-sync-files", kMutable, false);
  Bool(p, "activerehashing", kMutable, true);
  Bool(p, "stop-writes-on-bgsave-error", kMutable, true);
  Bool(p, "set-proc-title", kImmutable, true);
  Bool(p, "dynamic-hz", kMutable, true);
  Bool(p, "repl-disable-tcp-nodelay", kMutable, false);
  Bool(p, "repl-diskless-sync", kMutable, true);
  Bool(p, "aof-rewrite-incremental-fsync", kMutable, true);
  Bool(p, "no-appendfsync-on-rewrite", kMutable, false);
  Bool(p, "cluster-require-full-coverage", kMutable, true);
  Bool(p, "rdb-save-incremental-fsync", kMutable, true);
  Bool(p, "aof-load-truncated", kMutable, true);
  Bool(p, "aof-use-rdb-preamble", kMutable, true);
  Bool(p, "aof-timestamp-enabled", kMutable, false);
  Bool(p, "cluster-replica-no-failover", kMutable, false, "cluster-slave-no-failover");
  Bool(p, "replica-lazy-flush", kMutable, false, "slave-lazy-flush");
  Bool(p, "replica-serve-stale-data", kMutable, true, "slave-serve-stale-data");
  Bool(p, "replica-read-only", kMutable, true, "slave-read-only");
  Bool(p, "replica-ignore-maxmemory", kMutable, true, "slave-ignore-maxmemory");
  Bool(p, "jemalloc-bg-thread", kMutable, true);
  Bool(p, "activedefrag", kMutable, false);
  Bool(p, "syslog-enabled", kImmutable, false);
  Bool(p, "cluster-enabled", kImmutable, false);
  Bool(p, "appendonly", kMutable, false);
  Bool(p, "cluster-allow-reads-when-down", kMutable, false);
  Bool(p, "cluster-allow-pubsubshard-when-down", kMutable, true);
  Bool(p, "crash-log-enabled", kMutable, true);
  Bool(p, "crash-memcheck-enabled", kMutable, true);
  Bool(p, "disable-thp", kImmutable, true);
  Bool(p, "cluster-allow-replica-migration", kMutable, true);
  Bool(p, "replica-announced", kMutable, true);
  Bool(p, "aof-disable-auto-gc", kMutable, false);
  Bool(p, "tls-cluster", kMutable, false);
  Bool(p, "tls-replication", kMutable, false);
  Bool(p, "tls-prefer-server-ciphers", kMutable, false);
  Bool(p, "tls-session-caching", kMutable, true);
  Bool(p, "replica-ignore-disk-write-errors", kMutable, false);

  // Strings (Redis writes them quoted on CONFIG REWRITE).
  String(p, "aclfile", kImmutable, "");
  String(p, "unixsocket", kImmutable, "");
  String(p, "replica-announce-ip", kMutable, "", "slave-announce-ip");
  String(p, "masteruser", kMutable, "");
  String(p, "masterauth", kMutable, "");
  String(p, "cluster-announce-ip", kMutable, "");
  String(p, "cluster-config-file", kImmutable, "nodes.conf");
  String(p, "cluster-announce-hostname", kMutable, "");
  String(p, "syslog-ident", kImmutable, "redis");
  String(p, "dbfilename", kMutable, "dump.rdb", {}, "dbfilename can't be a path, just a filename");
  p->back().protected_config = true;
  String(p, "appendfilename", kImmutable, "appendonly.aof", {},
         "appendfilename can't be a path, just a filename");
  String(p, "appenddirname", kImmutable, "appendonlydir", {},
         "appenddirname can't be a path, just a directory name");
  String(p, "server_cpulist", kImmutable, "");
  String(p, "bio_cpulist", kImmutable, "");
  String(p, "aof_rewrite_cpulist", kImmutable, "");
  String(p, "bgsave_cpulist", kImmutable, "");
  String(p, "ignore-warnings", kMutable, "");
  String(p, "proc-title-template", kMutable, "{title} {listen-addr} {server-mode}");
  String(p, "bind-source-addr", kMutable, "");
  for (std::string_view tls :
       {"tls-cert-file", "tls-key-file", "tls-key-file-pass", "tls-client-cert-file",
        "tls-client-key-file", "tls-client-key-file-pass", "tls-dh-params-file", "tls-ca-cert-file",
        "tls-ca-cert-dir", "tls-protocols", "tls-ciphers", "tls-ciphersuites"}) {
    String(p, tls, kMutable, "");
  }

  // Enums.
  Enum(p, "syslog-facility", kImmutable, "local0",
       Same({"user", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
             "local7"}));
  Enum(p, "repl-diskless-load", kMutable, "disabled", Same({"disabled", "on-empty-db", "swapdb"}));
  Enum(p, "appendfsync", kMutable, "everysec", Same({"everysec", "always", "no"}));
  Enum(p, "oom-score-adj", kMutable, "no",
       {{"no", "no"}, {"yes", "yes"}, {"relative", "yes"}, {"absolute", "absolute"}});
  Enum(p, "acl-pubsub-default", kMutable, "resetchannels", Same({"allchannels", "resetchannels"}));
  Enum(p, "sanitize-dump-payload", kMutable, "no", Same({"no", "yes", "clients"}));
  for (std::string_view name :
       {"enable-protected-configs", "enable-debug-command", "enable-module-command"}) {
    Enum(p, name, kImmutable, "no", Same({"no", "yes", "local"}));
  }
  Enum(p, "cluster-preferred-endpoint-type", kMutable, "ip",
       Same({"ip", "hostname", "unknown-endpoint"}));
  Enum(p, "tls-auth-clients", kMutable, "yes", Same({"no", "yes", "optional"}));
  Enum(p, "propagation-error-behavior", kMutable, "ignore",
       Same({"ignore", "panic", "panic-on-replicas"}));

  // Numbers.
  Int(p, "io-threads", kImmutable, 1, 128, 1);
  Int(p, "auto-aof-rewrite-percentage", kMutable, 0, INT_MAX, 100);
  Int(p, "cluster-replica-validity-factor", kMutable, 0, INT_MAX, 10, Num::kInteger,
      "cluster-slave-validity-factor");
  Int(p, "cluster-migration-barrier", kMutable, 0, INT_MAX, 1);
  Int(p, "active-defrag-cycle-min", kMutable, 1, 99, 1);
  Int(p, "active-defrag-cycle-max", kMutable, 1, 99, 25);
  Int(p, "active-defrag-threshold-lower", kMutable, 0, 1000, 10);
  Int(p, "active-defrag-threshold-upper", kMutable, 0, 1000, 100);
  Int(p, "replica-priority", kMutable, 0, INT_MAX, 100, Num::kInteger, "slave-priority");
  Int(p, "repl-diskless-sync-delay", kMutable, 0, INT_MAX, 5);
  Int(p, "replica-announce-port", kMutable, 0, 65535, 0, Num::kInteger, "slave-announce-port");
  Int(p, "cluster-port", kImmutable, 0, 65535, 0);
  Int(p, "cluster-announce-bus-port", kMutable, 0, 65535, 0);
  Int(p, "cluster-announce-port", kMutable, 0, 65535, 0);
  Int(p, "cluster-announce-tls-port", kMutable, 0, 65535, 0);
  Int(p, "repl-timeout", kMutable, 1, INT_MAX, 60);
  Int(p, "repl-ping-replica-period", kMutable, 1, INT_MAX, 10, Num::kInteger,
      "repl-ping-slave-period");
  Int(p, "list-compress-depth", kMutable, 0, INT_MAX, 0);
  Int(p, "min-replicas-to-write", kMutable, 0, INT_MAX, 0, Num::kInteger, "min-slaves-to-write");
  Int(p, "min-replicas-max-lag", kMutable, 0, INT_MAX, 10, Num::kInteger, "min-slaves-max-lag");
  Int(p, "shutdown-timeout", kMutable, 0, INT_MAX, 10);
  Int(p, "repl-diskless-sync-max-replicas", kMutable, 0, INT_MAX, 0);
  Int(p, "unixsocketperm", kImmutable, 0, 0777, 0, Num::kOctal);
  Int(p, "active-defrag-max-scan-fields", kMutable, 1, LONG_MAX, 1000);
  Int(p, "acllog-max-len", kMutable, 0, LONG_MAX, 128);
  Int(p, "cluster-node-timeout", kMutable, 0, LLONG_MAX, 15000);
  Int(p, "stream-node-max-entries", kMutable, 0, LLONG_MAX, 100);
  Int(p, "repl-backlog-size", kMutable, 1, LLONG_MAX, 1024 * 1024, Num::kMemory);
  Int(p, "cluster-link-sendbuf-limit", kMutable, 0, LLONG_MAX, 0, Num::kMemory);
  Int(p, "active-defrag-ignore-bytes", kMutable, 1, LLONG_MAX, 100 << 20, Num::kMemory);
  Int(p, "stream-node-max-bytes", kMutable, 0, LONG_MAX, 4096, Num::kMemory);
  Int(p, "hll-sparse-max-bytes", kMutable, 0, LONG_MAX, 3000, Num::kMemory);
  Int(p, "repl-backlog-ttl", kMutable, 0, LONG_MAX, 3600);
  Int(p, "auto-aof-rewrite-min-size", kMutable, 0, LLONG_MAX, 64 * 1024 * 1024, Num::kMemory);
  Int(p, "tls-port", kMutable, 0, 65535, 0);
  Int(p, "tls-session-cache-size", kMutable, 0, INT_MAX, 20 * 1024);
  Int(p, "tls-session-cache-timeout", kMutable, 0, INT_MAX, 300);
  Int(p, "socket-mark-id", kImmutable, 0, UINT_MAX, 0);

  // Redis's special configs.
  {
    ConfigParam save = Kept("save", kMutable, "", CheckSave);
    save.multi_arg = true;
    Add(p, std::move(save));
    ConfigParam dir = Kept("dir", kMutable, "", CheckDir);
    // Redis shows its working directory: Omnibus does not chdir (it keeps no files), so an
    // unset dir reads as the directory it runs in.
    dir.get = [](const Config& c) {
      auto it = c.kept.find("dir");
      if (it != c.kept.end()) return it->second;
      char buf[4096];
      return std::string(getcwd(buf, sizeof(buf)) != nullptr ? buf : "");
    };
    dir.quoted = true;
    dir.protected_config = true;
    Add(p, std::move(dir));
    ConfigParam replicaof = Kept("replicaof", kImmutable, "", CheckReplicaOf);
    replicaof.multi_arg = true;
    Add(p, std::move(replicaof), "slaveof");
    for (std::string_view name : {"shutdown-on-sigint", "shutdown-on-sigterm"}) {
      ConfigParam sig = Kept(name, kMutable, "default", CheckShutdownFlags);
      sig.multi_arg = true;
      Add(p, std::move(sig));
    }
    ConfigParam oom = Kept("oom-score-adj-values", kMutable, "0 200 800", CheckOomScoreAdjValues);
    oom.multi_arg = true;
    Add(p, std::move(oom));
  }
}

}  // namespace omnibus
