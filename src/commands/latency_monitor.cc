#include "omnibus/commands/latency_monitor.h"

#include <algorithm>
#include <bit>
#include <cstdio>

#include "omnibus/base/clock.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command.h"

namespace omnibus {
namespace {

// HDR geometry for (lowest 1, highest 1e9, 2 significant figures): 256 sub-buckets of unit
// width below 256, then every power-of-two range split into 128 steps.
constexpr int kSubBucketHalfMagnitude = 7;
constexpr int64_t kSubBucketMask = 255;
// Buckets until 256 << n exceeds kMaxValue (n = 22), plus one: HDR's bucket count, 23.
constexpr int kBucketCount = 23;
constexpr int kCountsLen = (kBucketCount + 1) << kSubBucketHalfMagnitude;

int BucketOf(int64_t value) {
  int pow2ceiling = 64 - std::countl_zero(static_cast<uint64_t>(value | kSubBucketMask));
  return pow2ceiling - (kSubBucketHalfMagnitude + 1);
}

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kCountsLen, 0) {}

int LatencyHistogram::IndexOf(int64_t value) {
  int bucket = BucketOf(value);
  auto sub = static_cast<int>(value >> bucket);
  return (bucket << kSubBucketHalfMagnitude) + sub;
}

int64_t LatencyHistogram::ValueAt(int index) {
  int bucket = (index >> kSubBucketHalfMagnitude) - 1;
  int64_t sub = (index & ((1 << kSubBucketHalfMagnitude) - 1)) + (1 << kSubBucketHalfMagnitude);
  if (bucket < 0) {
    sub -= 1 << kSubBucketHalfMagnitude;
    bucket = 0;
  }
  return sub << bucket;
}

int64_t LatencyHistogram::LowestEquivalent(int64_t value) {
  int bucket = BucketOf(value);
  return (value >> bucket) << bucket;
}

int64_t LatencyHistogram::HighestEquivalent(int64_t value) {
  return LowestEquivalent(value) + (int64_t{1} << BucketOf(value)) - 1;
}

void LatencyHistogram::Record(int64_t value_ns) {
  value_ns = std::clamp(value_ns, kMinValue, kMaxValue);
  ++counts_[static_cast<size_t>(IndexOf(value_ns))];
  ++total_;
}

int64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  double requested = std::min(percentile, 100.0);
  auto wanted = static_cast<int64_t>(requested / 100 * static_cast<double>(total_) + 0.5);
  wanted = std::max<int64_t>(wanted, 1);
  int64_t seen = 0;
  int64_t value = 0;
  for (int i = 0; i < kCountsLen; ++i) {
    seen += counts_[static_cast<size_t>(i)];
    if (seen >= wanted) {
      value = ValueAt(i);
      break;
    }
  }
  return percentile == 0.0 ? LowestEquivalent(value) : HighestEquivalent(value);
}

std::vector<std::pair<int64_t, int64_t>> LatencyHistogram::PowerOfTwoBuckets() const {
  // HDR's logarithmic iterator (first bucket 1024 ns, base 2) as Redis walks it: each level
  // stops at the first index at or past the level, counting that index too, and names the
  // level by its highest equivalent value in µs.
  std::vector<std::pair<int64_t, int64_t>> out;
  if (total_ == 0) return out;
  int64_t cumulative = 0;
  int at = -1;  // last index counted
  int64_t previous = 0;
  for (int64_t level = 1024; cumulative < total_; level *= 2) {
    int stop = std::min(IndexOf(level), kCountsLen - 1);
    while (at < stop) cumulative += counts_[static_cast<size_t>(++at)];
    int64_t bound = HighestEquivalent(ValueAt(at)) / 1000;
    if (cumulative > previous) out.emplace_back(bound, cumulative);
    previous = cumulative;
  }
  return out;
}

void SlowLog::Push(std::span<const std::string_view> args, int64_t duration_us, int64_t wait_us,
                   std::string_view addr, std::string_view name, int64_t now_s, int64_t max_len) {
  SlowLogEntry e;
  e.id = next_id_++;
  e.time = now_s;
  e.duration_us = duration_us;
  e.wait_us = wait_us;
  size_t kept = std::min(args.size(), kMaxArgs);
  e.args.reserve(kept);
  for (size_t j = 0; j < kept; ++j) {
    if (kept != args.size() && j == kept - 1) {
      // The last slot tells how many were left out (counting itself).
      e.args.push_back(StrCat("... (", args.size() - kept + 1, " more arguments)"));
    } else if (args[j].size() > kMaxArgBytes) {
      e.args.push_back(StrCat(args[j].substr(0, kMaxArgBytes), "... (",
                              args[j].size() - kMaxArgBytes, " more bytes)"));
    } else {
      e.args.emplace_back(args[j]);
    }
  }
  e.addr = addr;
  e.name = name;
  entries_.push_front(std::move(e));
  while (static_cast<int64_t>(entries_.size()) > max_len) entries_.pop_back();
}

void LatencySeries::Add(int64_t latency_ms, int64_t now_s) {
  max = std::max(max, latency_ms);
  // One sample per second: a later spike in the same second only raises it.
  Sample& prev = samples[(idx + kLen - 1) % kLen];
  if (prev.time == now_s) {
    prev.latency = std::max(prev.latency, latency_ms);
    return;
  }
  samples[idx] = Sample{now_s, latency_ms};
  idx = (idx + 1) % kLen;
}

std::vector<LatencySeries::Sample> LatencySeries::InOrder() const {
  std::vector<Sample> out;
  for (size_t j = 0; j < kLen; ++j) {
    const Sample& s = samples[(idx + j) % kLen];
    if (s.time != 0) out.push_back(s);
  }
  return out;
}

namespace {

constexpr std::string_view kRedacted = "(redacted)";

// Redis hides secrets from the slow log (redactClientCommandArgument): AUTH's arguments,
// HELLO's AUTH user and password, CONFIG SET's values of sensitive parameters.
bool Redact(std::string_view command, std::span<const std::string_view> args,
            std::vector<std::string_view>* out) {
  if (command == "auth") {
    out->assign(args.begin(), args.end());
    for (size_t i = 1; i < out->size(); ++i) (*out)[i] = kRedacted;
    return true;
  }
  if (command == "hello") {
    bool any = false;
    // Walk the options as HELLO parses them: SETNAME's value is never an option.
    for (size_t i = 2; i < args.size(); ++i) {
      size_t more = args.size() - 1 - i;
      if (EqualsIgnoreCase(args[i], "auth") && more >= 2) {
        if (!any) out->assign(args.begin(), args.end());
        any = true;
        (*out)[i + 1] = kRedacted;
        (*out)[i + 2] = kRedacted;
        i += 2;
      } else if (EqualsIgnoreCase(args[i], "setname") && more >= 1) {
        ++i;
      } else {
        break;
      }
    }
    return any;
  }
  if (command == "config|set") {
    bool any = false;
    for (size_t i = 2; i + 1 < args.size(); i += 2) {
      if (EqualsIgnoreCase(args[i], "requirepass") || EqualsIgnoreCase(args[i], "masterauth")) {
        if (!any) out->assign(args.begin(), args.end());
        any = true;
        (*out)[i + 1] = kRedacted;
      }
    }
    return any;
  }
  return false;
}

}  // namespace

void LatencyMonitor::Observe(const CommandSpec& spec, std::span<const std::string_view> args,
                             int64_t exec_ns, int64_t wait_ns, std::string_view addr,
                             std::string_view name) {
  const LatencySettings& settings = *settings_;
  const int64_t exec_us = exec_ns / 1000;  // Redis measures commands in whole µs
  const int64_t wait_us = wait_ns / 1000;
  if (settings.latency_tracking && spec.id < histograms_.size()) {
    auto& h = histograms_[spec.id];
    if (!h) h = std::make_unique<LatencyHistogram>();
    h->Record(exec_us * 1000);
  }
  const int64_t slower_than = settings.slowlog_log_slower_than;
  const int64_t threshold_ms = settings.latency_monitor_threshold;
  bool slow = slower_than >= 0 && !(spec.flags & kCmdSkipSlowlog) &&
              (exec_us >= slower_than || wait_us >= slower_than);
  bool spike =
      threshold_ms > 0 && (exec_us / 1000 >= threshold_ms || wait_us / 1000 >= threshold_ms);
  if (!slow && !spike) return;
  const int64_t now_s = UnixTimeMs() / 1000;
  if (slow) {
    std::vector<std::string_view> redacted;
    if (Redact(spec.name, args, &redacted)) args = redacted;
    slowlog_.Push(args, exec_us, wait_us, addr, name, now_s, settings.slowlog_max_len);
  }
  if (spike) {
    if (exec_us / 1000 >= threshold_ms) {
      AddLatencySample((spec.flags & kCmdFast) ? kFastCommandEvent : kCommandEvent, exec_us / 1000,
                       now_s);
    }
    if (wait_us / 1000 >= threshold_ms) AddLatencySample(kQueueWaitEvent, wait_us / 1000, now_s);
  }
}

void LatencyMonitor::AddLatencySample(std::string_view event, int64_t latency_ms, int64_t now_s) {
  auto it = events_.find(event);
  if (it == events_.end()) it = events_.emplace(std::string(event), LatencySeries{}).first;
  it->second.Add(latency_ms, now_s);
}

const LatencySeries* LatencyMonitor::Event(std::string_view name) const {
  auto it = events_.find(name);
  return it == events_.end() ? nullptr : &it->second;
}

int LatencyMonitor::ResetEvents(std::string_view name) {
  int resets = 0;
  for (auto it = events_.begin(); it != events_.end();) {
    if (name.empty() || EqualsIgnoreCase(it->first, name)) {
      it = events_.erase(it);
      ++resets;
    } else {
      ++it;
    }
  }
  return resets;
}

void LatencyMonitor::ResetHistograms() {
  for (auto& h : histograms_) h.reset();
}

namespace {

// Redis's ASCII sparkline (sparkline.c): `rows` rows of "_-`" steps ("_o#" when filled, '|'
// below the top), then each sample's label written downwards under a blank line.
struct SparkSample {
  double value;
  std::string label;
};

void RenderSparkRange(std::string* out, const std::vector<SparkSample>& seq, double min, double max,
                      int rows, size_t offset, size_t len) {
  static constexpr char kFill[] = "_o#";
  constexpr int kCharsetLen = 3;
  const int steps = kCharsetLen * rows;
  double relmax = max - min;
  if (relmax == 0) relmax = 1;
  bool labels = false;
  for (const SparkSample& s : seq) labels |= !s.label.empty();
  std::string chars;
  for (int row = 0;; ++row) {
    bool more = false;
    chars.assign(len, ' ');
    for (size_t j = 0; j < len; ++j) {
      const SparkSample& s = seq[j + offset];
      int step = static_cast<int>(static_cast<int>((s.value - min) * steps) / relmax);
      step = std::clamp(step, 0, steps - 1);
      if (row < rows) {
        int charidx = step - (rows - row - 1) * kCharsetLen;
        more = true;
        if (charidx >= 0 && charidx < kCharsetLen) {
          chars[j] = kFill[charidx];
        } else if (charidx >= kCharsetLen) {
          chars[j] = '|';
        }
      } else {
        if (labels && row - rows < 1) {  // one blank line above the labels
          more = true;
          break;
        }
        auto label_char = static_cast<size_t>(row - rows - 1);
        if (s.label.size() > label_char) {
          more = true;
          chars[j] = s.label[label_char];
        }
      }
    }
    if (!more) break;
    out->append(chars);
    out->push_back('\n');
  }
}

}  // namespace

std::string LatencyGraph(std::string_view event, const LatencySeries& series, int64_t now_s) {
  constexpr size_t kColumns = 80;
  std::vector<SparkSample> seq;
  int64_t low = 0, high = 0;
  double min = 0, max = 0;
  for (const LatencySeries::Sample& s : series.InOrder()) {
    if (seq.empty()) {
      low = high = s.latency;
      min = max = static_cast<double>(s.latency);
    } else {
      low = std::min(low, s.latency);
      high = std::max(high, s.latency);
      min = std::min(min, static_cast<double>(s.latency));
      max = std::max(max, static_cast<double>(s.latency));
    }
    // Labelled with how long ago it was: seconds, minutes, hours or days.
    int64_t elapsed = now_s - s.time;
    std::string label;
    if (elapsed < 60) {
      label = StrCat(elapsed, "s");
    } else if (elapsed < 3600) {
      label = StrCat(elapsed / 60, "m");
    } else if (elapsed < 3600 * 24) {
      label = StrCat(elapsed / 3600, "h");
    } else {
      label = StrCat(elapsed / (3600 * 24), "d");
    }
    seq.push_back(SparkSample{static_cast<double>(s.latency), std::move(label)});
  }
  std::string out = StrCat(event, " - high ", high, " ms, low ", low, " ms (all time high ",
                           series.max, " ms)\n");
  out.append(kColumns, '-');
  out.push_back('\n');
  for (size_t j = 0; j < seq.size(); j += kColumns) {
    if (j != 0) out.push_back('\n');
    RenderSparkRange(&out, seq, min, max, 4, j, std::min(kColumns, seq.size() - j));
  }
  return out;
}

bool HasAnonHugePages() {
  FILE* f = fopen("/proc/self/smaps_rollup", "r");
  if (f == nullptr) return false;
  char line[256];
  long long kb = 0;
  while (fgets(line, sizeof(line), f) != nullptr) {
    if (sscanf(line, "AnonHugePages: %lld kB", &kb) == 1) break;
  }
  fclose(f);
  return kb > 0;
}

std::string LatencyDoctor(const LatencyMonitor& monitor, int64_t threshold_ms,
                          int64_t slowlog_slower_than_us, int hz, int64_t now_s,
                          bool anon_huge_pages) {
  if (monitor.events().empty() && threshold_ms == 0) {
    return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
           "instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in "
           "order to enable it. If we weren't in a deep space mission I'd suggest to take a look "
           "at https://redis.io/topics/latency-monitor.\n";
  }
  std::string report;
  bool slowlog_enabled = false, slowlog_tuning = false, slowlog_inspect = false;
  bool scheduler = false, raise_hz = false, large_objects = false, queue_wait = false;
  int advices = 0;
  int n = 0;
  for (const auto& [event, series] : monitor.events()) {
    if (++n == 1) {
      report +=
          "Dave, I have observed latency spikes in this Redis instance. You don't mind talking "
          "about it, do you Dave?\n\n";
    }
    std::vector<LatencySeries::Sample> samples = series.InOrder();
    int64_t sum = 0, oldest = 0;
    for (const auto& s : samples) {
      sum += s.latency;
      if (oldest == 0 || s.time < oldest) oldest = s.time;
    }
    auto count = static_cast<int64_t>(samples.size());
    int64_t avg = count ? sum / count : 0;
    int64_t mad = 0;
    for (const auto& s : samples) mad += std::abs(avg - s.latency);
    if (count) mad /= count;
    int64_t period = count ? std::max<int64_t>(now_s - oldest, 1) : 0;
    StrAppend(&report, n, ". ", event, ": ", count, " latency spikes (average ", avg,
              "ms, mean deviation ", mad, "ms, period ",
              StrFormat("%.2f", count ? static_cast<double>(period) / count : 0.0),
              " sec). Worst all time event ", series.max, "ms.");
    if (EqualsIgnoreCase(event, LatencyMonitor::kCommandEvent)) {
      if (slowlog_slower_than_us < 0) {
        slowlog_enabled = true;
        ++advices;
      } else if (slowlog_slower_than_us / 1000 > threshold_ms) {
        slowlog_tuning = true;
        ++advices;
      }
      slowlog_inspect = large_objects = true;
      advices += 2;
    } else if (EqualsIgnoreCase(event, LatencyMonitor::kFastCommandEvent)) {
      scheduler = true;
      ++advices;
    } else if (EqualsIgnoreCase(event, "expire-cycle")) {
      raise_hz = large_objects = true;
      advices += 2;
    } else if (EqualsIgnoreCase(event, LatencyMonitor::kQueueWaitEvent)) {
      queue_wait = slowlog_inspect = true;
      advices += 2;
    }
    report.push_back('\n');
  }
  if (anon_huge_pages) ++advices;
  if (n == 0 && advices == 0) {
    report +=
        "Dave, no latency spike was observed during the lifetime of this Redis instance, not in "
        "the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, "
        "and think things over.\n";
    return report;
  }
  if (advices == 0) {
    report +=
        "\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please "
        "use the Redis community to get some help, providing this report in your help "
        "request.\n";
    return report;
  }
  report += "\nI have a few advices for you:\n\n";
  if (slowlog_enabled) {
    StrAppend(&report,
              "- There are latency issues with potentially slow commands you are using. Try to "
              "enable the Slow Log Redis feature using the command 'CONFIG SET "
              "slowlog-log-slower-than ",
              threshold_ms * 1000,
              "'. If the Slow log is disabled Redis is not able to log slow commands execution "
              "for you.\n");
  }
  if (slowlog_tuning) {
    StrAppend(&report,
              "- Your current Slow Log configuration only logs events that are slower than your "
              "configured latency monitor threshold. Please use 'CONFIG SET "
              "slowlog-log-slower-than ",
              threshold_ms * 1000, "'.\n");
  }
  if (slowlog_inspect) {
    report +=
        "- Check your Slow Log to understand what are the commands you are running which are "
        "too slow to execute. Please check https://redis.io/commands/slowlog for more "
        "information.\n";
  }
  if (scheduler) {
    report +=
        "- The system is slow to execute Redis code paths not containing system calls. This "
        "usually means the system does not provide Redis CPU time to run for long periods. You "
        "should try to:\n"
        "  1) Lower the system load.\n"
        "  2) Use a computer / VM just for Redis if you are running other software in the same "
        "system.\n"
        "  3) Check if you have a \"noisy neighbour\" problem.\n"
        "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in "
        "your system.\n"
        "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, "
        "if you are using Jemalloc. However this may create fragmentation problems.\n";
  }
  if (queue_wait) {
    // Ours: the time a command spent queued behind others on its shard.
    report +=
        "- Commands waited in their shard's queue behind slower ones. The slow log's 7th "
        "field of each entry is that wait in microseconds: look for the slow commands that "
        "ran just before them on the same shard, split big keys, or spread hot keys over "
        "more shards.\n";
  }
  if (raise_hz && hz < 100) {
    report +=
        "- In order to make the Redis keys expiring process more incremental, try to set the "
        "'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n";
  }
  if (large_objects) {
    report +=
        "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a "
        "blocking operation. If you have very large objects that are often deleted, expired, "
        "or evicted, try to fragment those objects into multiple smaller objects.\n";
  }
  if (anon_huge_pages) {
    report +=
        "- I detected a non zero amount of anonymous huge pages used by your process. This "
        "creates very serious latency events in different conditions, especially when Redis "
        "is persisting on disk. To disable THP support use the command 'echo never > "
        "/sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into "
        "/etc/rc.local so that the command will be executed again after a reboot. Note that "
        "even if you have already disabled THP, you still need to restart the Redis process "
        "to get rid of the huge pages already created.\n";
  }
  return report;
}

std::string PercentileLabel(double percentile) {
  std::string s = StrFormat("%f", percentile);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

}  // namespace omnibus
