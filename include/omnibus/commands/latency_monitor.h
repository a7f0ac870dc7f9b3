#pragma once

// What SLOWLOG, LATENCY and INFO latencystats report: the slow log ring, the latency monitor's
// event series, and the per-command latency histograms. Fed once per completed command by the
// reactor (net/reactor.cc, net/transaction.cc); read by the commands in latency_family.cc.
// Runs on: reactor thread.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace omnibus {

struct CommandSpec;

// A histogram of nanosecond latencies with Redis 7.0's bucketing: an HDR histogram with
// lowest value 1, highest 1,000,000,000 and 2 significant figures (256 sub-buckets, each
// power-of-two range above 256 split into 128 equal steps). Values are clamped into range.
// Percentiles and the power-of-two report come out exactly as Redis prints them
// (`p50=2.007`, LATENCY HISTOGRAM's 1, 2, 4, 8, 16, 33, 66, ... µs buckets).
class LatencyHistogram {
 public:
  static constexpr int64_t kMinValue = 1;
  static constexpr int64_t kMaxValue = 1'000'000'000;

  LatencyHistogram();

  void Record(int64_t value_ns);
  int64_t total_count() const { return total_; }
  // HDR's value_at_percentile: the highest value equivalent to the one at `percentile`
  // (the lowest for percentile 0). 0 when empty.
  int64_t ValueAtPercentile(double percentile) const;
  // LATENCY HISTOGRAM's buckets: (upper bound in µs, cumulative count) at 1024 ns, 2048 ns,
  // ... (HDR's log iterator, base 2), only where the cumulative count grew.
  std::vector<std::pair<int64_t, int64_t>> PowerOfTwoBuckets() const;

  // Bucketing, public for tests.
  static int IndexOf(int64_t value);
  static int64_t ValueAt(int index);
  static int64_t LowestEquivalent(int64_t value);
  static int64_t HighestEquivalent(int64_t value);

 private:
  std::vector<int64_t> counts_;
  int64_t total_ = 0;
};

// One SLOWLOG GET entry.
struct SlowLogEntry {
  int64_t id = 0;
  int64_t time = 0;               // unix seconds when it was logged
  int64_t duration_us = 0;        // execution time
  int64_t wait_us = 0;            // ours: time waited in its shard's queue
  std::vector<std::string> args;  // trimmed as Redis trims them
  std::string addr;
  std::string name;
};

// The slow log: the newest entries first, at most max_len of them. Ids keep counting across
// RESET, as in Redis.
class SlowLog {
 public:
  // Redis's limits on what an entry keeps of a command.
  static constexpr size_t kMaxArgs = 32;
  static constexpr size_t kMaxArgBytes = 128;

  // Adds an entry (args trimmed), then drops the oldest beyond `max_len`.
  void Push(std::span<const std::string_view> args, int64_t duration_us, int64_t wait_us,
            std::string_view addr, std::string_view name, int64_t now_s, int64_t max_len);
  void Reset() { entries_.clear(); }
  size_t size() const { return entries_.size(); }
  const std::deque<SlowLogEntry>& entries() const { return entries_; }  // newest first

 private:
  std::deque<SlowLogEntry> entries_;
  int64_t next_id_ = 0;
};

// One LATENCY event's time series: the last 160 seconds that had a spike, one sample per
// second (the highest), and the all-time high. Times in unix seconds, latencies in ms.
struct LatencySeries {
  static constexpr size_t kLen = 160;
  struct Sample {
    int64_t time = 0;
    int64_t latency = 0;
  };
  Sample samples[kLen];
  size_t idx = 0;  // where the next sample goes
  int64_t max = 0;

  void Add(int64_t latency_ms, int64_t now_s);
  // The samples present, oldest first.
  std::vector<Sample> InOrder() const;
};

// The settings, read on each command (they live in the server's config: CONFIG SET applies
// at once).
struct LatencySettings {
  int64_t slowlog_log_slower_than = 10000;  // slowlog-log-slower-than, µs (<0 off, 0 all)
  int64_t slowlog_max_len = 128;            // slowlog-max-len
  int64_t latency_monitor_threshold = 0;    // latency-monitor-threshold, ms (0 off)
  bool latency_tracking = true;             // latency-tracking
  std::vector<double> info_percentiles = {50, 99, 99.9};  // latency-tracking-info-percentiles
};

// Everything SLOWLOG, LATENCY and INFO latencystats read.
class LatencyMonitor {
 public:
  // Redis's event names, and ours.
  static constexpr std::string_view kCommandEvent = "command";
  static constexpr std::string_view kFastCommandEvent = "fast-command";
  static constexpr std::string_view kQueueWaitEvent = "queue-wait";  // ours

  LatencyMonitor(size_t num_commands, const LatencySettings* settings)
      : settings_(settings), histograms_(num_commands) {}

  const LatencySettings& settings() const { return *settings_; }

  // One completed command (a subcommand has its own spec), `args` as the client sent them
  // (secrets are redacted here, as Redis redacts them). Feeds the
  // latency histogram, the slow log (if execution or queue wait reached the threshold), and
  // the `command`/`fast-command`/`queue-wait` events.
  void Observe(const CommandSpec& spec, std::span<const std::string_view> args, int64_t exec_ns,
               int64_t wait_ns, std::string_view addr, std::string_view name);

  // LATENCY's events (sorted by name: Redis's order is its dict's).
  void AddLatencySample(std::string_view event, int64_t latency_ms, int64_t now_s);
  const std::map<std::string, LatencySeries, std::less<>>& events() const { return events_; }
  const LatencySeries* Event(std::string_view name) const;
  // Removes one event (case-insensitive, as Redis) or all (empty name); returns how many.
  int ResetEvents(std::string_view name);

  SlowLog& slowlog() { return slowlog_; }
  const LatencyHistogram* histogram(uint16_t command_id) const {
    return command_id < histograms_.size() ? histograms_[command_id].get() : nullptr;
  }
  void ResetHistograms();  // CONFIG RESETSTAT

 private:
  const LatencySettings* settings_;
  SlowLog slowlog_;
  std::map<std::string, LatencySeries, std::less<>> events_;
  std::vector<std::unique_ptr<LatencyHistogram>> histograms_;  // by command id, made on use
};

// LATENCY GRAPH's text for one event (Redis's ASCII sparkline, 80 columns, 4 rows).
std::string LatencyGraph(std::string_view event, const LatencySeries& series, int64_t now_s);
// LATENCY DOCTOR's report. `threshold_ms`, `slowlog_slower_than_us`, `hz` and whether the
// process has transparent huge pages (`anon_huge_pages`) shape the advice as in Redis.
std::string LatencyDoctor(const LatencyMonitor& monitor, int64_t threshold_ms,
                          int64_t slowlog_slower_than_us, int hz, int64_t now_s,
                          bool anon_huge_pages = false);
// Whether this process has anonymous huge pages (/proc/self/smaps_rollup), as Redis checks.
bool HasAnonHugePages();
// INFO latencystats' percentile label: "50", "99.9" (Redis's %f with trailing zeros cut).
std::string PercentileLabel(double percentile);

}  // namespace omnibus
