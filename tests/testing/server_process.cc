#include "testing/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "gtest/gtest.h"
#include "omnibus/base/str_cat.h"

#ifndef OMNIBUS_SERVER_BINARY
#error "OMNIBUS_SERVER_BINARY must name the omnibus-server binary"
#endif

namespace omnibus::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSpawnAttempts = 5;

// A loopback port nobody listens on right now. The server binds it a moment later; if another
// process wins that race the caller retries with a new port.
int PickPort() {
  static std::mt19937 rng(static_cast<unsigned>(getpid()) ^
                          static_cast<unsigned>(Clock::now().time_since_epoch().count()));
  int lo = 0, hi = 0;
  if (const char* range = getenv("OMNIBUS_TEST_PORTS")) {
    if (sscanf(range, "%d-%d", &lo, &hi) != 2 || lo <= 0 || hi < lo || hi > 65535) lo = hi = 0;
  }
  for (int attempt = 0; attempt < 200; ++attempt) {
    int candidate = lo > 0 ? lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1)) : 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(candidate));
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      socklen_t len = sizeof(addr);
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
        port = ntohs(addr.sin_port);
    }
    close(fd);
    if (port > 0) return port;
  }
  return 0;
}

int ConnectLoopback(int port, const char* source_ip = nullptr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (source_ip != nullptr) {
    sockaddr_in src{};
    src.sin_family = AF_INET;
    if (inet_pton(AF_INET, source_ip, &src.sin_addr) != 1 ||
        bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) {
      close(fd);
      return -1;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Sends an inline PING and waits for a complete reply line ("+PONG", or an error such as
// NOAUTH: either way the event loop is running).
bool AnswersPing(int fd, Clock::time_point until) {
  static constexpr char kPing[] = "PING\r\n";
  if (send(fd, kPing, sizeof(kPing) - 1, MSG_NOSIGNAL) != sizeof(kPing) - 1) return false;
  std::string got;
  while (got.find("\r\n") == std::string::npos) {
    auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    got.append(buf, static_cast<size_t>(n));
  }
  return got[0] == '+' || got[0] == '-';
}

std::string MakeLogFile() {
  const char* dir = getenv("TEST_TMPDIR");
  if (dir == nullptr) dir = getenv("TMPDIR");
  if (dir == nullptr) dir = "/tmp";
  std::string tmpl = std::string(dir) + "/omnibus-it-XXXXXX";
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return "";
  close(fd);
  return tmpl;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// fork + exec with stdout/stderr redirected to `log_path`. Everything the child needs is
// prepared before fork: between fork and exec only async-signal-safe calls are allowed.
// `max_open_files` (if not 0) becomes the child's RLIMIT_NOFILE; `cpu_affinity` (if not
// empty) the CPUs it may run on; `block_io_uring` makes io_uring_setup fail with EPERM.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log_path,
            rlim_t max_open_files = 0, const std::vector<int>& cpu_affinity = {},
            bool block_io_uring = false) {
  // A seccomp filter as Docker's default profile has: io_uring_setup fails, all else runs.
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog no_uring{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  std::vector<std::string> storage;
  // OMNIBUS_TEST_SERVER runs the tests against another binary instead (e.g. a wrapper that
  // starts redis-server, to check that a test's expectations are Redis's).
  const char* other = getenv("OMNIBUS_TEST_SERVER");
  storage.push_back(other != nullptr && *other != '\0' ? other : OMNIBUS_SERVER_BINARY);
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  int log_fd = open(log_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (log_fd < 0) return -1;
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // If the test binary dies, take the server with it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (null_fd >= 0) dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
#ifdef SYS_close_range
    // Sockets the test holds (hiredis does not set CLOEXEC) must not live on in the server:
    // they would keep connections open and count against a small RLIMIT_NOFILE.
    syscall(SYS_close_range, 3U, ~0U, 0U);
#endif
    if (max_open_files > 0) {
      rlimit rl{max_open_files, max_open_files};
      if (setrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(126);
      // A ceiling the server cannot lift, as for an unprivileged user: a root test run
      // could otherwise raise it again (the server raises its limit to fit maxclients).
      prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0);
    }
    if (!cpu_affinity.empty()) {
      cpu_set_t set;
      CPU_ZERO(&set);
      for (int cpu : cpu_affinity) CPU_SET(cpu, &set);
      if (sched_setaffinity(0, sizeof(set), &set) != 0) _exit(125);
    }
    if (block_io_uring) {
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(124);
      if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &no_uring) != 0) _exit(124);
    }
    // The test process may block SIGTERM in some threads; the server must not inherit that.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  if (null_fd >= 0) close(null_fd);
  return pid;
}

bool WaitPidUntil(pid_t pid, int* status, Clock::time_point until) {
  while (true) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return false;
    if (Clock::now() >= until) return false;
    timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return StrCat("exit status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return StrCat("wait status ", status);
}

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> args, Ready ready)
    : ServerProcess(std::move(args), Options{.ready = ready}) {}

ServerProcess::ServerProcess(std::vector<std::string> args, Options options)
    : args_(std::move(args)), options_(std::move(options)) {
  log_path_ = MakeLogFile();
  if (log_path_.empty()) {
    error_ = "cannot create a log file";
    return;
  }
  if (!options_.config_path.empty()) {
    config_path_ = options_.config_path;
  } else if (!options_.config_text.empty()) {
    config_path_ = MakeLogFile();
    owns_config_ = true;
    std::ofstream out;
    if (!config_path_.empty()) out.open(config_path_, std::ios::binary | std::ios::trunc);
    if (!out.is_open() || !(out << options_.config_text) || !out.flush()) {
      error_ = "cannot write the config file";
      return;
    }
  }
  for (int attempt = 0; attempt < kSpawnAttempts; ++attempt) {
    int port = PickPort();
    if (port == 0) {
      error_ = "no free port";
      return;
    }
    if (SpawnOnce(port)) return;
    if (!error_.empty()) return;  // failed for a reason other than the port
  }
  error_ = "could not bind a port after several attempts; log:\n" + Log();
}

bool ServerProcess::SpawnOnce(int port) {
  std::vector<std::string> args;
  if (!config_path_.empty()) args.push_back(config_path_);
  args.insert(args.end(), {"--port", std::to_string(port), "--bind", "127.0.0.1"});
  // Tests keep the adaptive queue (LIFO reordering under load) but shed nothing unless they
  // say so (a later --queue-shed-ms wins): a sanitizer build's slowness must not turn a
  // correctness test into an overload test. Overload tests set their own.
  const char* other = getenv("OMNIBUS_TEST_SERVER");
  if (other == nullptr || *other == '\0') args.insert(args.end(), {"--queue-shed-ms", "60000"});
  // Every integration test runs over each I/O backend (ctest registers the suite once per
  // backend); a test's own --io-backend comes later and wins.
  const char* backend = getenv("OMNIBUS_TEST_IO_BACKEND");
  if ((other == nullptr || *other == '\0') && backend != nullptr && *backend != '\0') {
    args.insert(args.end(), {"--io-backend", backend});
  }
  args.insert(args.end(), args_.begin(), args_.end());
  pid_ = Spawn(args, log_path_, options_.max_open_files, options_.cpu_affinity,
               options_.block_io_uring);
  status_.reset();
  if (pid_ <= 0) {
    error_ = std::string("fork failed: ") + strerror(errno);
    return false;
  }
  port_ = port;
  bool exited = false;
  if (WaitUntilAccepting(milliseconds(10000), &exited)) {
    // A backend that fell back to another would test the other one: fail instead.
    if (!options_.block_io_uring && Log().find("is not available (") != std::string::npos) {
      error_ = "the server fell back from the I/O backend asked for; log:\n" + Log();
    }
    return true;
  }
  std::string log = Log();
  if (exited && log.find("Address already in use") != std::string::npos) {
    pid_ = -1;  // reaped; retry on another port
    return false;
  }
  if (!exited) {
    kill(pid_, SIGKILL);
    Reap(true);
  }
  error_ = "server did not start (" + (status_ ? DescribeStatus(*status_) : "no status") +
           "); log:\n" + log;
  return false;
}

bool ServerProcess::WaitUntilAccepting(milliseconds deadline, bool* exited) {
  auto until = Clock::now() + deadline;
  while (Clock::now() < until) {
    if (Reap(false)) {
      *exited = true;
      return false;
    }
    int fd = ConnectLoopback(port_);
    if (fd >= 0) {
      bool ready = options_.ready == Ready::kAccepts || AnswersPing(fd, until);
      close(fd);
      if (ready) return true;
    }
    // kAccepts callers want the earliest moment the port is open: poll it more often.
    timespec ts = {0, options_.ready == Ready::kAccepts ? 200 * 1000 : 2 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  return false;
}

bool ServerProcess::Reap(bool block) {
  if (pid_ <= 0 || status_) return status_.has_value();
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) status_ = status;
  return status_.has_value();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !status_) Stop();
  if (pid_ > 0 && status_ && expect_clean_exit_ && !exited_cleanly()) {
    ADD_FAILURE() << "omnibus-server (pid " << pid_
                  << ") did not exit cleanly: " << DescribeStatus(*status_) << "; log tail:\n"
                  << Log().substr(Log().size() > 4000 ? Log().size() - 4000 : 0);
  }
  if (!log_path_.empty()) unlink(log_path_.c_str());
  if (owns_config_) unlink(config_path_.c_str());
}

int ServerProcess::Stop(milliseconds deadline) {
  if (pid_ <= 0) return -1;
  if (!status_) {
    kill(pid_, SIGTERM);
    int status = 0;
    if (WaitPidUntil(pid_, &status, Clock::now() + deadline)) {
      status_ = status;
    } else {
      ADD_FAILURE() << "omnibus-server did not exit within " << deadline.count()
                    << " ms of SIGTERM; killing it";
      kill(pid_, SIGKILL);
      Reap(true);
    }
  }
  return status_.value_or(-1);
}

bool ServerProcess::WaitForExit(milliseconds deadline) {
  if (pid_ <= 0) return false;
  if (status_) return true;
  int status = 0;
  if (!WaitPidUntil(pid_, &status, Clock::now() + deadline)) return false;
  status_ = status;
  return true;
}

bool ServerProcess::exited_cleanly() const {
  return status_ && WIFEXITED(*status_) && WEXITSTATUS(*status_) == 0;
}

std::string ServerProcess::Log() const { return ReadFile(log_path_); }

RedisConn ServerProcess::Connect(milliseconds io_timeout) const {
  timeval tv{static_cast<time_t>(io_timeout.count() / 1000),
             static_cast<suseconds_t>((io_timeout.count() % 1000) * 1000)};
  RedisConn c(redisConnectWithTimeout("127.0.0.1", port_, tv));
  if (c == nullptr || c->err != 0) return nullptr;
  if (redisSetTimeout(c.get(), tv) != REDIS_OK) return nullptr;
  return c;
}

int ServerProcess::ConnectRaw() const { return ConnectLoopback(port_); }

int ServerProcess::ConnectRawFrom(const std::string& source_ip) const {
  return ConnectLoopback(port_, source_ip.c_str());
}

int64_t ServerProcess::ProcStatusKb(std::string_view field) const {
  if (pid_ <= 0) return -1;
  std::ifstream in(StrCat("/proc/", pid_, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > field.size() && std::string_view(line).starts_with(field) &&
        line[field.size()] == ':')
      return strtoll(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return -1;
}

std::optional<int64_t> InfoInt(redisContext* c, std::string_view section, std::string_view field) {
  Reply r = Command(c, {"INFO", section});
  auto text = StringOf(r.get());
  if (!text) return std::nullopt;
  std::string key = StrCat("\n", field, ":");
  size_t pos = ("\n" + *text).find(key);
  if (pos == std::string::npos) return std::nullopt;
  return strtoll(text->c_str() + pos + key.size() - 1, nullptr, 10);
}

std::vector<int64_t> InfoInts(redisContext* c, std::string_view section,
                              const std::vector<std::string_view>& fields) {
  std::vector<int64_t> out(fields.size(), -1);
  Reply r = Command(c, {"INFO", section});
  auto text = StringOf(r.get());
  if (!text) return out;
  std::string padded = "\n" + *text;
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string key = StrCat("\n", fields[i], ":");
    size_t pos = padded.find(key);
    if (pos != std::string::npos) out[i] = strtoll(padded.c_str() + pos + key.size(), nullptr, 10);
  }
  return out;
}

std::optional<int> RunServerToExit(const std::vector<std::string>& args, std::string* output,
                                   milliseconds deadline) {
  std::string log_path = MakeLogFile();
  if (log_path.empty()) return std::nullopt;
  pid_t pid = Spawn(args, log_path);
  if (pid <= 0) return std::nullopt;
  int status = 0;
  bool exited = WaitPidUntil(pid, &status, Clock::now() + deadline);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  if (output != nullptr) *output = ReadFile(log_path);
  unlink(log_path.c_str());
  if (!exited) return std::nullopt;
  return status;
}

void AppendCommand(redisContext* c, const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  argv.reserve(args.size());
  argvlen.reserve(args.size());
  for (std::string_view a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(args.size()), argv.data(), argvlen.data());
}

Reply GetReply(redisContext* c) {
  void* r = nullptr;
  if (c == nullptr || redisGetReply(c, &r) != REDIS_OK) return nullptr;
  return Reply(static_cast<redisReply*>(r));
}

Reply Command(redisContext* c, const std::vector<std::string_view>& args) {
  if (c == nullptr || c->err != 0) return nullptr;
  AppendCommand(c, args);
  return GetReply(c);
}

namespace {
std::string BystanderValue(std::string_view key) { return StrCat("value-of-", key); }
}  // namespace

Bystander::Bystander(const ServerProcess& server, std::string prefix, std::string password)
    : server_(server), prefix_(std::move(prefix)), password_(std::move(password)), conn_(Open()) {}

RedisConn Bystander::Open() const {
  RedisConn c = server_.Connect();
  if (c && !password_.empty()) {
    Reply r = Command(c, {"AUTH", password_});
    if (r == nullptr || r->type != REDIS_REPLY_STATUS) return nullptr;
  }
  return c;
}

::testing::AssertionResult Bystander::Write(int n) {
  if (!conn_) return ::testing::AssertionFailure() << "bystander has no connection";
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) {
    keys.push_back(StrCat(prefix_, ":", acked_.size() + static_cast<size_t>(i)));
    std::string value = BystanderValue(keys.back());
    AppendCommand(conn_.get(), {"SET", keys.back(), value});
  }
  for (const std::string& key : keys) {
    Reply r = GetReply(conn_.get());
    if (r == nullptr || r->type != REDIS_REPLY_STATUS || std::string_view(r->str, r->len) != "OK")
      return ::testing::AssertionFailure() << "bystander SET " << key << " got " << Describe(r);
    acked_.push_back(key);
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Bystander::Served() {
  if (!conn_) return ::testing::AssertionFailure() << "bystander has no connection";
  std::string key = acked_.empty() ? prefix_ + ":none" : acked_.back();
  Reply r = Command(conn_, {"GET", key});
  bool ok = acked_.empty() ? r && r->type == REDIS_REPLY_NIL
                           : r && r->type == REDIS_REPLY_STRING &&
                                 std::string_view(r->str, r->len) == BystanderValue(key);
  if (!ok)
    return ::testing::AssertionFailure() << "bystander GET " << key << " got " << Describe(r);
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Bystander::WritesIntact() const {
  RedisConn c = Open();
  if (!c) return ::testing::AssertionFailure() << "cannot connect to read the writes back";
  constexpr size_t kChunk = 200;
  for (size_t begin = 0; begin < acked_.size(); begin += kChunk) {
    std::vector<std::string_view> args = {"MGET"};
    size_t end = std::min(acked_.size(), begin + kChunk);
    for (size_t i = begin; i < end; ++i) args.push_back(acked_[i]);
    Reply r = Command(c, args);
    if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != end - begin)
      return ::testing::AssertionFailure() << "MGET of acknowledged writes got " << Describe(r);
    for (size_t i = begin; i < end; ++i) {
      const redisReply* e = r->element[i - begin];
      if (e->type != REDIS_REPLY_STRING ||
          std::string_view(e->str, e->len) != BystanderValue(acked_[i]))
        return ::testing::AssertionFailure()
               << "acknowledged write " << acked_[i] << " lost: reads " << Describe(e);
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::string> KeysOverAllShards(const std::string& prefix, int count, int shards) {
  std::vector<std::string> keys;
  std::vector<bool> covered(static_cast<size_t>(shards), false);
  int covered_count = 0;
  for (int i = 0; static_cast<int>(keys.size()) < count; ++i) {
    std::string key = prefix + std::to_string(i);
    auto shard = static_cast<size_t>(KeyShard(key, shards));
    // A key on a new shard first; any keys once every shard is covered.
    if (!covered[shard] || covered_count == shards || i > 10000) {
      if (!covered[shard]) ++covered_count;
      covered[shard] = true;
      keys.push_back(key);
    }
  }
  return keys;
}

int KeyShard(std::string_view key, int num_shards) {
  size_t open = key.find('{');
  if (open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close != open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  uint16_t crc = 0;
  for (unsigned char ch : key) {
    crc ^= static_cast<uint16_t>(ch << 8);
    for (int b = 0; b < 8; ++b)
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
  }
  return (crc & 16383) % num_shards;
}

std::string Describe(const redisReply* r) {
  if (r == nullptr) return "(no reply: connection error)";
  switch (r->type) {
    case REDIS_REPLY_STRING: {
      std::string s = "\"";
      for (size_t i = 0; i < r->len && i < 200; ++i) {
        unsigned char ch = static_cast<unsigned char>(r->str[i]);
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
          s += static_cast<char>(ch);
        } else {
          char buf[8];
          snprintf(buf, sizeof(buf), "\\x%02x", ch);
          s += buf;
        }
      }
      if (r->len > 200) s += StrCat("...(", r->len, " bytes)");
      return s + "\"";
    }
    case REDIS_REPLY_STATUS:
      return StrCat("+", std::string_view(r->str, r->len));
    case REDIS_REPLY_ERROR:
      return StrCat("(error) ", std::string_view(r->str, r->len));
    case REDIS_REPLY_INTEGER:
      return StrCat("(integer) ", r->integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::string s = "[";
      for (size_t i = 0; i < r->elements; ++i) {
        if (i > 0) s += ", ";
        if (i == 20) {
          s += StrCat("... ", r->elements, " elements");
          break;
        }
        s += Describe(r->element[i]);
      }
      return s + "]";
    }
    default:
      return StrCat("(reply type ", r->type, ")");
  }
}

std::optional<std::string> StringOf(const redisReply* r) {
  if (r == nullptr) return std::nullopt;
  if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS &&
      r->type != REDIS_REPLY_ERROR)
    return std::nullopt;
  return std::string(r->str, r->len);
}

std::optional<std::vector<std::string>> StringsOf(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return std::nullopt;
  std::vector<std::string> out;
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    if (e->type == REDIS_REPLY_NIL) {
      out.push_back("<nil>");
    } else if (auto s = StringOf(e)) {
      out.push_back(*s);
    } else if (e->type == REDIS_REPLY_INTEGER) {
      out.push_back(std::to_string(e->integer));
    } else {
      return std::nullopt;
    }
  }
  return out;
}

RawClient::~RawClient() {
  if (fd_ >= 0) close(fd_);
}

bool RawClient::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

ssize_t RawClient::ReadSome(char* buf, size_t cap, Clock::time_point until) {
  while (true) {
    auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
    if (left <= 0) return -1;
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    ssize_t n = recv(fd_, buf, cap, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ECONNRESET) return 0;  // a reset is the peer closing too
    return n;
  }
}

std::string RawClient::ReadExactly(size_t n, milliseconds deadline) {
  auto until = Clock::now() + deadline;
  std::string out;
  char buf[65536];
  while (out.size() < n) {
    ssize_t r = ReadSome(buf, std::min(sizeof(buf), n - out.size()), until);
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

std::string RawClient::ReadUntil(std::string_view suffix, milliseconds deadline) {
  auto until = Clock::now() + deadline;
  std::string out;
  char buf[65536];
  while (!std::string_view(out).ends_with(suffix)) {
    ssize_t r = ReadSome(buf, sizeof(buf), until);
    if (r <= 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

std::string RawClient::ReadToEof(bool* eof, milliseconds deadline) {
  auto until = Clock::now() + deadline;
  std::string out;
  char buf[65536];
  *eof = false;
  while (true) {
    ssize_t r = ReadSome(buf, sizeof(buf), until);
    if (r == 0) {
      *eof = true;
      break;
    }
    if (r < 0) break;
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

bool RawClient::WaitForEof(milliseconds deadline) {
  bool eof = false;
  ReadToEof(&eof, deadline);
  return eof;
}

}  // namespace omnibus::testing
