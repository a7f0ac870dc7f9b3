// libFuzzer target for the whole command path, in process: parser, router, shards, command
// handlers, fan-out merges and the reply writer. Two servers run for the whole session: a
// reference with 1 shard and a subject with 3. Each input decodes into a short script of
// commands (script.h) that is sent, byte for byte the same, over a fresh TCP connection to
// each; the replies must match byte for byte, except where a reply legitimately depends on
// time, on connection identity or on the number of shards (see Compare below). A difference
// prints the script and both replies and traps. Between inputs the harness restores the
// config it lets scripts change and sends FLUSHALL on another fresh connection.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "omnibus/base/clock.h"
#include "omnibus/base/logging.h"
#include "omnibus/server/server.h"
#include "resp_reply.h"
#include "script.h"

namespace omnibus::fuzz {
namespace {

// How long a reply may take before the harness calls it a hang (a server bug, not a
// timing difference: both servers answer every command it sends).
constexpr int kReplyTimeoutMs = 30000;

// What a harness-side read of one reply gave.
struct Received {
  enum Kind { kReply, kEof, kTimeout, kMalformed } kind = kEof;
  Reply reply;          // for kEof and kMalformed, `raw` holds the bytes left unparsed
  int close_errno = 0;  // kEof: the recv() error that ended the stream, 0 after a FIN
};

// A blocking client connection with a read buffer.
class Client {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) Die("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      // libFuzzer's SIGALRM (its -timeout check) may interrupt connect(), which then goes on
      // in the background: wait for it to finish and take its result.
      if (errno != EINTR) Die("connect");
      pollfd p{fd_, POLLOUT, 0};
      while (poll(&p, 1, kReplyTimeoutMs) < 0 && errno == EINTR) {
      }
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        errno = err;
        Die("connect");
      }
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~Client() { close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Errors (the server closed after QUIT) are ignored: the reads report them.
  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  Received Read() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kReplyTimeoutMs);
    while (true) {
      Received r;
      size_t pos = 0;
      int st = ParseReply(buf_, &pos, &r.reply);
      if (st < 0) {
        r.kind = Received::kMalformed;
        r.reply.raw = buf_;
        return r;
      }
      if (st > 0) {
        buf_.erase(0, pos);
        r.kind = Received::kReply;
        return r;
      }
      if (eof_) {  // kEof; a partial reply stays in buf_ (reported as not a reply)
        r.close_errno = close_errno_;
        r.reply.raw = buf_;
        return r;
      }
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      pollfd p{fd_, POLLIN, 0};
      int ready = left <= 0 ? 0 : poll(&p, 1, left);
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {
        r.kind = Received::kTimeout;
        return r;
      }
      char tmp[65536];
      ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        eof_ = true;
        close_errno_ = n < 0 ? errno : 0;
        continue;
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

 private:
  [[noreturn]] static void Die(const char* what) {
    perror(what);
    abort();
  }

  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
  int close_errno_ = 0;  // why recv() ended the stream: 0 for an orderly close (FIN)
};

// One server and the thread running its reactor.
struct RunningServer {
  std::unique_ptr<Server> server;
  std::thread thread;
};

// One keyspace clock for both servers, frozen for the whole session: a key given a relative
// expiry never expires mid-script, on either server, so no reply depends on the millisecond a
// shard ran a command (a `PEXPIRE k 1` once raced the next batch on one server and not the
// other). Absolute expiries in the past still delete at once.
std::atomic<int64_t> g_clock_ms{0};

RunningServer* StartServer(int shards) {
  Config config;
  config.TEST_clock_ms = &g_clock_ms;
  config.port = 0;  // the kernel picks: nothing to collide with on a shared machine
  config.bind = {"127.0.0.1"};
  config.shards = shards;
  auto* rs = new RunningServer;
  rs->server = std::make_unique<Server>(config);
  std::string error;
  if (!rs->server->Start(&error)) {
    fprintf(stderr, "command_fuzz: server with %d shards did not start: %s\n", shards,
            error.c_str());
    abort();
  }
  rs->thread = std::thread([s = rs->server.get()] { s->Run(); });
  return rs;
}

bool g_text_scripts = false;           // set by LLVMFuzzerInitialize
RunningServer* g_reference = nullptr;  // 1 shard
RunningServer* g_subject = nullptr;    // 3 shards

// At exit, stop the reactors and destroy the servers (which stop their shards) before
// static destructors run under their threads' feet.
void StopServers() {
  for (RunningServer* rs : {g_reference, g_subject}) {
    if (rs == nullptr) continue;
    rs->server->Stop();
    rs->thread.join();
    delete rs;
  }
  g_reference = g_subject = nullptr;
}

void StartServersOnce() {
  if (g_reference != nullptr) return;
  InitLogging(LogLevel::kWarning, "");  // before any server thread runs
  g_clock_ms.store(UnixTimeMs());
  g_reference = StartServer(1);
  g_subject = StartServer(3);
  atexit(StopServers);
}

std::string Describe(const Received& r) {
  switch (r.kind) {
    case Received::kReply:
      return Printable(r.reply.raw);
    case Received::kEof:
      return std::string("(connection closed") +
             (r.close_errno != 0 ? std::string(": ") + strerror(r.close_errno) : "") + ")" +
             (r.reply.raw.empty() ? "" : " after a partial reply: " + Printable(r.reply.raw));
    case Received::kTimeout:
      return "(no reply within the timeout)";
    case Received::kMalformed:
      return "(malformed reply) " + Printable(r.reply.raw);
  }
  return "";
}

bool IsError(const Reply& r) { return r.type == '-' || r.type == '!'; }

// The (name, value) pairs of a CONFIG GET reply without the settings that differ between
// the two servers by construction (port, shards), sorted.
std::vector<std::string> ConfigPairs(const Reply& r) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < r.elems.size(); i += 2) {
    const std::string& name = r.elems[i].str;
    if (name == "port" || name == "shards") continue;
    out.push_back(r.elems[i].raw + r.elems[i + 1].raw);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool SameReply(Compare how, const Reply& a, const Reply& b) {
  if (a.raw == b.raw) return true;
  if (IsError(a) || IsError(b)) return false;  // error texts never depend on shards or time
  switch (how) {
    case Compare::kExact:
      return false;
    case Compare::kType:
      return a.type == b.type;
    case Compare::kSorted: {
      if (a.type != b.type || a.elems.size() != b.elems.size()) return false;
      std::vector<std::string> x, y;
      for (const Reply& e : a.elems) x.push_back(e.raw);
      for (const Reply& e : b.elems) y.push_back(e.raw);
      std::sort(x.begin(), x.end());
      std::sort(y.begin(), y.end());
      return x == y;
    }
    case Compare::kConfigGet:
      return a.type == b.type && ConfigPairs(a) == ConfigPairs(b);
  }
  return false;
}

bool SameReceived(Compare how, const Received& a, const Received& b) {
  if (a.kind != b.kind) return false;
  if (a.kind != Received::kReply) return a.kind == Received::kEof;
  return SameReply(how, a.reply, b.reply);
}

[[noreturn]] void ReportDifference(const Script& script, size_t index, const Received& ref,
                                   const Received& sub) {
  fprintf(stderr, "command_fuzz: replies differ at command %zu\n", index);
  fprintf(stderr, "script:\n%s", DescribeScript(script).c_str());
  fprintf(stderr, "reference (1 shard):  %s\n", Describe(ref).c_str());
  fprintf(stderr, "subject   (3 shards): %s\n", Describe(sub).c_str());
  __builtin_trap();
}

[[noreturn]] void ReportBroken(const Script& script, const std::string& what, const char* which,
                               const Received& r) {
  fprintf(stderr, "command_fuzz: %s server: %s: %s\n", which, what.c_str(), Describe(r).c_str());
  fprintf(stderr, "script:\n%s", DescribeScript(script).c_str());
  __builtin_trap();
}

// Sends the script to one server and collects one reply (or end/timeout) per command; empty
// requests get none (a placeholder kReply). After a protocol error's reply, the server must
// close the connection: what came instead is kept in `after_error`.
std::vector<Received> RunScript(int port, const Script& script, Received* after_error) {
  Client client(port);
  std::vector<Received> out;
  bool stopped = false;
  auto read_replies = [&](size_t upto) {
    while (!stopped && out.size() < upto) {
      if (script.commands[out.size()].kind == Command::kEmpty) {
        out.push_back(Received{Received::kReply, {}, 0});
        continue;
      }
      out.push_back(client.Read());
      stopped = out.back().kind != Received::kReply;
    }
  };
  if (script.mode == Mode::kPipelinedCut) {
    std::string all;
    for (const Command& c : script.commands) all += c.wire;
    size_t start = 0;
    for (size_t cut : script.cuts) {  // separate writes, so the server sees partial input
      if (cut <= start || cut >= all.size()) continue;
      client.Send(std::string_view(all).substr(start, cut - start));
      start = cut;
    }
    client.Send(std::string_view(all).substr(start));
    read_replies(script.commands.size());
  } else {
    // Commands up to the next one that waits (all of them in kOneByOne, the last one in
    // kPipelined) go out in one write; then their replies are read.
    std::string batch;
    for (size_t i = 0; i < script.commands.size() && !stopped; ++i) {
      const Command& c = script.commands[i];
      batch += c.wire;
      if (!c.sync) continue;
      client.Send(batch);
      batch.clear();
      read_replies(i + 1);
    }
  }
  while (out.size() < script.commands.size()) out.push_back(Received{});  // kEof
  if (!stopped && script.commands.back().kind == Command::kProtocolError) {
    *after_error = client.Read();
  }
  return out;
}

// Puts a server back the way every input expects to find it.
void Restore(int port, const char* which) {
  Client client(port);
  std::string wire = EncodeMultibulk(RestoreConfigCommand()) + EncodeMultibulk({"FLUSHALL"});
  client.Send(wire);
  for (int i = 0; i < 2; ++i) {
    Received r = client.Read();
    if (r.kind != Received::kReply || r.reply.raw != "+OK\r\n") {
      fprintf(stderr, "command_fuzz: restoring the %s server failed: %s\n", which,
              Describe(r).c_str());
      __builtin_trap();
    }
  }
}

}  // namespace
}  // namespace omnibus::fuzz

// Text scripts (script.h) are read when the inputs are given files, as regressions are
// replayed, or with COMMAND_FUZZ_SCRIPTS=1; never while fuzzing a corpus directory.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  bool files_only = true, any = false;
  for (int i = 1; i < *argc; ++i) {
    const char* a = (*argv)[i];
    if (a[0] == '-') continue;
    any = true;
    struct stat st;
    if (stat(a, &st) != 0 || !S_ISREG(st.st_mode)) files_only = false;
  }
  omnibus::fuzz::g_text_scripts = (any && files_only) || getenv("COMMAND_FUZZ_SCRIPTS") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace omnibus::fuzz;
  StartServersOnce();
  Script script = DecodeScript(data, size, g_text_scripts);
  if (script.commands.empty()) return 0;
  // COMMAND_FUZZ_PRINT=1 shows each input's script, to turn a reproducer into a redis-cli
  // session.
  static const bool print = getenv("COMMAND_FUZZ_PRINT") != nullptr;
  if (print) fprintf(stderr, "script:\n%s", DescribeScript(script).c_str());
  Received ref_after, sub_after;
  std::vector<Received> ref = RunScript(g_reference->server->port(), script, &ref_after);
  std::vector<Received> sub = RunScript(g_subject->server->port(), script, &sub_after);
  for (size_t i = 0; i < script.commands.size(); ++i) {
    // Besides agreeing, each server must answer every command: scripts hold no CLIENT KILL
    // that can match their own connection, and QUIT or a protocol error comes last and is
    // answered too. So a closed connection is a bug even if both servers close.
    std::string what = "no proper reply to command " + std::to_string(i);
    if (ref[i].kind != Received::kReply) ReportBroken(script, what, "reference", ref[i]);
    if (sub[i].kind != Received::kReply) ReportBroken(script, what, "subject", sub[i]);
    if (!SameReceived(script.commands[i].compare, ref[i], sub[i]))
      ReportDifference(script, i, ref[i], sub[i]);
  }
  // A protocol error closes the connection once its reply is written, as in Redis.
  const char* open = "still open after a protocol error";
  if (ref_after.kind != Received::kEof) ReportBroken(script, open, "reference", ref_after);
  if (sub_after.kind != Received::kEof) ReportBroken(script, open, "subject", sub_after);
  Restore(g_reference->server->port(), "reference");
  Restore(g_subject->server->port(), "subject");
  return 0;
}
