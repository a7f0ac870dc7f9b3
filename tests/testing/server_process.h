// Test fixture that runs the real omnibus-server binary as a child process, plus hiredis and
// raw-socket helpers to talk to it. Used by tests/integration/*_test.cc.
#pragma once

#include <hiredis/hiredis.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"

namespace omnibus::testing {

using std::chrono::milliseconds;

struct RedisContextDeleter {
  void operator()(redisContext* c) const {
    if (c != nullptr) redisFree(c);
  }
};
using RedisConn = std::unique_ptr<redisContext, RedisContextDeleter>;

struct RedisReplyDeleter {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, RedisReplyDeleter>;

// One omnibus-server child process on a loopback port of its own.
//
// Ports: by default the kernel picks a free one (bind port 0, then pass it with --port). Set
// OMNIBUS_TEST_PORTS=LO-HI to pick from a fixed range instead (shared machines where each
// user has a range). If the server still fails to bind (someone took the port in between),
// it is restarted on another port.
class ServerProcess {
 public:
  enum class Ready {
    kAnswers,  // the server answered a PING (with anything): it is in its event loop
    kAccepts,  // the port accepts a connection (the server may still be starting up)
  };
  // How to start the server beyond its command-line arguments.
  struct Options {
    Ready ready = Ready::kAnswers;
    // If not empty: written to a temporary file passed as the config file (the first
    // argument, before every --option, as redis-server expects it).
    std::string config_text;
    // An existing config file to start with (passed first, as redis-server's; kept after the
    // server stops, so a test can read what CONFIG REWRITE made of it).
    std::string config_path;
    // If not 0: the child's RLIMIT_NOFILE (soft and hard) before exec, e.g. to make the
    // server run out of descriptors.
    rlim_t max_open_files = 0;
    // If not empty: the CPUs the child may run on (sched_setaffinity before exec, as
    // `taskset -c` would), e.g. to check the default shard count follows the mask.
    std::vector<int> cpu_affinity;
    // If true: io_uring_setup fails with EPERM in the child (a seccomp filter, as Docker's
    // default profile has), e.g. to check the fall-back to epoll.
    bool block_io_uring = false;
  };

  // Starts the server with `args` appended (e.g. {"--shards", "2"}) and waits until it is
  // `ready`. Check ok() (or ASSERT_TRUE(server.ok()) << server.error()).
  explicit ServerProcess(std::vector<std::string> args = {}, Ready ready = Ready::kAnswers);
  ServerProcess(std::vector<std::string> args, Options options);
  // Stops the server (SIGTERM) if it still runs. Unless ExpectUncleanExit() was called, a
  // server that does not exit with status 0 fails the current test.
  ~ServerProcess();

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool ok() const { return pid_ > 0 && error_.empty(); }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // A hiredis connection (blocking, with a generous I/O timeout). Null on failure.
  RedisConn Connect(milliseconds io_timeout = milliseconds(20000)) const;
  // A raw, blocking TCP socket to the server, or -1.
  int ConnectRaw() const;
  // Like ConnectRaw, from the local address `source_ip` (e.g. "127.0.0.2", to look like a
  // client that is not 127.0.0.1).
  int ConnectRawFrom(const std::string& source_ip) const;

  // A field of /proc/PID/status in kB ("VmRSS", "VmHWM" for the peak), or -1.
  int64_t ProcStatusKb(std::string_view field) const;

  // Sends SIGTERM and waits up to `deadline` (then SIGKILL). Returns the wait status.
  int Stop(milliseconds deadline = milliseconds(10000));
  // Waits for the process to exit by itself (e.g. after SHUTDOWN). False on timeout.
  bool WaitForExit(milliseconds deadline);
  bool running() const { return pid_ > 0 && !status_.has_value(); }
  // The wait status once the process has exited.
  std::optional<int> wait_status() const { return status_; }
  // True if the process exited normally with status 0.
  bool exited_cleanly() const;
  // For tests that make the server exit with an error on purpose.
  void ExpectUncleanExit() { expect_clean_exit_ = false; }

  // Everything the server wrote to stderr/stdout so far.
  std::string Log() const;
  const std::string& log_path() const { return log_path_; }

 private:
  bool SpawnOnce(int port);
  bool WaitUntilAccepting(milliseconds deadline, bool* exited);
  bool Reap(bool block);

  std::vector<std::string> args_;
  Options options_;
  std::string config_path_;
  bool owns_config_ = false;  // config_path_ is a file this object wrote (and removes)
  pid_t pid_ = -1;
  int port_ = 0;
  std::optional<int> status_;
  std::string log_path_;
  std::string error_;
  bool expect_clean_exit_ = true;
};

// Runs the server binary with `args` to completion (for options that make it exit at once).
// Returns the wait status, or nullopt if it did not exit within `deadline` (it is killed).
// `output` receives stdout and stderr.
std::optional<int> RunServerToExit(const std::vector<std::string>& args, std::string* output,
                                   milliseconds deadline = milliseconds(10000));

// An integer field of `INFO section` (e.g. InfoInt(c, "stats", "rejected_connections")), or
// nullopt if the reply has no such field.
std::optional<int64_t> InfoInt(redisContext* c, std::string_view section, std::string_view field);
// Several integer fields of one `INFO section` reply (-1 for a missing one): fields that must
// be read at the same instant (used_memory less mem_clients_normal).
std::vector<int64_t> InfoInts(redisContext* c, std::string_view section,
                              const std::vector<std::string_view>& fields);

// Sends one command, binary safe (argv + argvlen). Null if the connection failed.
Reply Command(redisContext* c, const std::vector<std::string_view>& args);
inline Reply Command(const RedisConn& c, const std::vector<std::string_view>& args) {
  return Command(c.get(), args);
}
// Reads one reply (after redisAppendCommandArgv). Null if the connection failed.
Reply GetReply(redisContext* c);
void AppendCommand(redisContext* c, const std::vector<std::string_view>& args);

// A readable rendering of a reply for failure messages, e.g. `"v"`, `(integer) 3`, `(nil)`,
// `(error) ERR x`, `[ "a", (nil) ]`.
std::string Describe(const redisReply* r);
inline std::string Describe(const Reply& r) { return Describe(r.get()); }

// The reply's string payload for STRING/STATUS/ERROR, otherwise nullopt.
std::optional<std::string> StringOf(const redisReply* r);
// The elements of an array reply of bulk strings (nil elements become "<nil>").
std::optional<std::vector<std::string>> StringsOf(const redisReply* r);

inline const redisReply* RawReply(const redisReply* r) { return r; }
inline const redisReply* RawReply(const Reply& r) { return r.get(); }

// gmock matchers on a Reply (or redisReply*).
MATCHER_P(IsBulk, expected, "is bulk string \"" + std::string(expected) + "\"") {
  const redisReply* r = RawReply(arg);
  *result_listener << "reply is " << Describe(r);
  return r != nullptr && r->type == REDIS_REPLY_STRING &&
         std::string_view(r->str, r->len) == std::string_view(expected);
}
MATCHER_P(IsStatus, expected, "is status +" + std::string(expected)) {
  const redisReply* r = RawReply(arg);
  *result_listener << "reply is " << Describe(r);
  return r != nullptr && r->type == REDIS_REPLY_STATUS &&
         std::string_view(r->str, r->len) == std::string_view(expected);
}
MATCHER_P(IsInt, expected, "is integer " + ::testing::PrintToString(expected)) {
  const redisReply* r = RawReply(arg);
  *result_listener << "reply is " << Describe(r);
  return r != nullptr && r->type == REDIS_REPLY_INTEGER &&
         r->integer == static_cast<long long>(expected);
}
MATCHER(IsNil, "is nil") {
  const redisReply* r = RawReply(arg);
  *result_listener << "reply is " << Describe(r);
  return r != nullptr && r->type == REDIS_REPLY_NIL;
}
// Exact error text, without the leading '-'.
MATCHER_P(IsError, expected, "is error -" + std::string(expected)) {
  const redisReply* r = RawReply(arg);
  *result_listener << "reply is " << Describe(r);
  return r != nullptr && r->type == REDIS_REPLY_ERROR &&
         std::string_view(r->str, r->len) == std::string_view(expected);
}
MATCHER_P(IsErrorStartingWith, prefix, "is error starting with -" + std::string(prefix)) {
  const redisReply* r = RawReply(arg);
  *result_listener << "reply is " << Describe(r);
  return r != nullptr && r->type == REDIS_REPLY_ERROR &&
         std::string_view(r->str, r->len).starts_with(std::string_view(prefix));
}
// An array whose elements (as StringsOf renders them) match `m`, e.g.
// IsArray(ElementsAre("a", "<nil>")).
MATCHER_P(IsArray, m,
          "is an array that " + ::testing::DescribeMatcher<std::vector<std::string>>(m)) {
  const redisReply* r = RawReply(arg);
  auto strings = StringsOf(r);
  if (!strings) {
    *result_listener << "reply is " << Describe(r);
    return false;
  }
  return ::testing::ExplainMatchResult(m, *strings, result_listener);
}

// A raw TCP client for bytes hiredis would not send (protocol errors, inline commands).
class RawClient {
 public:
  explicit RawClient(int fd) : fd_(fd) {}
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool Send(std::string_view bytes);
  // Reads until `n` bytes arrived, EOF, or the deadline. Returns what was read.
  std::string ReadExactly(size_t n, milliseconds deadline = milliseconds(5000));
  // Reads until the input ends with `suffix` (or EOF/deadline).
  std::string ReadUntil(std::string_view suffix, milliseconds deadline = milliseconds(5000));
  // Reads until EOF or the deadline; *eof tells which.
  std::string ReadToEof(bool* eof, milliseconds deadline = milliseconds(5000));
  // True if the peer closed (EOF or reset) within the deadline; data before it is discarded.
  bool WaitForEof(milliseconds deadline = milliseconds(5000));

 private:
  // One read with a poll timeout: >0 bytes, 0 on EOF, -1 on timeout/error.
  ssize_t ReadSome(char* buf, size_t cap, std::chrono::steady_clock::time_point until);
  int fd_;
};

// A well-behaved client beside an offender: it must keep being served, and every write the
// server acknowledged to it must still be there at the end.
class Bystander {
 public:
  // With a `password`, each of its connections AUTHenticates first.
  Bystander(const ServerProcess& server, std::string prefix, std::string password = "");
  bool ok() const { return conn_ != nullptr; }
  // SETs `n` more keys (their names spread over every shard) in one pipeline and remembers
  // those the server acknowledged with +OK; fails unless all were.
  ::testing::AssertionResult Write(int n = 10);
  // One round trip through a shard: GET of its latest acknowledged key.
  ::testing::AssertionResult Served();
  // Reads every acknowledged write back on a new connection (the old one may be what a test
  // is about).
  ::testing::AssertionResult WritesIntact() const;
  size_t acknowledged() const { return acked_.size(); }
  redisContext* get() const { return conn_.get(); }

 private:
  RedisConn Open() const;

  const ServerProcess& server_;
  std::string prefix_;
  std::string password_;
  RedisConn conn_;
  std::vector<std::string> acked_;  // keys; each one's value is ValueOf(key)
};

// The shard omnibus routes `key` to with `num_shards` shards: Redis Cluster's hash slot
// (CRC16-XMODEM of the key or its {hash tag}, mod 16384), mod the shard count. Tests use it
// to make sure a multi-key command really spans several shards.
int KeyShard(std::string_view key, int num_shards);

// `count` keys named prefix0, prefix1, ... that together cover every shard (when count
// allows), so a command over all of them must span every shard.
std::vector<std::string> KeysOverAllShards(const std::string& prefix, int count, int shards);

// A test parameterized by shard count; starts a server with `--shards N` in SetUp.
class ShardedServerTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { StartServer({}); }
  // Restarts with extra arguments (after --shards N).
  void StartServer(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--shards", std::to_string(GetParam())};
    args.insert(args.end(), extra.begin(), extra.end());
    server_.reset();
    server_ = std::make_unique<ServerProcess>(std::move(args));
    ASSERT_TRUE(server_->ok()) << server_->error();
  }
  int shards() const { return GetParam(); }

  std::unique_ptr<ServerProcess> server_;
};

// Names the parameterized instances "Shards1", "Shards2", ...
inline std::string ShardsName(const ::testing::TestParamInfo<int>& info) {
  return "Shards" + std::to_string(info.param);
}

// An INFO field as an integer (-1 if absent).
inline int64_t InfoField(redisContext* c, std::string_view section, std::string_view field) {
  Reply r = Command(c, {"INFO", section});
  auto text = StringOf(r.get());
  if (!text) return -1;
  std::string needle = "\r\n" + std::string(field) + ":";
  size_t pos = ("\r\n" + *text).find(needle);
  if (pos == std::string::npos) return -1;
  return strtoll(text->c_str() + pos + needle.size() - 2, nullptr, 10);
}

// Polls `cond` every few milliseconds until it is true or `deadline` passes.
template <typename Cond>
bool PollUntil(Cond cond, milliseconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    // A short yield between polls; the condition, not this pause, is what the test waits on.
    timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
}

}  // namespace omnibus::testing
