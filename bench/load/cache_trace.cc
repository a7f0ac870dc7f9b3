// omnibus-cache-trace: replays a key trace as a cache-aside workload through any RESP server
// and reports the hit ratio (issue 13, part 3).
//
// For each request of the trace: GET key; on a miss (nil), SET key value. Requests are
// pipelined on one connection with up to --window GETs in flight. A server answers one
// connection in order, so the pipelined replay differs from a one-at-a-time replay only where
// a key is requested again while an earlier GET of it that missed is still unanswered (its SET
// is not sent yet): that later GET answers nil although, one at a time, it would have found the
// value. Such a GET is "overtaken": its nil is not counted, and it is sent again after the SET
// (so the server also sees the access in the right order). The result is the hit ratio of the
// sequential cache-aside replay, up to the reordering of requests to *different* keys within
// one window.
//
// Traces are generated from --seed (the same seed gives the same trace) or read from a file:
//   zipf   --keys N --zipf-s S             keys ranked 1..N, P(rank r) ~ 1 / r^S
//   scan   zipf as above, mixed with bursts of --scan-len keys never requested again, so that
//          --scan-fraction of all requests are scan keys
//   loop   keys 0..--loop-len-1, cyclically
//   file   --file PATH, one key per line
// The hit ratio is reported over the requests after the warm-up (--warmup, the first half of
// the trace by default, as the caching literature reports steady state), next to the ratio over
// the whole trace and to the infinite-cache ratio (a request hits an infinite cache when its
// key was requested before: no policy at any size does better). At the end it reads INFO for
// evicted_keys, used_memory, maxmemory and maxmemory_policy. The last output line is JSON.
//
//   omnibus-cache-trace --port 6379 --trace zipf --zipf-s 1.0 --keys 1000000 --requests 5000000
//   omnibus-cache-trace --port 6379 --trace scan --scan-fraction 0.3 --scan-len 20000
//   omnibus-cache-trace --port 6379 --trace loop --loop-len 1000000 --flushall
//   omnibus-cache-trace --trace zipf --zipf-s 0.8 --dump-trace zipf08.trace   (no server)
#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

[[noreturn]] void Die(const std::string& message) {
  fprintf(stderr, "omnibus-cache-trace: %s\n", message.c_str());
  exit(2);
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string trace = "zipf";
  int64_t keys = 1'000'000;
  int64_t requests = 5'000'000;
  double zipf_s = 1.0;
  double scan_fraction = 0.3;
  int64_t scan_len = 20'000;
  int64_t loop_len = 0;  // 0: --keys
  std::string file;
  uint64_t seed = 1;
  size_t value_size = 200;
  int window = 64;
  double warmup = 0.5;
  std::string key_prefix = "ct:";
  bool flushall = false;
  bool quiet = false;
  std::string dump;  // write the trace here, one key per line, and exit
};

void Usage() {
  fprintf(stderr,
          "usage: omnibus-cache-trace [--host H] [--port P] [--trace zipf|scan|loop|file]\n"
          "  [--keys N] [--requests R] [--zipf-s S] [--scan-fraction F] [--scan-len K]\n"
          "  [--loop-len L] [--file PATH] [--seed N] [--value-size B] [--window W]\n"
          "  [--warmup FRACTION] [--key-prefix P] [--flushall] [--quiet] [--dump-trace PATH]\n"
          "Cache-aside replay (GET, on a miss SET) of the trace; prints hits, misses, hit ratio\n"
          "after the warm-up, requests/s, evicted_keys and used_memory; the last line is JSON.\n"
          "--dump-trace writes the trace as a file trace (one key per line) and exits.\n");
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
    } else if (a == "--trace") {
      o.trace = value(i);
    } else if (a == "--keys") {
      o.keys = std::stoll(value(i));
    } else if (a == "--requests" || a == "-n") {
      o.requests = std::stoll(value(i));
    } else if (a == "--zipf-s") {
      o.zipf_s = std::stod(value(i));
    } else if (a == "--scan-fraction") {
      o.scan_fraction = std::stod(value(i));
    } else if (a == "--scan-len") {
      o.scan_len = std::stoll(value(i));
    } else if (a == "--loop-len") {
      o.loop_len = std::stoll(value(i));
    } else if (a == "--file") {
      o.file = value(i);
    } else if (a == "--seed") {
      o.seed = std::stoull(value(i));
    } else if (a == "--value-size") {
      o.value_size = std::stoul(value(i));
    } else if (a == "--window" || a == "-P") {
      o.window = std::stoi(value(i));
    } else if (a == "--warmup") {
      o.warmup = std::stod(value(i));
    } else if (a == "--key-prefix") {
      o.key_prefix = value(i);
    } else if (a == "--flushall") {
      o.flushall = true;
    } else if (a == "--dump-trace") {
      o.dump = value(i);
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "--help" || a == "-h") {
      Usage();
      exit(0);
    } else {
      Usage();
      Die("unknown option " + a);
    }
  }
  if (o.trace != "zipf" && o.trace != "scan" && o.trace != "loop" && o.trace != "file") {
    Die("--trace is zipf, scan, loop or file");
  }
  if (o.trace == "file" && o.file.empty()) Die("--trace file needs --file PATH");
  if (!o.file.empty()) o.trace = "file";
  if (o.keys < 1 || o.keys > UINT32_MAX / 2) Die("--keys must be in 1..2^31");
  if (o.requests < 1 || o.requests > UINT32_MAX / 2) Die("--requests must be in 1..2^31");
  if (o.window < 1) Die("--window must be at least 1");
  if (o.warmup < 0 || o.warmup >= 1) Die("--warmup is a fraction in [0, 1)");
  if (o.scan_fraction <= 0 || o.scan_fraction >= 1) Die("--scan-fraction is in (0, 1)");
  if (o.scan_len < 1) Die("--scan-len must be at least 1");
  if (o.loop_len == 0) o.loop_len = o.keys;
  if (o.loop_len < 1 || o.loop_len > UINT32_MAX / 2) Die("--loop-len must be in 1..2^31");
  return o;
}

// The trace: one key id per request. Generated keys are prefix + the id in ten digits, so every
// key has the same size whatever its rank; a file's keys are kept as read.
struct Trace {
  std::vector<uint32_t> requests;
  uint32_t id_count = 0;           // ids are 0..id_count-1
  std::vector<std::string> names;  // file traces only
  std::string description;
};

// Uniform double in [0, 1) from the top 53 bits (std::uniform_real_distribution is not
// specified bit for bit, and the trace must be the same wherever it is generated).
double Uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Zipf sampler over ranks 0..n-1 by inverse CDF (exact; n doubles of table).
class Zipf {
 public:
  Zipf(int64_t n, double s) : cdf_(n) {
    double sum = 0;
    for (int64_t r = 0; r < n; ++r) {
      sum += 1.0 / std::pow(static_cast<double>(r + 1), s);
      cdf_[r] = sum;
    }
    for (double& c : cdf_) c /= sum;
    cdf_.back() = 1.0;
  }
  uint32_t Next(std::mt19937_64& rng) const {
    double u = Uniform(rng);
    return static_cast<uint32_t>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

std::string Fmt(const char* format, double v) {
  char buf[64];
  snprintf(buf, sizeof buf, format, v);
  return buf;
}

Trace MakeTrace(const Options& o) {
  Trace t;
  std::mt19937_64 rng(o.seed);
  if (o.trace == "file") {
    std::ifstream in(o.file);
    if (!in) Die("cannot read " + o.file);
    std::unordered_map<std::string, uint32_t> ids;
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      auto [it, inserted] = ids.try_emplace(line, static_cast<uint32_t>(t.names.size()));
      if (inserted) t.names.push_back(line);
      t.requests.push_back(it->second);
    }
    if (t.requests.empty()) Die(o.file + " has no keys");
    t.id_count = static_cast<uint32_t>(t.names.size());
    t.description = "file " + o.file;
    return t;
  }
  t.requests.reserve(o.requests);
  if (o.trace == "loop") {
    for (int64_t i = 0; i < o.requests; ++i) t.requests.push_back(i % o.loop_len);
    t.id_count = static_cast<uint32_t>(std::min(o.loop_len, o.requests));
    t.description = "loop over " + std::to_string(o.loop_len) + " keys";
    return t;
  }
  Zipf zipf(o.keys, o.zipf_s);
  t.id_count = static_cast<uint32_t>(o.keys);
  t.description = "zipf s=" + Fmt("%.2f", o.zipf_s) + " over " + std::to_string(o.keys) + " keys";
  if (o.trace == "zipf") {
    for (int64_t i = 0; i < o.requests; ++i) t.requests.push_back(zipf.Next(rng));
    return t;
  }
  // scan: periods of `between` zipf requests, then one burst of scan_len fresh keys.
  int64_t between = std::max<int64_t>(
      1, std::llround(static_cast<double>(o.scan_len) * (1 - o.scan_fraction) / o.scan_fraction));
  int64_t since_burst = 0;
  while (static_cast<int64_t>(t.requests.size()) < o.requests) {
    if (since_burst < between) {
      t.requests.push_back(zipf.Next(rng));
      ++since_burst;
      continue;
    }
    for (int64_t k = 0; k < o.scan_len && static_cast<int64_t>(t.requests.size()) < o.requests;
         ++k) {
      t.requests.push_back(t.id_count++);
    }
    since_burst = 0;
  }
  t.description += ", " + Fmt("%.0f", o.scan_fraction * 100) + "% in one-time scans of " +
                   std::to_string(o.scan_len) + " keys every " + std::to_string(between) +
                   " zipf requests";
  return t;
}

// RESP for GET/SET, built by hand: the replay sends millions of them.
class CommandWriter {
 public:
  CommandWriter(const Options& o, const Trace& t) : prefix_(o.key_prefix), trace_(t) {
    value_.assign(o.value_size, 'v');
  }
  const std::string& Get(uint32_t id) {
    out_.assign("*2\r\n$3\r\nGET\r\n");
    AppendKey(id);
    return out_;
  }
  const std::string& Set(uint32_t id) {
    out_.assign("*3\r\n$3\r\nSET\r\n");
    AppendKey(id);
    AppendBulk(value_);
    return out_;
  }
  // The key's name; valid until the next call.
  std::string_view Key(uint32_t id) {
    if (!trace_.names.empty()) return trace_.names[id];
    key_.assign(prefix_);
    char digits[16];
    int n = snprintf(digits, sizeof digits, "%010u", id);
    key_.append(digits, n);
    return key_;
  }

 private:
  void AppendKey(uint32_t id) { AppendBulk(Key(id)); }
  void AppendBulk(std::string_view s) {
    out_.push_back('$');
    out_.append(std::to_string(s.size()));
    out_.append("\r\n");
    out_.append(s);
    out_.append("\r\n");
  }

  std::string prefix_;
  const Trace& trace_;
  std::string value_;
  std::string key_;
  std::string out_;
};

struct Sent {
  uint32_t id;
  uint32_t seq;    // position in the connection's command stream (1, 2, ...)
  uint32_t index;  // the trace request a GET serves
  bool is_set;
};

struct Counts {
  int64_t hits = 0, misses = 0, errors = 0;
};

std::string InfoField(const std::string& info, const std::string& name) {
  std::string needle = name + ":";
  size_t pos = 0;
  while ((pos = info.find(needle, pos)) != std::string::npos) {
    if (pos == 0 || info[pos - 1] == '\n') {
      size_t start = pos + needle.size();
      size_t end = info.find_first_of("\r\n", start);
      return info.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    pos += needle.size();
  }
  return "";
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out.push_back(c);
  }
  return out + "\"";
}

// INFO fields a server may lack are reported as null, not as 0.
std::string JsonNumberOrNull(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789.-") != std::string::npos) return "null";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Options o = ParseOptions(argc, argv);
  Trace trace = MakeTrace(o);
  const uint32_t total = static_cast<uint32_t>(trace.requests.size());
  if (!o.dump.empty()) {
    CommandWriter names(o, trace);
    FILE* f = fopen(o.dump.c_str(), "w");
    if (f == nullptr) Die("cannot write " + o.dump);
    for (uint32_t id : trace.requests) {
      std::string_view k = names.Key(id);
      fwrite(k.data(), 1, k.size(), f);
      fputc('\n', f);
    }
    if (fclose(f) != 0) Die("cannot write " + o.dump);
    printf("%u requests of %s written to %s\n", total, trace.description.c_str(), o.dump.c_str());
    return 0;
  }
  const uint32_t counted_from = static_cast<uint32_t>(o.warmup * total);

  // The infinite-cache ratio of the counted part: requests whose key came earlier in the trace.
  int64_t infinite_hits = 0;
  uint32_t distinct_keys = 0;
  {
    std::vector<bool> seen(trace.id_count, false);
    for (uint32_t i = 0; i < total; ++i) {
      uint32_t id = trace.requests[i];
      if (seen[id] && i >= counted_from) ++infinite_hits;
      if (!seen[id]) ++distinct_keys;
      seen[id] = true;
    }
  }

  redisContext* c = redisConnect(o.host.c_str(), o.port);
  if (c == nullptr || c->err) {
    Die("cannot connect to " + o.host + ":" + std::to_string(o.port) + ": " +
        (c ? c->errstr : "out of memory"));
  }
  auto command = [&](const char* text) -> std::string {
    auto* r = static_cast<redisReply*>(redisCommand(c, text));
    if (r == nullptr) Die(std::string("connection lost: ") + c->errstr);
    std::string out = r->str ? std::string(r->str, r->len) : "";
    bool error = r->type == REDIS_REPLY_ERROR;
    freeReplyObject(r);
    if (error) Die(std::string(text) + ": " + out);
    return out;
  };
  if (o.flushall) command("FLUSHALL");
  std::string info_before = command("INFO");
  int64_t evicted_before = atoll(InfoField(info_before, "evicted_keys").c_str());

  CommandWriter writer(o, trace);
  // last_set_seq[id]: the seq of the last SET sent for the key (0: none). A nil answered to a
  // GET sent before that SET was overtaken by an earlier miss of the same key (see the top).
  std::vector<uint32_t> last_set_seq(trace.id_count, 0);
  std::deque<Sent> in_flight;
  uint32_t next_seq = 1;
  int gets_in_flight = 0;
  Counts warm, counted;
  int64_t sets = 0, set_errors = 0, resent = 0;
  std::map<std::string, int64_t> error_kinds;
  // Hits in each tenth of the trace: shows whether the warm-up was long enough.
  std::vector<int64_t> hits_by_tenth(10, 0);

  auto send = [&](uint32_t id, uint32_t index, bool is_set) {
    const std::string& cmd = is_set ? writer.Set(id) : writer.Get(id);
    if (redisAppendFormattedCommand(c, cmd.data(), cmd.size()) != REDIS_OK) {
      Die(std::string("append failed: ") + c->errstr);
    }
    in_flight.push_back(Sent{id, next_seq++, index, is_set});
    if (!is_set) ++gets_in_flight;
    if (next_seq == 0) Die("more than 2^32 commands on one connection");
  };

  auto start = std::chrono::steady_clock::now();
  uint32_t next_request = 0;
  while (next_request < total || !in_flight.empty()) {
    while (next_request < total && gets_in_flight < o.window) {
      send(trace.requests[next_request], next_request, false);
      ++next_request;
    }
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
      Die(std::string("connection lost: ") + c->errstr);
    }
    auto* r = static_cast<redisReply*>(raw);
    Sent s = in_flight.front();
    in_flight.pop_front();
    if (s.is_set) {
      ++sets;
      if (r->type == REDIS_REPLY_ERROR) {
        ++set_errors;
        ++error_kinds[std::string(r->str, strcspn(r->str, " "))];
      }
      freeReplyObject(r);
      continue;
    }
    --gets_in_flight;
    Counts& counts = s.index >= counted_from ? counted : warm;
    switch (r->type) {
      case REDIS_REPLY_STRING:
        ++counts.hits;
        ++hits_by_tenth[static_cast<uint64_t>(s.index) * 10 / total];
        break;
      case REDIS_REPLY_NIL:
        if (last_set_seq[s.id] > s.seq) {
          ++resent;
          send(s.id, s.index, false);
        } else {
          ++counts.misses;
          send(s.id, s.index, true);
          last_set_seq[s.id] = next_seq - 1;
        }
        break;
      case REDIS_REPLY_ERROR:
        ++counts.errors;
        ++error_kinds[std::string(r->str, strcspn(r->str, " "))];
        break;
      default:
        ++counts.errors;
        ++error_kinds["unexpected-reply-type"];
        break;
    }
    freeReplyObject(r);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::string info = command("INFO");
  std::string evicted = InfoField(info, "evicted_keys");
  int64_t evicted_delta = evicted.empty() ? -1 : atoll(evicted.c_str()) - evicted_before;
  std::string used_memory = InfoField(info, "used_memory");
  std::string maxmemory = InfoField(info, "maxmemory");
  std::string policy = InfoField(info, "maxmemory_policy");
  // How many keys the cache held at the end: at one maxmemory, servers with less overhead a
  // key hold more of them.
  auto* dbsize_reply = static_cast<redisReply*>(redisCommand(c, "DBSIZE"));
  if (dbsize_reply == nullptr) Die(std::string("connection lost: ") + c->errstr);
  long long dbsize = dbsize_reply->type == REDIS_REPLY_INTEGER ? dbsize_reply->integer : -1;
  freeReplyObject(dbsize_reply);
  redisFree(c);

  int64_t counted_requests = total - counted_from;
  auto ratio = [](int64_t a, int64_t b) { return b > 0 ? static_cast<double>(a) / b : 0.0; };
  double hit_ratio = ratio(counted.hits, counted_requests);
  double hit_ratio_all = ratio(counted.hits + warm.hits, total);
  double infinite_ratio = ratio(infinite_hits, counted_requests);
  double rate = total / seconds;
  if (!o.quiet) {
    printf("trace: %s, %u requests, %u distinct keys, %zu B values, window %d\n",
           trace.description.c_str(), total, distinct_keys, o.value_size, o.window);
    printf(
        "hit ratio after warm-up (requests %u..%u, the first %.0f%% are warm-up): %.4f"
        " (%lld hits, %lld misses, %lld errors)\n",
        counted_from, total - 1, o.warmup * 100, hit_ratio, static_cast<long long>(counted.hits),
        static_cast<long long>(counted.misses), static_cast<long long>(counted.errors));
    printf("hit ratio over the whole trace: %.4f; infinite cache after warm-up: %.4f\n",
           hit_ratio_all, infinite_ratio);
    printf(
        "%.0f requests/s (%.2f s), %lld SETs (%lld errors), %lld GETs sent again after an"
        " earlier miss of the same key\n",
        rate, seconds, static_cast<long long>(sets), static_cast<long long>(set_errors),
        static_cast<long long>(resent));
    printf(
        "server: %lld keys, evicted_keys +%s, used_memory %s, maxmemory %s, maxmemory_policy"
        " %s\n",
        dbsize, evicted.empty() ? "n/a" : std::to_string(evicted_delta).c_str(),
        used_memory.empty() ? "n/a" : used_memory.c_str(),
        maxmemory.empty() ? "n/a" : maxmemory.c_str(), policy.empty() ? "n/a" : policy.c_str());
    for (const auto& [kind, n] : error_kinds) {
      printf("errors %s: %lld\n", kind.c_str(), static_cast<long long>(n));
    }
  }
  std::string tenths_json = "[";
  for (int i = 0; i < 10; ++i) {
    uint64_t begin = static_cast<uint64_t>(total) * i / 10;
    uint64_t end = static_cast<uint64_t>(total) * (i + 1) / 10;
    if (i > 0) tenths_json += ",";
    tenths_json += Fmt("%.4f", ratio(hits_by_tenth[i], static_cast<int64_t>(end - begin)));
  }
  tenths_json += "]";
  if (!o.quiet) printf("hit ratio by tenth of the trace: %s\n", tenths_json.c_str());
  std::string errors_json = "{";
  for (const auto& [kind, n] : error_kinds) {
    if (errors_json.size() > 1) errors_json += ",";
    errors_json += JsonString(kind) + ":" + std::to_string(n);
  }
  errors_json += "}";
  printf(
      "{\"trace\":%s,\"requests\":%u,\"distinct_keys\":%u,\"value_size\":%zu,\"window\":%d,"
      "\"warmup\":%g,\"counted_requests\":%lld,\"hits\":%lld,\"misses\":%lld,\"errors\":%lld,"
      "\"hit_ratio\":%.6f,\"hit_ratio_all\":%.6f,\"infinite_cache_hit_ratio\":%.6f,"
      "\"warmup_hits\":%lld,\"warmup_misses\":%lld,\"warmup_errors\":%lld,\"sets\":%lld,"
      "\"set_errors\":%lld,\"resent\":%lld,\"seconds\":%.3f,\"requests_per_sec\":%.0f,"
      "\"dbsize\":%lld,\"evicted_keys\":%s,\"used_memory\":%s,\"maxmemory\":%s,\"maxmemory_"
      "policy\":%s,"
      "\"hit_ratio_by_tenth\":%s,\"error_kinds\":%s}\n",
      JsonString(trace.description).c_str(), total, distinct_keys, o.value_size, o.window, o.warmup,
      static_cast<long long>(counted_requests), static_cast<long long>(counted.hits),
      static_cast<long long>(counted.misses), static_cast<long long>(counted.errors), hit_ratio,
      hit_ratio_all, infinite_ratio, static_cast<long long>(warm.hits),
      static_cast<long long>(warm.misses), static_cast<long long>(warm.errors),
      static_cast<long long>(sets), static_cast<long long>(set_errors),
      static_cast<long long>(resent), seconds, rate, dbsize,
      evicted.empty() ? "null" : std::to_string(evicted_delta).c_str(),
      JsonNumberOrNull(used_memory).c_str(), JsonNumberOrNull(maxmemory).c_str(),
      policy.empty() ? "null" : JsonString(policy).c_str(), tenths_json.c_str(),
      errors_json.c_str());
  return 0;
}
