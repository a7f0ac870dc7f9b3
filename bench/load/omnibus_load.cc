// omnibus-load: a RESP load generator for any Redis-compatible server (issue 11, part 9; the
// open-loop mode is for issue 12).
//
// Closed loop (default): each connection sends a pipeline of --pipeline commands, waits for all
// replies, sends the next; a request's latency runs from its pipeline's send to its reply.
// Open loop (--rate R): requests arrive as a Poisson process of R per second over all
// connections, are sent when they arrive whatever is in flight, and a request's latency runs
// from its *intended* arrival time, so a stalled server or a late client loop shows up as
// latency instead of as fewer requests (no coordinated omission).
//
// Raw sockets and epoll, one event loop per --threads. Prints requests, throughput,
// p50/p99/p99.9/max latency and errors by first word, and ends with one line of JSON.
//
//   omnibus-load --port 6379 --connections 50 --pipeline 1 --seconds 10
//                --keys 1000000 --dist zipf --zipf-s 0.99 --ratio 9:1 --value-size 1024 --prefill
//   omnibus-load --port 6379 --hot-key hot --value-size 102400 --prefill --requests 100000
//   omnibus-load --port 6379 --rate 20000 --seconds 30 --command "SINTERCARD 2 {s__key__}a
//   {s__key__}b"
//                --slo-ms 100 --series --burst-rate 60000 --burst-at 5 --burst-seconds 10
//
// --command sends that command instead of GET/SET, with __key__ replaced by the picked key
// (the key's number when --keys is given). Goodput counts answers that are not errors and
// arrived within --slo-ms of the request's (intended) send; --series prints one JSON line per
// second of intended send time (answered, served, good, errors, p99 of served).
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

[[noreturn]] void Die(const std::string& message) {
  fprintf(stderr, "omnibus-load: %s\n", message.c_str());
  exit(2);
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 6379;
  int connections = 50;
  int pipeline = 1;
  int64_t requests = 100'000;
  double seconds = 0;  // > 0: run for this long instead of a request count
  int64_t keys = 100'000;
  bool zipf = false;
  double zipf_s = 0.99;
  std::string hot_key;  // every request on this key
  int get_weight = 1;
  int set_weight = 0;
  size_t value_size = 3;
  bool prefill = false;
  double rate = 0;  // > 0: open loop, requests per second over all connections
  int threads = 1;
  std::string key_prefix = "key:";
  uint64_t seed = 1;
  std::vector<std::string> command;  // --command, split on spaces; "__key__" is substituted
  double slo_ms = 100;
  bool series = false;
  double burst_rate = 0;  // open loop: this rate from --burst-at for --burst-seconds
  double burst_at = 0;
  double burst_seconds = 0;
};

void Usage() {
  fprintf(stderr,
          "usage: omnibus-load [--host H] [--port P] [--connections N] [--pipeline P]\n"
          "  [--requests R | --seconds S] [--keys K] [--dist uniform|zipf] [--zipf-s S]\n"
          "  [--hot-key NAME] [--ratio GET:SET] [--value-size B] [--prefill] [--rate R]\n"
          "  [--threads T] [--key-prefix P] [--seed N] [--command \"CMD ARGS __key__\"]\n"
          "  [--slo-ms MS] [--series] [--burst-rate R --burst-at S --burst-seconds D]\n"
          "--prefill SETs every key (or the hot key) first; with --requests 0 it only prefills.\n");
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) Die(std::string("missing value for ") + argv[i]);
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--host") {
      o.host = value(i);
    } else if (a == "--port") {
      o.port = std::stoi(value(i));
    } else if (a == "--connections" || a == "-c") {
      o.connections = std::stoi(value(i));
    } else if (a == "--pipeline" || a == "-P") {
      o.pipeline = std::stoi(value(i));
    } else if (a == "--requests" || a == "-n") {
      o.requests = std::stoll(value(i));
    } else if (a == "--seconds") {
      o.seconds = std::stod(value(i));
    } else if (a == "--keys") {
      o.keys = std::stoll(value(i));
    } else if (a == "--dist") {
      std::string d = value(i);
      if (d != "uniform" && d != "zipf") Die("--dist is uniform or zipf");
      o.zipf = d == "zipf";
    } else if (a == "--zipf-s") {
      o.zipf_s = std::stod(value(i));
    } else if (a == "--hot-key") {
      o.hot_key = value(i);
    } else if (a == "--ratio") {
      std::string r = value(i);
      size_t colon = r.find(':');
      if (colon == std::string::npos) Die("--ratio is GET:SET, e.g. 9:1");
      o.get_weight = std::stoi(r.substr(0, colon));
      o.set_weight = std::stoi(r.substr(colon + 1));
      if (o.get_weight < 0 || o.set_weight < 0 || o.get_weight + o.set_weight == 0) {
        Die("--ratio needs a positive weight");
      }
    } else if (a == "--value-size") {
      o.value_size = std::stoul(value(i));
    } else if (a == "--prefill") {
      o.prefill = true;
    } else if (a == "--rate") {
      o.rate = std::stod(value(i));
    } else if (a == "--threads") {
      o.threads = std::stoi(value(i));
    } else if (a == "--key-prefix") {
      o.key_prefix = value(i);
    } else if (a == "--seed") {
      o.seed = std::stoull(value(i));
    } else if (a == "--command") {
      std::string c = value(i);
      size_t pos = 0;
      while (pos < c.size()) {
        size_t end = c.find(' ', pos);
        if (end == std::string::npos) end = c.size();
        if (end > pos) o.command.push_back(c.substr(pos, end - pos));
        pos = end + 1;
      }
      if (o.command.empty()) Die("--command needs a command");
    } else if (a == "--slo-ms") {
      o.slo_ms = std::stod(value(i));
    } else if (a == "--series") {
      o.series = true;
    } else if (a == "--burst-rate") {
      o.burst_rate = std::stod(value(i));
    } else if (a == "--burst-at") {
      o.burst_at = std::stod(value(i));
    } else if (a == "--burst-seconds") {
      o.burst_seconds = std::stod(value(i));
    } else if (a == "--help" || a == "-h") {
      Usage();
      exit(0);
    } else {
      Usage();
      Die("unknown option " + a);
    }
  }
  if (o.connections < 1 || o.pipeline < 1 || o.threads < 1 || o.keys < 1) {
    Die("--connections, --pipeline, --threads and --keys must be at least 1");
  }
  o.threads = std::min(o.threads, o.connections);
  return o;
}

// Latencies in nanoseconds, log-linear buckets: exact below 1024 ns, then 512 buckets per
// power of two (under 0.2% error), up to hours.
class Histogram {
 public:
  Histogram() : counts_(kBuckets, 0) {}
  void Record(int64_t ns) {
    uint64_t v = ns < 0 ? 0 : static_cast<uint64_t>(ns);
    ++counts_[Index(v)];
    ++total_;
    max_ = std::max(max_, v);
  }
  void Merge(const Histogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }
  // The value at quantile q (0..1), in nanoseconds (a bucket's middle).
  double Quantile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
    rank = std::max<uint64_t>(rank, 1);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(Middle(i), static_cast<double>(max_));
    }
    return static_cast<double>(max_);
  }
  uint64_t total() const { return total_; }
  uint64_t max() const { return max_; }

 private:
  static constexpr size_t kBuckets = 1024 + 54 * 512;
  static size_t Index(uint64_t v) {
    if (v < 1024) return v;
    int shift = std::bit_width(v) - 10;  // v >> shift is in [512, 1023]
    return 1024 + static_cast<size_t>(shift - 1) * 512 + ((v >> shift) - 512);
  }
  static double Middle(size_t i) {
    if (i < 1024) return static_cast<double>(i);
    size_t shift = (i - 1024) / 512 + 1;
    uint64_t low = ((i - 1024) % 512 + 512) << shift;
    return static_cast<double>(low) + static_cast<double>(uint64_t{1} << shift) / 2;
  }
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

// Parses one RESP2/RESP3 reply at p[0..n). Returns its length, 0 if incomplete, -1 if it is
// not RESP. `*type` is its first byte; `*line` its first line (the error text of '-').
int64_t ParseReply(const char* p, size_t n, char* type, std::string_view* line) {
  const char* end = static_cast<const char*>(memchr(p, '\n', n));
  if (end == nullptr) return 0;
  if (end == p || end[-1] != '\r') return -1;
  size_t header = static_cast<size_t>(end - p) + 1;
  *type = p[0];
  *line = std::string_view(p + 1, header - 3);
  switch (p[0]) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
      return static_cast<int64_t>(header);
    case '$':
    case '!':
    case '=': {
      int64_t len = strtoll(p + 1, nullptr, 10);
      if (len < 0) return static_cast<int64_t>(header);  // nil
      if (n < header + static_cast<size_t>(len) + 2) return 0;
      return static_cast<int64_t>(header) + len + 2;
    }
    case '*':
    case '%':
    case '~':
    case '>':
    case '|': {
      int64_t count = strtoll(p + 1, nullptr, 10);
      if (p[0] == '%' || p[0] == '|') count *= 2;
      size_t off = header;
      for (int64_t i = 0; i < count; ++i) {
        char t;
        std::string_view l;
        int64_t got = ParseReply(p + off, n - off, &t, &l);
        if (got <= 0) return got;
        off += static_cast<size_t>(got);
      }
      return static_cast<int64_t>(off);
    }
    default:
      return -1;
  }
}

// Which key each request uses.
class KeyPicker {
 public:
  KeyPicker(const Options& o, const std::vector<double>* zipf_cdf) : o_(o), cdf_(zipf_cdf) {}
  int64_t Pick(std::mt19937_64& rng) const {
    if (cdf_ != nullptr) {
      double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
      auto it = std::lower_bound(cdf_->begin(), cdf_->end(), u);
      return std::min<int64_t>(it - cdf_->begin(), o_.keys - 1);
    }
    return static_cast<int64_t>(rng() % static_cast<uint64_t>(o_.keys));
  }

 private:
  const Options& o_;
  const std::vector<double>* cdf_;
};

std::vector<double> ZipfCdf(int64_t keys, double s) {
  std::vector<double> cdf(static_cast<size_t>(keys));
  double sum = 0;
  for (int64_t k = 0; k < keys; ++k) {
    sum += 1.0 / std::pow(static_cast<double>(k + 1), s);
    cdf[static_cast<size_t>(k)] = sum;
  }
  for (double& c : cdf) c /= sum;
  return cdf;
}

void AppendBulk(std::string& out, std::string_view s) {
  out += '$';
  out += std::to_string(s.size());
  out += "\r\n";
  out.append(s);
  out += "\r\n";
}

// One second of a run, by intended send time (--series).
struct Second {
  uint64_t answered = 0;
  uint64_t served = 0;  // not an error
  uint64_t good = 0;    // served within the SLO
  uint64_t errors = 0;
  Histogram served_latency;
};

struct Stats {
  Histogram latency;
  Histogram served_latency;  // answers that were not errors
  uint64_t served = 0;
  uint64_t good = 0;  // served within --slo-ms
  std::vector<std::unique_ptr<Second>> seconds;
  uint64_t completed = 0;
  uint64_t gets = 0;
  uint64_t sets = 0;
  uint64_t hits = 0;  // GETs that found a value
  uint64_t bytes_in = 0;
  uint64_t unanswered = 0;  // sent, never answered (closed connection, drain timeout)
  std::map<std::string, uint64_t> errors;
  int64_t first_send_ns = 0;
  int64_t last_reply_ns = 0;

  void Merge(const Stats& o) {
    latency.Merge(o.latency);
    served_latency.Merge(o.served_latency);
    served += o.served;
    good += o.good;
    for (size_t i = 0; i < o.seconds.size(); ++i) {
      if (o.seconds[i] == nullptr) continue;
      if (seconds.size() <= i) seconds.resize(i + 1);
      if (seconds[i] == nullptr) seconds[i] = std::make_unique<Second>();
      Second& a = *seconds[i];
      const Second& b = *o.seconds[i];
      a.answered += b.answered;
      a.served += b.served;
      a.good += b.good;
      a.errors += b.errors;
      a.served_latency.Merge(b.served_latency);
    }
    completed += o.completed;
    gets += o.gets;
    sets += o.sets;
    hits += o.hits;
    bytes_in += o.bytes_in;
    unanswered += o.unanswered;
    for (const auto& [k, v] : o.errors) errors[k] += v;
    if (o.first_send_ns != 0 && (first_send_ns == 0 || o.first_send_ns < first_send_ns)) {
      first_send_ns = o.first_send_ns;
    }
    last_reply_ns = std::max(last_reply_ns, o.last_reply_ns);
  }
};

int Connect(const Options& o) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(o.host.c_str(), std::to_string(o.port).c_str(), &hints, &res) != 0) {
    Die("cannot resolve " + o.host);
  }
  int fd = -1;
  for (addrinfo* a = res; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0)
    Die("cannot connect to " + o.host + ":" + std::to_string(o.port) + ": " + strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// What one thread runs: its connections, its share of the requests.
struct Workload {
  const Options* o;
  const KeyPicker* keys;
  int connections = 0;
  int64_t requests = 0;     // this thread's share (closed loop with --requests, open loop)
  int64_t deadline_ns = 0;  // > 0: stop sending at this time
  double rate = 0;          // this thread's open-loop rate
  double burst_rate = 0;    // this thread's rate during the burst
  int64_t start_ns = 0;     // the run's start (series seconds, the burst)
  // Prefill: SET keys first_key, first_key + stride, ... below `keys` in order.
  bool prefill = false;
  int64_t first_key = 0;
  int64_t stride = 1;
  uint64_t seed = 1;
};

class Loop {
 public:
  explicit Loop(const Workload& w) : w_(w), o_(*w.o), rng_(w.seed), next_key_(w.first_key) {
    value_.resize(o_.value_size);
    for (size_t i = 0; i < value_.size(); ++i) value_[i] = static_cast<char>('a' + i % 26);
  }

  Stats Run() {
    epoll_ = epoll_create1(0);
    if (epoll_ < 0) Die("epoll_create1");
    for (int i = 0; i < w_.connections; ++i) {
      auto c = std::make_unique<Conn>();
      c->fd = Connect(o_);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = static_cast<uint64_t>(i);
      epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd, &ev);
      conns_.push_back(std::move(c));
    }
    const bool open_loop = w_.rate > 0 && !w_.prefill;
    stats_.first_send_ns = NowNs();
    int timer = -1;
    if (open_loop) {
      timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kTimerTag;
      epoll_ctl(epoll_, EPOLL_CTL_ADD, timer, &ev);
      next_arrival_ns_ = NowNs();
      ArmTimer(timer);
    } else {
      for (size_t i = 0; i < conns_.size(); ++i) SendBatch(i);
    }
    int64_t drain_deadline = 0;
    std::vector<epoll_event> events(256);
    while (Live() > 0) {
      bool sending = MaySend(NowNs());
      if (!sending && InFlight() == 0) break;
      if (!sending) {
        // Drain what is in flight, but not forever (a server that stopped answering).
        if (drain_deadline == 0) drain_deadline = NowNs() + 10'000'000'000LL;
        if (NowNs() > drain_deadline) break;
      }
      int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 100);
      for (int e = 0; e < n; ++e) {
        if (events[e].data.u64 == kTimerTag) {
          uint64_t expirations;
          while (read(timer, &expirations, sizeof expirations) > 0) {
          }
          Arrivals(timer);
          continue;
        }
        size_t i = static_cast<size_t>(events[e].data.u64);
        if (events[e].events & EPOLLOUT) Flush(i);
        if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) Read(i, open_loop);
      }
      // With --seconds the timer may have nothing to wake for: a deadline check per trip.
      if (open_loop && !MaySend(NowNs()) && timer >= 0) {
        close(timer);
        timer = -1;
      }
    }
    for (auto& c : conns_) {
      stats_.unanswered += c->inflight.size();
      if (c->fd >= 0) close(c->fd);
    }
    if (timer >= 0) close(timer);
    close(epoll_);
    return std::move(stats_);
  }

 private:
  static constexpr uint64_t kTimerTag = ~uint64_t{0};
  struct Request {
    int64_t start_ns;
    bool is_get;
  };
  struct Conn {
    int fd = -1;
    std::string out;
    size_t out_off = 0;
    bool want_out = false;
    std::vector<char> in = std::vector<char>(64 * 1024);
    size_t in_begin = 0, in_end = 0;
    std::deque<Request> inflight;
  };

  bool MaySend(int64_t now) const {
    if (w_.deadline_ns > 0 && !w_.prefill) return now < w_.deadline_ns;
    return issued_ < w_.requests;
  }
  size_t Live() const {
    size_t n = 0;
    for (const auto& c : conns_) n += c->fd >= 0 ? 1 : 0;
    return n;
  }
  size_t InFlight() const {
    size_t n = 0;
    for (const auto& c : conns_) n += c->fd >= 0 ? c->inflight.size() : 0;
    return n;
  }

  void AppendRequest(Conn& c, int64_t start_ns) {
    bool is_get;
    std::string key;
    if (w_.prefill) {
      is_get = false;
      key = o_.hot_key.empty() ? o_.key_prefix + std::to_string(next_key_) : o_.hot_key;
      next_key_ += w_.stride;
    } else if (!o_.command.empty()) {
      std::string k = o_.hot_key.empty() ? std::to_string(w_.keys->Pick(rng_)) : o_.hot_key;
      c.out += '*';
      c.out += std::to_string(o_.command.size());
      c.out += "\r\n";
      for (const std::string& arg : o_.command) {
        size_t at = arg.find("__key__");
        AppendBulk(c.out,
                   at == std::string::npos ? arg : arg.substr(0, at) + k + arg.substr(at + 7));
      }
      c.inflight.push_back({start_ns, true});
      ++issued_;
      return;
    } else {
      int total = o_.get_weight + o_.set_weight;
      is_get = static_cast<int>(rng_() % static_cast<uint64_t>(total)) < o_.get_weight;
      key = o_.hot_key.empty() ? o_.key_prefix + std::to_string(w_.keys->Pick(rng_)) : o_.hot_key;
    }
    c.out += is_get ? "*2\r\n$3\r\nGET\r\n" : "*3\r\n$3\r\nSET\r\n";
    AppendBulk(c.out, key);
    if (!is_get) AppendBulk(c.out, value_);
    c.inflight.push_back({start_ns, is_get});
    ++issued_;
  }

  // Closed loop: the next pipeline on connection i, once all of its replies are in.
  void SendBatch(size_t i) {
    Conn& c = *conns_[i];
    if (c.fd < 0) return;
    int64_t now = NowNs();
    for (int k = 0; k < Pipeline() && MaySend(now); ++k) AppendRequest(c, now);
    Flush(i);
  }
  int Pipeline() const { return w_.prefill ? std::max(o_.pipeline, 64) : o_.pipeline; }

  // Open loop: every request whose arrival time has come, round robin over the connections,
  // stamped with its arrival time (not the time it is sent).
  void Arrivals(int timer) {
    int64_t now = NowNs();
    const int64_t burst_from = w_.start_ns + static_cast<int64_t>(o_.burst_at * 1e9);
    const int64_t burst_to = burst_from + static_cast<int64_t>(o_.burst_seconds * 1e9);
    std::exponential_distribution<double> gap(w_.rate / 1e9);
    std::exponential_distribution<double> burst_gap(w_.burst_rate > 0 ? w_.burst_rate / 1e9 : 1);
    std::vector<bool> touched(conns_.size(), false);
    while (next_arrival_ns_ <= now && MaySend(next_arrival_ns_) && Live() > 0) {
      size_t i = next_conn_++ % conns_.size();
      if (conns_[i]->fd < 0) continue;
      AppendRequest(*conns_[i], next_arrival_ns_);
      touched[i] = true;
      const bool burst =
          w_.burst_rate > 0 && next_arrival_ns_ >= burst_from && next_arrival_ns_ < burst_to;
      next_arrival_ns_ += static_cast<int64_t>(burst ? burst_gap(rng_) : gap(rng_)) + 1;
    }
    for (size_t i = 0; i < conns_.size(); ++i) {
      if (touched[i]) Flush(i);
    }
    if (MaySend(next_arrival_ns_)) ArmTimer(timer);
  }
  void ArmTimer(int timer) {
    itimerspec its{};
    its.it_value.tv_sec = next_arrival_ns_ / 1'000'000'000;
    its.it_value.tv_nsec = next_arrival_ns_ % 1'000'000'000;
    timerfd_settime(timer, TFD_TIMER_ABSTIME, &its, nullptr);
  }

  void Flush(size_t i) {
    Conn& c = *conns_[i];
    while (c.out_off < c.out.size()) {
      ssize_t n = write(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Lost(i, "connection-error");
      return;
    }
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
    }
    bool want = c.out_off < c.out.size();
    if (want != c.want_out) {
      epoll_event ev{};
      ev.events = want ? EPOLLIN | EPOLLOUT : EPOLLIN;
      ev.data.u64 = i;
      epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
      c.want_out = want;
    }
  }

  void Read(size_t i, bool open_loop) {
    Conn& c = *conns_[i];
    while (c.fd >= 0) {
      if (c.in.size() - c.in_end < 16 * 1024) {
        if (c.in_begin > 0) {  // make room at the back first
          memmove(c.in.data(), c.in.data() + c.in_begin, c.in_end - c.in_begin);
          c.in_end -= c.in_begin;
          c.in_begin = 0;
        }
        if (c.in.size() - c.in_end < 16 * 1024) c.in.resize(c.in.size() * 2);
      }
      ssize_t n = read(c.fd, c.in.data() + c.in_end, c.in.size() - c.in_end);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        Lost(i, "connection-closed");
        return;
      }
      if (n < 0) break;
      c.in_end += static_cast<size_t>(n);
      stats_.bytes_in += static_cast<uint64_t>(n);
      int64_t now = NowNs();
      while (c.in_begin < c.in_end) {
        char type;
        std::string_view line;
        int64_t len = ParseReply(c.in.data() + c.in_begin, c.in_end - c.in_begin, &type, &line);
        if (len == 0) break;
        if (len < 0 || c.inflight.empty()) {
          Lost(i, "protocol-error");
          return;
        }
        Complete(c, type, line, now);
        c.in_begin += static_cast<size_t>(len);
      }
      if (c.in_begin == c.in_end) c.in_begin = c.in_end = 0;
      if (!open_loop && c.inflight.empty()) SendBatch(i);
    }
  }

  void Complete(Conn& c, char type, std::string_view line, int64_t now) {
    Request r = c.inflight.front();
    c.inflight.pop_front();
    const int64_t latency = now - r.start_ns;
    stats_.latency.Record(latency);
    ++stats_.completed;
    ++(r.is_get ? stats_.gets : stats_.sets);
    stats_.last_reply_ns = now;
    Second* second = nullptr;
    if (o_.series) {
      auto s = static_cast<size_t>(std::max<int64_t>(0, r.start_ns - w_.start_ns) / 1'000'000'000);
      if (stats_.seconds.size() <= s) stats_.seconds.resize(s + 1);
      if (stats_.seconds[s] == nullptr) stats_.seconds[s] = std::make_unique<Second>();
      second = stats_.seconds[s].get();
      ++second->answered;
    }
    if (type == '-' || type == '!') {
      ++stats_.errors[std::string(line.substr(0, line.find(' ')))];
      if (second != nullptr) ++second->errors;
      return;
    }
    if (r.is_get && type == '$' && line != "-1") ++stats_.hits;
    ++stats_.served;
    stats_.served_latency.Record(latency);
    const bool good = static_cast<double>(latency) <= o_.slo_ms * 1e6;
    stats_.good += good ? 1 : 0;
    if (second != nullptr) {
      ++second->served;
      second->good += good ? 1 : 0;
      second->served_latency.Record(latency);
    }
  }

  void Lost(size_t i, const char* why) {
    Conn& c = *conns_[i];
    if (c.fd < 0) return;
    stats_.unanswered += c.inflight.size();
    c.inflight.clear();
    ++stats_.errors[why];
    epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
  }

  const Workload& w_;
  const Options& o_;
  std::mt19937_64 rng_;
  std::string value_;
  int epoll_ = -1;
  std::vector<std::unique_ptr<Conn>> conns_;
  Stats stats_;
  int64_t issued_ = 0;
  int64_t next_key_;
  int64_t next_arrival_ns_ = 0;
  size_t next_conn_ = 0;
};

// Splits the work over the threads, runs them, merges what they measured.
Stats RunThreads(const Options& o, const KeyPicker& keys, bool prefill) {
  int threads = prefill ? std::min(o.threads, 8) : o.threads;
  int connections = prefill ? std::min(o.connections, threads) : o.connections;
  int64_t total = prefill ? (o.hot_key.empty() ? o.keys : 1) : o.requests;
  const int64_t start = NowNs();
  int64_t deadline = !prefill && o.seconds > 0 ? start + static_cast<int64_t>(o.seconds * 1e9) : 0;
  std::vector<Workload> work(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    Workload& w = work[static_cast<size_t>(t)];
    w.o = &o;
    w.keys = &keys;
    w.connections = connections / threads + (t < connections % threads ? 1 : 0);
    w.requests = total / threads + (t < total % threads ? 1 : 0);
    w.deadline_ns = deadline;
    w.rate = o.rate / threads;
    w.burst_rate = o.burst_rate / threads;
    w.start_ns = start;
    w.prefill = prefill;
    w.first_key = t;
    w.stride = threads;
    w.seed = o.seed * 1000 + static_cast<uint64_t>(t);
  }
  std::vector<Stats> results(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      Loop loop(work[static_cast<size_t>(t)]);
      results[static_cast<size_t>(t)] = loop.Run();
    });
  }
  for (std::thread& t : pool) t.join();
  Stats all;
  for (const Stats& s : results) all.Merge(s);
  return all;
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    out += ch;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Options o = ParseOptions(argc, argv);
  std::vector<double> cdf;
  if (o.zipf && o.hot_key.empty()) cdf = ZipfCdf(o.keys, o.zipf_s);
  KeyPicker keys(o, cdf.empty() ? nullptr : &cdf);

  if (o.prefill) {
    int64_t start = NowNs();
    Stats p = RunThreads(o, keys, true);
    double secs = static_cast<double>(NowNs() - start) / 1e9;
    fprintf(stderr, "prefill: %llu SETs of %zu bytes in %.2f s\n",
            static_cast<unsigned long long>(p.completed), o.value_size, secs);
    if (!p.errors.empty() || p.unanswered > 0) Die("prefill failed");
  }
  if (o.requests <= 0 && o.seconds <= 0) return 0;

  Stats s = RunThreads(o, keys, false);
  double elapsed = static_cast<double>(s.last_reply_ns - s.first_send_ns) / 1e9;
  if (elapsed <= 0) elapsed = 1e-9;
  double throughput = static_cast<double>(s.completed) / elapsed;
  auto us = [&](double q) { return s.latency.Quantile(q) / 1000.0; };
  uint64_t errors = 0;
  for (const auto& [k, v] : s.errors) errors += v;

  const char* mode = o.rate > 0 ? "open" : "closed";
  printf("%s loop, %d connections x pipeline %d, %d thread(s)\n", mode, o.connections, o.pipeline,
         o.threads);
  printf("requests:    %llu (%llu GET, %llu SET; %llu GET hits) in %.3f s\n",
         static_cast<unsigned long long>(s.completed), static_cast<unsigned long long>(s.gets),
         static_cast<unsigned long long>(s.sets), static_cast<unsigned long long>(s.hits), elapsed);
  printf("throughput:  %.0f requests/s, %.1f MB/s received\n", throughput,
         static_cast<double>(s.bytes_in) / elapsed / 1e6);
  printf("latency us:  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", us(0.5), us(0.99), us(0.999),
         static_cast<double>(s.latency.max()) / 1000.0);
  printf("errors:      %llu", static_cast<unsigned long long>(errors));
  for (const auto& [k, v] : s.errors)
    printf("  %s=%llu", k.c_str(), static_cast<unsigned long long>(v));
  printf("; unanswered %llu\n", static_cast<unsigned long long>(s.unanswered));

  if (o.series) {
    for (size_t i = 0; i < s.seconds.size(); ++i) {
      const Second* sec = s.seconds[i].get();
      if (sec == nullptr) continue;
      printf(
          "{\"second\":%zu,\"answered\":%llu,\"served\":%llu,\"good\":%llu,\"errors\":%llu,"
          "\"served_p99_us\":%.1f}\n",
          i, static_cast<unsigned long long>(sec->answered),
          static_cast<unsigned long long>(sec->served), static_cast<unsigned long long>(sec->good),
          static_cast<unsigned long long>(sec->errors),
          sec->served_latency.Quantile(0.99) / 1000.0);
    }
  }
  printf("served:      %llu (within %.0f ms: %llu, goodput %.0f/s); served p99 %.1f us\n",
         static_cast<unsigned long long>(s.served), o.slo_ms,
         static_cast<unsigned long long>(s.good), static_cast<double>(s.good) / elapsed,
         s.served_latency.Quantile(0.99) / 1000.0);
  std::string json = "{\"mode\":\"" + std::string(mode) + "\"";
  auto field = [&](const char* name, double v, const char* fmt = "%.0f") {
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    json += ",\"" + std::string(name) + "\":" + buf;
  };
  field("connections", o.connections);
  field("pipeline", o.pipeline);
  field("threads", o.threads);
  field("rate", o.rate);
  field("requests", static_cast<double>(s.completed));
  field("gets", static_cast<double>(s.gets));
  field("sets", static_cast<double>(s.sets));
  field("hits", static_cast<double>(s.hits));
  field("seconds", elapsed, "%.6f");
  field("throughput", throughput, "%.1f");
  field("p50_us", us(0.5), "%.1f");
  field("p99_us", us(0.99), "%.1f");
  field("p999_us", us(0.999), "%.1f");
  field("max_us", static_cast<double>(s.latency.max()) / 1000.0, "%.1f");
  field("bytes_in", static_cast<double>(s.bytes_in));
  field("served", static_cast<double>(s.served));
  field("good", static_cast<double>(s.good));
  field("slo_ms", o.slo_ms, "%.1f");
  field("goodput", static_cast<double>(s.good) / elapsed, "%.1f");
  field("served_p50_us", s.served_latency.Quantile(0.5) / 1000.0, "%.1f");
  field("served_p99_us", s.served_latency.Quantile(0.99) / 1000.0, "%.1f");
  field("unanswered", static_cast<double>(s.unanswered));
  json += ",\"errors\":{";
  bool first = true;
  for (const auto& [k, v] : s.errors) {
    if (!first) json += ",";
    first = false;
    json += JsonString(k) + ":" + std::to_string(v);
  }
  json += "}}";
  printf("%s\n", json.c_str());
  return errors > 0 || s.unanswered > 0 ? 1 : 0;
}
