// A user's redis.conf starts Omnibus (issue 13, part 6): Debian's stock redis.conf and a
// typical cache config load; every Redis 7.0 directive parses; those Omnibus does not apply
// are kept (CONFIG GET) and logged once; include/rename-command/user/loadmodule; daemonize
// and pidfile; supervised systemd; CONFIG REWRITE round trip; INFO's sections.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "omnibus/base/str_cat.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A directory of the test's own, removed (with its files) at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/omnibus-conf-XXXXXX";
    char* p = mkdtemp(tmpl);
    if (p != nullptr) path_ = p;
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::string cmd = "rm -rf '" + path_ + "'";
      int rc = system(cmd.c_str());
      (void)rc;
    }
  }
  const std::string& path() const { return path_; }
  std::string File(std::string_view name) const { return StrCat(path_, "/", name); }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WriteAll(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  return static_cast<bool>(out << text) && static_cast<bool>(out.flush());
}

std::string ConfigGet(const RedisConn& c, std::string_view name) {
  Reply r = Command(c, {"CONFIG", "GET", name});
  auto v = StringsOf(r.get());
  if (!v || v->size() != 2) return "<" + Describe(r) + ">";
  return (*v)[1];
}

std::string InfoText(const RedisConn& c, std::string_view section) {
  Reply r = Command(c, {"INFO", section});
  return StringOf(r.get()).value_or("");
}

int CountOccurrences(const std::string& text, std::string_view needle) {
  int n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

constexpr std::string_view kNotApplied = "accepted but not applied";

// Debian's /etc/redis/redis.conf (Redis 7.0), as a user would start from it: the test copies
// it and overrides what points at the system's files or must differ (port, daemonize,
// pidfile, logfile, dir) on the command line after the file, which Redis applies last.
// `drop_lead_families`: the maxmemory-*/lfu-*/lazyfree-* lines are commented out (the file
// as it is: StockRedisConfUnchanged).
std::string StockRedisConf(bool drop_lead_families) {
  std::string text = ReadAll("/etc/redis/redis.conf");
  if (!drop_lead_families) return text;
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("lazyfree-") || line.starts_with("maxmemory") ||
        line.starts_with("lfu-") || line.starts_with("active-expire-effort"))
      out += "# (test) ";
    out += line + "\n";
  }
  return out;
}

void CheckStockConfServer(bool drop_lead_families) {
  std::string stock = StockRedisConf(drop_lead_families);
  ASSERT_THAT(stock, HasSubstr("daemonize yes")) << "Debian's redis.conf is missing or changed";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  ServerProcess server({"--daemonize", "no", "--pidfile", dir.File("omnibus.pid"), "--logfile", "",
                        "--dir", dir.path(), "--shards", "2"},
                       ServerProcess::Options{.config_text = stock});
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"SET", "k", "v"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"GET", "k"}), IsBulk("v"));
  // Applied: the file's values, then the command line's.
  EXPECT_EQ(ConfigGet(c, "tcp-keepalive"), "300");
  EXPECT_EQ(ConfigGet(c, "databases"), "16");
  EXPECT_EQ(ConfigGet(c, "client-output-buffer-limit"),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
  EXPECT_EQ(ConfigGet(c, "daemonize"), "no");
  EXPECT_EQ(ConfigGet(c, "pidfile"), dir.File("omnibus.pid"));
  EXPECT_EQ(ConfigGet(c, "port"), StrCat(server.port()));
  // Kept, not applied: CONFIG GET shows the file's (or command line's) value.
  EXPECT_EQ(ConfigGet(c, "dir"), dir.path());
  EXPECT_EQ(ConfigGet(c, "dbfilename"), "dump.rdb");
  EXPECT_EQ(ConfigGet(c, "appendfilename"), "appendonly.aof");
  EXPECT_EQ(ConfigGet(c, "auto-aof-rewrite-min-size"), "67108864");
  EXPECT_EQ(ConfigGet(c, "oom-score-adj-values"), "0 200 800");
  EXPECT_EQ(ConfigGet(c, "proc-title-template"), "{title} {listen-addr} {server-mode}");
  // The pid file is written while running (pidfile set, as Redis).
  EXPECT_EQ(ReadAll(dir.File("omnibus.pid")), StrCat(server.pid(), "\n"));
  // INFO tells where the configuration came from.
  EXPECT_THAT(InfoText(c, "server"), HasSubstr("config_file:/"));
  std::string log = server.Log();
  EXPECT_EQ(CountOccurrences(log, kNotApplied), 1) << log;
  for (std::string_view name : {"dir", "dbfilename", "appendonly", "rdbcompression",
                                "repl-diskless-sync", "jemalloc-bg-thread"}) {
    EXPECT_THAT(log, HasSubstr(StrCat(" ", name))) << name << " missing from:\n" << log;
  }
  // Applied directives are not in that line.
  size_t at = log.find(kNotApplied);
  std::string line = log.substr(at, log.find('\n', at) - at);
  EXPECT_THAT(line, Not(HasSubstr("tcp-keepalive"))) << line;
  EXPECT_THAT(line, Not(HasSubstr("daemonize"))) << line;
  EXPECT_EQ(server.Stop(), 0);
  // Removed at a clean exit.
  EXPECT_NE(access(dir.File("omnibus.pid").c_str(), F_OK), 0);
}

TEST(ConfigFileTest, StockRedisConfStarts) { CheckStockConfServer(/*drop_lead_families=*/true); }

// Debian's file as it is, maxmemory-*, lfu-* and lazyfree-* included.
TEST(ConfigFileTest, StockRedisConfUnchanged) {
  CheckStockConfServer(/*drop_lead_families=*/false);
}

// A typical cache config.
TEST(ConfigFileTest, TypicalCacheConfig) {
  ServerProcess server({"--shards", "2"}, ServerProcess::Options{.config_text = R"(
# A cache, as people write it.
bind 127.0.0.1 -::1
port 6379
protected-mode yes
timeout 300
tcp-keepalive 60
loglevel notice
databases 4
maxmemory 100mb
maxmemory-policy allkeys-lru
save ""
appendonly no
)"});
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(ConfigGet(c, "maxmemory"), "104857600");
  EXPECT_EQ(ConfigGet(c, "maxmemory-policy"), "allkeys-lru");
  EXPECT_EQ(ConfigGet(c, "timeout"), "300");
  EXPECT_EQ(ConfigGet(c, "databases"), "4");
}

TEST(ConfigFileTest, TypicalCacheConfigWithoutEvictionSettings) {
  ServerProcess server({"--shards", "2"}, ServerProcess::Options{.config_text = R"(
bind 127.0.0.1 -::1
port 6379
protected-mode yes
timeout 300
tcp-keepalive 60
loglevel notice
databases 4
hz 1000
save ""
appendonly no
)"});
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(ConfigGet(c, "timeout"), "300");
  EXPECT_EQ(ConfigGet(c, "tcp-keepalive"), "60");
  EXPECT_EQ(ConfigGet(c, "hz"), "500");  // 1000 asked: kept within 1..500, as Redis does
  EXPECT_EQ(ConfigGet(c, "databases"), "4");
  EXPECT_THAT(Command(c, {"SELECT", "4"}), IsError("ERR DB index is out of range"));
  EXPECT_EQ(ConfigGet(c, "save"), "");
  EXPECT_EQ(ConfigGet(c, "appendonly"), "no");
  // save "" and appendonly no are what Omnibus does, but they are still named: Omnibus does
  // not implement these directives, whatever their value.
  EXPECT_EQ(CountOccurrences(server.Log(), kNotApplied), 1);
}

TEST(ConfigFileTest, MultiArgumentDirectivesIncludeAndKeptValues) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  ASSERT_TRUE(WriteAll(dir.File("extra.conf"), "maxclients 123\nslowlog-max-len 7\n"));
  ASSERT_EQ(mkdir(dir.File("conf.d").c_str(), 0755), 0);
  std::string text = StrCat(R"(
save 3600 1
save 300 100 60 10000
appendonly yes
client-output-buffer-limit normal 0 0 0
client-output-buffer-limit pubsub 64mb 16mb 90
rename-command FLUSHALL OMNIBUS-FLUSHALL
user default on nopass ~* &* +@all
loadmodule /usr/lib/redis/modules/nothing.so arg1 arg2
replicaof 10.0.0.1 6380
include )",
                            dir.File("extra.conf"), "\ninclude ", dir.File("conf.d/*.conf"),
                            "\nlist-max-ziplist-entries 512\n");
  ServerProcess server({"--shards", "2"}, ServerProcess::Options{.config_text = text});
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(ConfigGet(c, "save"), "3600 1 300 100 60 10000");
  EXPECT_EQ(ConfigGet(c, "appendonly"), "yes");
  EXPECT_EQ(ConfigGet(c, "replicaof"), "10.0.0.1 6380");
  EXPECT_EQ(ConfigGet(c, "slaveof"), "10.0.0.1 6380");
  EXPECT_EQ(ConfigGet(c, "client-output-buffer-limit"),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 67108864 16777216 90");
  // include really includes; an empty glob includes nothing.
  EXPECT_EQ(ConfigGet(c, "maxclients"), "123");
  EXPECT_EQ(ConfigGet(c, "slowlog-max-len"), "7");
  EXPECT_THAT(Command(c, {"FLUSHALL"}), IsErrorStartingWith("ERR unknown command"));
  EXPECT_THAT(Command(c, {"OMNIBUS-FLUSHALL"}), IsStatus("OK"));
  // Not pretended: no AOF, no replication.
  EXPECT_THAT(InfoText(c, "persistence"), HasSubstr("aof_enabled:0\r\n"));
  EXPECT_THAT(InfoText(c, "replication"), HasSubstr("role:master\r\n"));
  std::string log = server.Log();
  ASSERT_EQ(CountOccurrences(log, kNotApplied), 1) << log;
  for (std::string_view name : {"save", "appendonly", "user", "loadmodule", "replicaof"}) {
    EXPECT_THAT(log, HasSubstr(StrCat(" ", name))) << name;
  }
  // CONFIG SET of a kept directive works as in Redis, and is logged.
  EXPECT_THAT(Command(c, {"CONFIG", "SET", "save", "10 1"}), IsStatus("OK"));
  EXPECT_EQ(ConfigGet(c, "save"), "10 1");
  EXPECT_THAT(Command(c, {"CONFIG", "SET", "save", "10"}),
              IsError("ERR CONFIG SET failed (possibly related to argument 'save') - Invalid "
                      "save parameters"));
  EXPECT_THAT(Command(c, {"CONFIG", "SET", "dir", "/tmp"}),
              IsError("ERR CONFIG SET failed (possibly related to argument 'dir') - can't set "
                      "protected config"));
  EXPECT_TRUE(PollUntil(
      [&] {
        return server.Log().find("CONFIG SET save: accepted, not applied") != std::string::npos;
      },
      milliseconds(5000)));
  EXPECT_EQ(CountOccurrences(server.Log(), kNotApplied), 1);
}

struct BadLine {
  std::string line;
  std::string why;
};

TEST(ConfigFileTest, BadDirectivesFailWithRedisErrors) {
  const std::vector<BadLine> cases = {
      {"save 3600", "Invalid save parameters"},
      {"appendonly maybe", "argument must be 'yes' or 'no'"},
      {"repl-backlog-size lots", "argument must be a memory value"},
      {"io-threads 500", "argument must be between 1 and 128 inclusive"},
      {"appendfsync sometimes", "argument(s) must be one of the following: everysec, always, no"},
      {"dbfilename /var/dump.rdb", "dbfilename can't be a path, just a filename"},
      {"dir /no/such/dir", "No such file or directory"},
      {"supervised maybe", "argument(s) must be one of the following: upstart, systemd, auto, no"},
      {"no-such-directive 1", "Bad directive or wrong number of arguments"},
      {"rdbcompression yes no", "wrong number of arguments"},
      {"include /no/such/file.conf", "can't open config file '/no/such/file.conf'"},
      // Omnibus has only the default user with every permission: a password there would be
      // a lie, so it is refused (requirepass is the way).
      {"user default on >secret ~* +@all", "this rule cannot be applied"},
      {"user alice on #abc", "The password hash must be exactly 64 characters"},
  };
  TempDir dir;
  for (const BadLine& bad : cases) {
    SCOPED_TRACE(bad.line);
    std::string path = dir.File("bad.conf");
    ASSERT_TRUE(WriteAll(path, StrCat("port 0\n", bad.line, "\n")));
    std::string output;
    std::optional<int> status = RunServerToExit({path}, &output);
    ASSERT_TRUE(status.has_value()) << output;
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << output;
    EXPECT_THAT(output, HasSubstr(bad.why));
  }
}

// A port no one listens on, for servers the test starts itself.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

TEST(ConfigFileTest, DaemonizeWritesPidFileAndRemovesItAtShutdown) {
  if (getenv("OMNIBUS_TEST_SERVER") != nullptr) GTEST_SKIP() << "starts omnibus-server itself";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string pidfile = dir.File("daemon.pid");
  std::string conf = dir.File("daemon.conf");
  ASSERT_TRUE(WriteAll(conf, StrCat("daemonize yes\npidfile ", pidfile, "\nlogfile ",
                                    dir.File("daemon.log"), "\nbind 127.0.0.1\n")));
  int port = FreePort();
  ASSERT_GT(port, 0);
  std::string output;
  std::optional<int> status =
      RunServerToExit({conf, "--port", StrCat(port), "--shards", "1"}, &output);
  // The parent exits 0 only once the daemon listens and has written its pid file.
  ASSERT_TRUE(status.has_value()) << output;
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << output;
  std::string pid_text = ReadAll(pidfile);
  ASSERT_FALSE(pid_text.empty()) << "no pid file; log:\n" << ReadAll(dir.File("daemon.log"));
  pid_t pid = atoi(pid_text.c_str());
  ASSERT_GT(pid, 0);
  redisContext* raw = redisConnect("127.0.0.1", port);
  RedisConn c(raw);
  ASSERT_TRUE(c && c->err == 0) << "daemon does not answer; log:\n"
                                << ReadAll(dir.File("daemon.log"));
  EXPECT_EQ(InfoField(c.get(), "server", "process_id"), pid);
  EXPECT_EQ(ConfigGet(c, "daemonize"), "yes");
  // Detached: its own session, not the test's.
  EXPECT_EQ(getsid(pid), pid);
  EXPECT_EQ(Command(c, {"SHUTDOWN"}), nullptr);
  bool removed = PollUntil([&] { return access(pidfile.c_str(), F_OK) != 0; }, milliseconds(10000));
  if (!removed) kill(pid, SIGKILL);
  EXPECT_TRUE(removed) << "pid file left after SHUTDOWN";
  EXPECT_THAT(ReadAll(dir.File("daemon.log")), HasSubstr("Removing the pid file."));
}

TEST(ConfigFileTest, DaemonizeReportsAFailedStartAndPortTakenLogsRedisLines) {
  if (getenv("OMNIBUS_TEST_SERVER") != nullptr) GTEST_SKIP() << "starts omnibus-server itself";
  ServerProcess first({"--shards", "1"});
  ASSERT_TRUE(first.ok()) << first.error();
  TempDir dir;
  std::string pidfile = dir.File("d.pid");
  std::string output;
  std::optional<int> status =
      RunServerToExit({"--port", StrCat(first.port()), "--bind", "127.0.0.1", "--daemonize", "yes",
                       "--pidfile", pidfile, "--shards", "1"},
                      &output);
  ASSERT_TRUE(status.has_value()) << output;
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << output;
  // The parent prints the daemon's reason, in Redis's words.
  EXPECT_THAT(output, HasSubstr(StrCat("Could not create server TCP listening socket 127.0.0.1:",
                                       first.port(), ": bind: Address already in use")));
  EXPECT_THAT(output,
              HasSubstr(StrCat("Failed listening on port ", first.port(), " (TCP), aborting.")));
  EXPECT_NE(access(pidfile.c_str(), F_OK), 0);
}

// systemd's side of sd_notify: a unix datagram socket the server is pointed at.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    ok_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  bool ok() const { return ok_; }
  std::string Receive() {
    char buf[1024];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool ok_ = false;
};

TEST(ConfigFileTest, SupervisedSystemdNotifiesReadinessAndStopping) {
  if (getenv("OMNIBUS_TEST_SERVER") != nullptr) GTEST_SKIP() << "starts omnibus-server itself";
  TempDir dir;
  NotifySocket notify(dir.File("notify.sock"));
  ASSERT_TRUE(notify.ok());
  setenv("NOTIFY_SOCKET", dir.File("notify.sock").c_str(), 1);
  // daemonize yes is ignored under a supervisor, as in Redis.
  ServerProcess server({"--supervised", "systemd", "--daemonize", "yes", "--shards", "1"});
  unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(server.ok()) << server.error();
  EXPECT_EQ(notify.Receive(), "STATUS=Ready to accept connections\n");
  EXPECT_EQ(notify.Receive(), "READY=1\n");
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(InfoText(c, "server"), HasSubstr("process_supervised:systemd\r\n"));
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_EQ(notify.Receive(), "STOPPING=1\n");
}

TEST(ConfigFileTest, SupervisedSystemdWithoutNotifySocketRunsUnsupervised) {
  unsetenv("NOTIFY_SOCKET");
  ServerProcess server({"--supervised", "systemd", "--shards", "1"});
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(InfoText(c, "server"), HasSubstr("process_supervised:no\r\n"));
  EXPECT_THAT(server.Log(), HasSubstr("NOTIFY_SOCKET not found"));
}

TEST(ConfigFileTest, ConfigRewriteRoundTrip) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string conf = dir.File("omnibus.conf");
  ASSERT_TRUE(WriteAll(conf, R"(# My server.
# Keep this comment.
timeout 0

save 3600 1
save 300 100
rename-command KEYS ""
hash-max-ziplist-entries 100
# Trailing comment.
)"));
  {
    ServerProcess server({"--shards", "2"}, ServerProcess::Options{.config_path = conf});
    ASSERT_TRUE(server.ok()) << server.error();
    RedisConn c = server.Connect();
    ASSERT_TRUE(c);
    EXPECT_THAT(Command(c, {"CONFIG", "SET", "timeout", "42", "maxclients", "77", "save", "",
                            "hash-max-listpack-entries", "64", "slowlog-max-len", "5"}),
                IsStatus("OK"));
    EXPECT_THAT(Command(c, {"CONFIG", "SET", "repl-backlog-size", "2mb"}), IsStatus("OK"));
    EXPECT_THAT(Command(c, {"CONFIG", "REWRITE"}), IsStatus("OK"));
  }
  std::string text = ReadAll(conf);
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_GE(lines.size(), 11u) << text;
  // Comments and lines Omnibus does not own stay where they were; changed settings are
  // replaced in place (the alias line by the setting's first name), a line no longer needed
  // is left blank; new ones are appended. Redis 7.0 writes this same layout.
  EXPECT_EQ(lines[0], "# My server.");
  EXPECT_EQ(lines[1], "# Keep this comment.");
  EXPECT_EQ(lines[2], "timeout 42");
  EXPECT_EQ(lines[3], "");
  EXPECT_EQ(lines[4], "save \"\"");
  EXPECT_EQ(lines[5], "");
  EXPECT_EQ(lines[6], "rename-command KEYS \"\"") << text;
  EXPECT_EQ(lines[7], "hash-max-listpack-entries 64");
  EXPECT_EQ(lines[8], "# Trailing comment.");
  EXPECT_EQ(lines[9], "");
  EXPECT_EQ(lines[10], "# Generated by CONFIG REWRITE");
  EXPECT_THAT(text, HasSubstr("\nmaxclients 77\n"));
  EXPECT_THAT(text, HasSubstr("\nslowlog-max-len 5\n"));
  EXPECT_THAT(text, HasSubstr("\nrepl-backlog-size 2mb\n"));
  EXPECT_EQ(CountOccurrences(text, "save "), 1) << text;
  // Restarted from the rewritten file, the server has the values.
  ServerProcess again({"--shards", "2"}, ServerProcess::Options{.config_path = conf});
  ASSERT_TRUE(again.ok()) << again.error();
  RedisConn c = again.Connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(ConfigGet(c, "timeout"), "42");
  EXPECT_EQ(ConfigGet(c, "maxclients"), "77");
  EXPECT_EQ(ConfigGet(c, "save"), "");
  EXPECT_EQ(ConfigGet(c, "hash-max-listpack-entries"), "64");
  EXPECT_EQ(ConfigGet(c, "repl-backlog-size"), "2097152");
  EXPECT_THAT(Command(c, {"KEYS", "*"}), IsErrorStartingWith("ERR unknown command"));
  // A second rewrite with nothing changed leaves the file as it is (but for a blank line at
  // the end, which Redis adds too).
  EXPECT_THAT(Command(c, {"CONFIG", "REWRITE"}), IsStatus("OK"));
  std::string again_text = ReadAll(conf);
  // The test harness's own --port/--bind/--queue-shed-ms are written by the first rewrite;
  // the second run gets a new port, so only that line may differ.
  auto without_port = [](const std::string& t) {
    std::string out;
    std::istringstream s(t);
    for (std::string line; std::getline(s, line);) {
      if (!line.starts_with("port ")) out += line + "\n";
    }
    while (out.ends_with("\n\n")) out.pop_back();
    return out;
  };
  EXPECT_EQ(without_port(again_text), without_port(text));
}

TEST(ConfigFileTest, ConfigRewriteWithoutAFile) {
  ServerProcess server({"--shards", "1"});
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(Command(c, {"CONFIG", "REWRITE"}),
              IsError("ERR The server is running without a config file"));
  EXPECT_THAT(Command(c, {"CONFIG", "REWRITE", "x"}),
              IsError("ERR wrong number of arguments for 'config|rewrite' command"));
}

TEST(ConfigFileTest, EveryRedisParameterIsKnownToConfigGet) {
  ServerProcess server({"--shards", "1"});
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  // Redis 7.0.15's CONFIG GET * names, less the maxmemory-*/lfu-*/lazyfree-* families
  // (issue 13 part 2), which this test tolerates either way.
  const char* kNames[] = {"acl-pubsub-default",
                          "aclfile",
                          "acllog-max-len",
                          "active-defrag-cycle-max",
                          "active-defrag-cycle-min",
                          "active-defrag-ignore-bytes",
                          "active-defrag-max-scan-fields",
                          "active-defrag-threshold-lower",
                          "active-defrag-threshold-upper",
                          "activedefrag",
                          "activerehashing",
                          "always-show-logo",
                          "aof-disable-auto-gc",
                          "aof-load-truncated",
                          "aof-rewrite-incremental-fsync",
                          "aof-timestamp-enabled",
                          "aof-use-rdb-preamble",
                          "aof_rewrite_cpulist",
                          "appenddirname",
                          "appendfilename",
                          "appendfsync",
                          "appendonly",
                          "auto-aof-rewrite-min-size",
                          "auto-aof-rewrite-percentage",
                          "bgsave_cpulist",
                          "bind",
                          "bind-source-addr",
                          "bio_cpulist",
                          "busy-reply-threshold",
                          "client-output-buffer-limit",
                          "client-query-buffer-limit",
                          "cluster-allow-pubsubshard-when-down",
                          "cluster-allow-reads-when-down",
                          "cluster-allow-replica-migration",
                          "cluster-announce-bus-port",
                          "cluster-announce-hostname",
                          "cluster-announce-ip",
                          "cluster-announce-port",
                          "cluster-announce-tls-port",
                          "cluster-config-file",
                          "cluster-enabled",
                          "cluster-link-sendbuf-limit",
                          "cluster-migration-barrier",
                          "cluster-node-timeout",
                          "cluster-port",
                          "cluster-preferred-endpoint-type",
                          "cluster-replica-no-failover",
                          "cluster-replica-validity-factor",
                          "cluster-require-full-coverage",
                          "cluster-slave-no-failover",
                          "cluster-slave-validity-factor",
                          "crash-log-enabled",
                          "crash-memcheck-enabled",
                          "daemonize",
                          "databases",
                          "dbfilename",
                          "dir",
                          "disable-thp",
                          "dynamic-hz",
                          "enable-debug-command",
                          "enable-module-command",
                          "enable-protected-configs",
                          "hash-max-listpack-entries",
                          "hash-max-listpack-value",
                          "hash-max-ziplist-entries",
                          "hash-max-ziplist-value",
                          "hll-sparse-max-bytes",
                          "hz",
                          "ignore-warnings",
                          "io-threads",
                          "io-threads-do-reads",
                          "jemalloc-bg-thread",
                          "latency-monitor-threshold",
                          "latency-tracking",
                          "latency-tracking-info-percentiles",
                          "list-compress-depth",
                          "list-max-listpack-size",
                          "list-max-ziplist-size",
                          "logfile",
                          "loglevel",
                          "lua-time-limit",
                          "masterauth",
                          "masteruser",
                          "maxclients",
                          "min-replicas-max-lag",
                          "min-replicas-to-write",
                          "min-slaves-max-lag",
                          "min-slaves-to-write",
                          "no-appendfsync-on-rewrite",
                          "notify-keyspace-events",
                          "oom-score-adj",
                          "oom-score-adj-values",
                          "pidfile",
                          "port",
                          "proc-title-template",
                          "propagation-error-behavior",
                          "protected-mode",
                          "proto-max-bulk-len",
                          "rdb-del-sync-files",
                          "rdb-save-incremental-fsync",
                          "rdbchecksum",
                          "rdbcompression",
                          "repl-backlog-size",
                          "repl-backlog-ttl",
                          "repl-disable-tcp-nodelay",
                          "repl-diskless-load",
                          "repl-diskless-sync",
                          "repl-diskless-sync-delay",
                          "repl-diskless-sync-max-replicas",
                          "repl-ping-replica-period",
                          "repl-ping-slave-period",
                          "repl-timeout",
                          "replica-announce-ip",
                          "replica-announce-port",
                          "replica-announced",
                          "replica-ignore-disk-write-errors",
                          "replica-ignore-maxmemory",
                          "replica-lazy-flush",
                          "replica-priority",
                          "replica-read-only",
                          "replica-serve-stale-data",
                          "replicaof",
                          "requirepass",
                          "sanitize-dump-payload",
                          "save",
                          "server_cpulist",
                          "set-max-intset-entries",
                          "set-proc-title",
                          "shutdown-on-sigint",
                          "shutdown-on-sigterm",
                          "shutdown-timeout",
                          "slave-announce-ip",
                          "slave-announce-port",
                          "slave-ignore-maxmemory",
                          "slave-lazy-flush",
                          "slave-priority",
                          "slave-read-only",
                          "slave-serve-stale-data",
                          "slaveof",
                          "slowlog-log-slower-than",
                          "slowlog-max-len",
                          "socket-mark-id",
                          "stop-writes-on-bgsave-error",
                          "stream-node-max-bytes",
                          "stream-node-max-entries",
                          "supervised",
                          "syslog-enabled",
                          "syslog-facility",
                          "syslog-ident",
                          "tcp-backlog",
                          "tcp-keepalive",
                          "timeout",
                          "tls-auth-clients",
                          "tls-ca-cert-dir",
                          "tls-ca-cert-file",
                          "tls-cert-file",
                          "tls-ciphers",
                          "tls-ciphersuites",
                          "tls-client-cert-file",
                          "tls-client-key-file",
                          "tls-client-key-file-pass",
                          "tls-cluster",
                          "tls-dh-params-file",
                          "tls-key-file",
                          "tls-key-file-pass",
                          "tls-port",
                          "tls-prefer-server-ciphers",
                          "tls-protocols",
                          "tls-replication",
                          "tls-session-cache-size",
                          "tls-session-cache-timeout",
                          "tls-session-caching",
                          "tracking-table-max-keys",
                          "unixsocket",
                          "unixsocketperm",
                          "zset-max-listpack-entries",
                          "zset-max-listpack-value",
                          "zset-max-ziplist-entries",
                          "zset-max-ziplist-value"};
  for (const char* name : kNames) {
    Reply r = Command(c, {"CONFIG", "GET", name});
    auto v = StringsOf(r.get());
    EXPECT_TRUE(v && v->size() == 2 && (*v)[0] == name) << name << ": " << Describe(r);
  }
}

// INFO's sections and fields, with Redis 7.0's names, groups and order.
TEST(ConfigFileTest, InfoHasRedisSectionsAndFields) {
  ServerProcess server({"--shards", "2"});
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  auto headers = [&](std::vector<std::string_view> args) {
    std::vector<std::string_view> cmd = {"INFO"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    Reply r = Command(c, cmd);
    std::string text = StringOf(r.get()).value_or("");
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("# ")) out.push_back(line.substr(2, line.size() - 3));
    }
    return out;
  };
  using V = std::vector<std::string>;
  V default_sections = {"Server", "Clients", "Memory",     "Persistence", "Stats",   "Replication",
                        "CPU",    "Modules", "Errorstats", "Cluster",     "Keyspace"};
  EXPECT_EQ(headers({}), default_sections);
  EXPECT_EQ(headers({"default"}), default_sections);
  V all = {"Server",  "Clients",      "Memory",     "Persistence",  "Stats",   "Replication", "CPU",
           "Modules", "Commandstats", "Errorstats", "Latencystats", "Cluster", "Keyspace"};
  EXPECT_EQ(headers({"all"}), all);
  EXPECT_EQ(headers({"everything"}), all);
  // Redis's order, whatever the order asked.
  EXPECT_EQ(headers({"cluster", "server"}), (V{"Server", "Cluster"}));
  const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> fields = {
      {"server",
       {"redis_version:7.0.15", "redis_mode:standalone", "process_supervised:no", "atomicvar_api:",
        "lru_clock:", "executable:/", "config_file:", "io_threads_active:0", "configured_hz:"}},
      {"clients",
       {"connected_clients:", "maxclients:", "client_recent_max_input_buffer:",
        "client_recent_max_output_buffer:", "clients_in_timeout_table:"}},
      {"persistence",
       {"loading:0", "async_loading:0", "rdb_bgsave_in_progress:0",
        "rdb_last_save_time:", "rdb_last_bgsave_status:ok", "rdb_last_bgsave_time_sec:-1",
        "aof_enabled:0", "aof_rewrite_in_progress:0", "aof_last_bgrewrite_status:ok",
        "aof_last_write_status:ok", "module_fork_in_progress:0"}},
      {"stats",
       {"instantaneous_ops_per_sec:", "instantaneous_input_kbps:", "instantaneous_output_kbps:",
        "total_net_repl_input_bytes:0", "sync_full:0", "evicted_keys:", "evicted_clients:0",
        "latest_fork_usec:0", "total_forks:0", "unexpected_error_replies:0",
        "total_reads_processed:", "total_writes_processed:", "io_threaded_reads_processed:0"}},
      {"replication",
       {"role:master", "connected_slaves:0", "master_failover_state:no-failover", "master_replid:",
        "master_replid2:0000000000000000000000000000000000000000", "master_repl_offset:0",
        "second_repl_offset:-1", "repl_backlog_active:0", "repl_backlog_size:1048576"}},
      {"cpu",
       {"used_cpu_sys:", "used_cpu_user_children:", "used_cpu_sys_main_thread:",
        "used_cpu_user_main_thread:"}},
      {"cluster", {"cluster_enabled:0"}},
  };
  for (const auto& [section, want] : fields) {
    std::string text = "\n" + InfoText(c, section);
    for (std::string_view f : want) {
      EXPECT_THAT(text, HasSubstr(StrCat("\n", f))) << section << " lacks " << f;
    }
  }
  // Read lookups count as hits and misses.
  int64_t hits = InfoField(c.get(), "stats", "keyspace_hits");
  int64_t misses = InfoField(c.get(), "stats", "keyspace_misses");
  ASSERT_GE(hits, 0);
  ASSERT_GE(misses, 0);
  EXPECT_THAT(Command(c, {"SET", "present", "v"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"GET", "present"}), IsBulk("v"));
  EXPECT_THAT(Command(c, {"GET", "present"}), IsBulk("v"));
  EXPECT_THAT(Command(c, {"GET", "absent"}), IsNil());
  EXPECT_EQ(InfoField(c.get(), "stats", "keyspace_hits"), hits + 2);
  EXPECT_EQ(InfoField(c.get(), "stats", "keyspace_misses"), misses + 1);
  // CONFIG RESETSTAT zeroes them, on every shard, as Redis does (and in a transaction).
  EXPECT_THAT(Command(c, {"SET", "gone", "v", "PX", "1"}), IsStatus("OK"));
  EXPECT_TRUE(PollUntil(
      [&] {
        Reply r = Command(c, {"GET", "gone"});
        return r && r->type == REDIS_REPLY_NIL;
      },
      milliseconds(5000)));
  EXPECT_GT(InfoField(c.get(), "stats", "expired_keys"), 0);
  EXPECT_THAT(Command(c, {"CONFIG", "RESETSTAT"}), IsStatus("OK"));
  EXPECT_EQ(InfoField(c.get(), "stats", "keyspace_hits"), 0);
  EXPECT_EQ(InfoField(c.get(), "stats", "keyspace_misses"), 0);
  EXPECT_EQ(InfoField(c.get(), "stats", "expired_keys"), 0);
  EXPECT_THAT(Command(c, {"GET", "present"}), IsBulk("v"));
  EXPECT_THAT(Command(c, {"MULTI"}), IsStatus("OK"));
  EXPECT_THAT(Command(c, {"CONFIG", "RESETSTAT"}), IsStatus("QUEUED"));
  EXPECT_THAT(Command(c, {"EXEC"}), IsArray(::testing::ElementsAre("OK")));
  EXPECT_EQ(InfoField(c.get(), "stats", "keyspace_hits"), 0);
  // Reads and writes are counted as they happen.
  int64_t reads = InfoField(c.get(), "stats", "total_reads_processed");
  int64_t writes = InfoField(c.get(), "stats", "total_writes_processed");
  EXPECT_GT(reads, 0);
  EXPECT_GT(writes, 0);
  EXPECT_GT(InfoField(c.get(), "stats", "total_reads_processed"), reads);
  EXPECT_GT(InfoField(c.get(), "stats", "total_writes_processed"), writes);
}

// expired_stale_perc and its neighbours come from the active expire cycles, as in Redis.
TEST(ConfigFileTest, ActiveExpiryStatsComeFromTheCycles) {
  ServerProcess server({"--shards", "2", "--hz", "100"});
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_THAT(InfoText(c, "stats"), HasSubstr("\r\nexpired_stale_perc:0.00\r\n"));
  // Keys nobody reads again, so only the active cycles can find them expired.
  for (int i = 0; i < 2000; ++i) AppendCommand(c.get(), {"SET", StrCat("t", i), "v", "PX", "20"});
  for (int i = 0; i < 2000; ++i) ASSERT_THAT(GetReply(c.get()), IsStatus("OK"));
  for (int i = 0; i < 200; ++i)
    AppendCommand(c.get(), {"SET", StrCat("long", i), "v", "EX", "1000"});
  for (int i = 0; i < 200; ++i) ASSERT_THAT(GetReply(c.get()), IsStatus("OK"));
  EXPECT_TRUE(PollUntil([&] { return InfoField(c.get(), "stats", "expired_keys") >= 2000; },
                        milliseconds(20000)));
  std::string stats = InfoText(c, "stats");
  size_t at = stats.find("expired_stale_perc:");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GT(strtod(stats.c_str() + at + 19, nullptr), 0.0) << stats;
  EXPECT_GE(InfoField(c.get(), "stats", "expired_time_cap_reached_count"), 0);
  EXPECT_GE(InfoField(c.get(), "stats", "expire_cycle_cpu_milliseconds"), 0);
}

TEST(ConfigFileTest, InstantaneousOpsPerSecFollowsTheLoad) {
  ServerProcess server({"--shards", "2"});
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_TRUE(c);
  EXPECT_EQ(InfoField(c.get(), "stats", "instantaneous_ops_per_sec"), 0);
  // About a second of pipelined PINGs: 16 samples of 100 ms see them.
  auto until = std::chrono::steady_clock::now() + milliseconds(1200);
  int64_t sent = 0;
  while (std::chrono::steady_clock::now() < until) {
    for (int i = 0; i < 500; ++i) AppendCommand(c.get(), {"PING"});
    for (int i = 0; i < 500; ++i) ASSERT_THAT(GetReply(c.get()), IsStatus("PONG"));
    sent += 500;
  }
  int64_t ops = InfoField(c.get(), "stats", "instantaneous_ops_per_sec");
  EXPECT_GT(ops, 0);
  EXPECT_LE(ops, sent * 2) << "rate above what was sent";
  EXPECT_GT(InfoField(c.get(), "stats", "instantaneous_input_kbps"), -1);
  // Idle, the rate falls back (our INFO calls are a few per second at most).
  EXPECT_TRUE(PollUntil(
      [&] {
        timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, nullptr);
        return InfoField(c.get(), "stats", "instantaneous_ops_per_sec") < 10;
      },
      milliseconds(10000)));
}

}  // namespace
}  // namespace omnibus::testing
