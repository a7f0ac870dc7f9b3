// LatencyHistogram's bucketing against values Redis 7.0.15 printed (INFO latencystats,
// LATENCY HISTOGRAM), the slow log ring, and the latency monitor's series.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "omnibus/base/str_cat.h"
#include "omnibus/commands/command.h"
#include "omnibus/commands/latency_monitor.h"

namespace omnibus {
namespace {

using Buckets = std::vector<std::pair<int64_t, int64_t>>;

TEST(LatencyHistogramTest, UnitBucketsBelow256) {
  for (int64_t v : {1, 2, 100, 255}) {
    EXPECT_EQ(LatencyHistogram::LowestEquivalent(v), v);
    EXPECT_EQ(LatencyHistogram::HighestEquivalent(v), v);
    EXPECT_EQ(LatencyHistogram::ValueAt(LatencyHistogram::IndexOf(v)), v);
  }
}

TEST(LatencyHistogramTest, TwoSignificantFiguresAbove256) {
  // 256..511 in steps of 2, 512..1023 in steps of 4, ...
  EXPECT_EQ(LatencyHistogram::LowestEquivalent(257), 256);
  EXPECT_EQ(LatencyHistogram::HighestEquivalent(257), 257);
  EXPECT_EQ(LatencyHistogram::HighestEquivalent(1024), 1031);
  EXPECT_EQ(LatencyHistogram::HighestEquivalent(32768), 33023);
  // What Redis printed: a 2 µs GET is p50=2.007, a 2.654 ms EVAL p50=2654.207.
  EXPECT_EQ(LatencyHistogram::HighestEquivalent(2000), 2007);
  EXPECT_EQ(LatencyHistogram::HighestEquivalent(2654000), 2654207);
  // Indexes are dense and increasing.
  int last = -1;
  for (int64_t v = 1; v < 5'000'000; v = v * 3 / 2 + 1) {
    int i = LatencyHistogram::IndexOf(v);
    EXPECT_GT(i, last);
    last = i;
    EXPECT_EQ(LatencyHistogram::LowestEquivalent(LatencyHistogram::ValueAt(i)),
              LatencyHistogram::LowestEquivalent(v));
  }
}

TEST(LatencyHistogramTest, PercentilesAsRedisPrintsThem) {
  LatencyHistogram h;
  EXPECT_EQ(h.ValueAtPercentile(50), 0);
  h.Record(0);  // a 0 µs command counts as 1 ns (Redis: p50=0.001)
  EXPECT_EQ(h.ValueAtPercentile(50), 1);
  h.Record(1000);
  h.Record(1000);
  h.Record(2'000'000'000);  // clamped to 1 s
  EXPECT_EQ(h.total_count(), 4);
  EXPECT_EQ(h.ValueAtPercentile(0), 1);
  EXPECT_EQ(h.ValueAtPercentile(50), 1003);  // 1000 ns sits in [1000, 1003]
  EXPECT_EQ(h.ValueAtPercentile(75), 1003);
  EXPECT_EQ(h.ValueAtPercentile(99.9), LatencyHistogram::HighestEquivalent(1'000'000'000));
  EXPECT_EQ(h.ValueAtPercentile(100), h.ValueAtPercentile(150));
}

TEST(LatencyHistogramTest, PowerOfTwoBucketsOnlyWhereTheCountGrows) {
  LatencyHistogram h;
  EXPECT_TRUE(h.PowerOfTwoBuckets().empty());
  h.Record(500);        // <= 1031 ns: the 1 µs bucket
  h.Record(1500);       // the 2 µs bucket
  h.Record(40'000);     // past 33023: the 66 µs bucket
  h.Record(1'000'000);  // past 528383: the 1056 µs bucket
  EXPECT_EQ(h.PowerOfTwoBuckets(), (Buckets{{1, 1}, {2, 2}, {66, 3}, {1056, 4}}));
  LatencyHistogram big;
  big.Record(1'000'000'000);
  Buckets b = big.PowerOfTwoBuckets();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].second, 1);
  EXPECT_GE(b[0].first, 1'000'000);
}

TEST(LatencyHistogramTest, PercentileLabels) {
  EXPECT_EQ(PercentileLabel(50), "50");
  EXPECT_EQ(PercentileLabel(99.9), "99.9");
  EXPECT_EQ(PercentileLabel(99.99), "99.99");
  EXPECT_EQ(PercentileLabel(0), "0");
  EXPECT_EQ(PercentileLabel(100), "100");
}

std::vector<std::string_view> Views(const std::vector<std::string>& v) {
  return std::vector<std::string_view>(v.begin(), v.end());
}

TEST(SlowLogTest, NewestFirstIdsKeepCountingAndMaxLenTrims) {
  SlowLog log;
  std::vector<std::string> a = {"set", "k", "v"};
  for (int i = 0; i < 5; ++i) log.Push(Views(a), 100 + i, 0, "127.0.0.1:1", "", 1000, 3);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log.entries()[0].id, 4);
  EXPECT_EQ(log.entries()[0].duration_us, 104);
  EXPECT_EQ(log.entries()[2].id, 2);
  log.Reset();
  EXPECT_EQ(log.size(), 0u);
  log.Push(Views(a), 1, 7, "x", "name", 1000, 3);
  EXPECT_EQ(log.entries()[0].id, 5);  // RESET keeps the ids going, as in Redis
  EXPECT_EQ(log.entries()[0].wait_us, 7);
  EXPECT_EQ(log.entries()[0].name, "name");
  log.Push(Views(a), 1, 0, "x", "", 1000, 0);  // max-len 0 keeps nothing
  EXPECT_EQ(log.size(), 0u);
}

TEST(SlowLogTest, TrimsArgumentsAsRedis) {
  SlowLog log;
  std::vector<std::string> many;
  for (int i = 0; i < 40; ++i) many.push_back(StrCat("a", i));
  many[1] = std::string(200, 'x');
  log.Push(Views(many), 1, 0, "", "", 1, 10);
  const SlowLogEntry& e = log.entries()[0];
  ASSERT_EQ(e.args.size(), SlowLog::kMaxArgs);
  EXPECT_EQ(e.args[0], "a0");
  EXPECT_EQ(e.args[1], std::string(128, 'x') + "... (72 more bytes)");
  EXPECT_EQ(e.args[30], "a30");
  EXPECT_EQ(e.args[31], "... (9 more arguments)");
  std::vector<std::string> exactly(32, "y");
  log.Push(Views(exactly), 1, 0, "", "", 1, 10);
  EXPECT_EQ(log.entries()[0].args, exactly);
}

TEST(LatencyMonitorTest, OneSamplePerSecondKeepsTheHighest) {
  LatencySeries s;
  s.Add(5, 100);
  s.Add(9, 100);
  s.Add(3, 100);
  s.Add(4, 101);
  auto samples = s.InOrder();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].time, 100);
  EXPECT_EQ(samples[0].latency, 9);
  EXPECT_EQ(samples[1].latency, 4);
  EXPECT_EQ(s.max, 9);
  for (int i = 0; i < 200; ++i) s.Add(i, 200 + i);  // the ring keeps the newest 160
  samples = s.InOrder();
  ASSERT_EQ(samples.size(), LatencySeries::kLen);
  EXPECT_EQ(samples.front().time, 240);
  EXPECT_EQ(samples.back().time, 399);
  EXPECT_EQ(s.max, 199);
}

CommandSpec Spec(std::string_view name, uint32_t flags, uint16_t id) {
  CommandSpec s{name, -1, flags, ""};
  s.id = id;
  return s;
}

TEST(LatencyMonitorTest, ObserveFeedsSlowLogEventsAndHistograms) {
  LatencySettings settings;
  settings.slowlog_log_slower_than = 1000;  // 1 ms
  settings.latency_monitor_threshold = 2;   // 2 ms
  LatencyMonitor m(4, &settings);
  CommandSpec get = Spec("get", kCmdFast, 0);
  CommandSpec exec = Spec("exec", kCmdSkipSlowlog, 1);
  CommandSpec auth = Spec("auth", 0, 2);
  std::vector<std::string> args = {"get", "k"};
  m.Observe(get, Views(args), 500'000, 0, "a:1", "");  // fast enough
  EXPECT_EQ(m.slowlog().size(), 0u);
  ASSERT_NE(m.histogram(0), nullptr);
  EXPECT_EQ(m.histogram(0)->total_count(), 1);
  EXPECT_EQ(m.histogram(1), nullptr);
  m.Observe(get, Views(args), 10'000, 1'500'000, "a:1", "");  // waited: logged
  ASSERT_EQ(m.slowlog().size(), 1u);
  EXPECT_EQ(m.slowlog().entries()[0].duration_us, 10);
  EXPECT_EQ(m.slowlog().entries()[0].wait_us, 1500);
  EXPECT_TRUE(m.events().empty());  // 1.5 ms is under the monitor's 2 ms
  m.Observe(get, Views(args), 3'000'000, 4'000'000, "a:1", "");
  ASSERT_NE(m.Event("fast-command"), nullptr);
  EXPECT_EQ(m.Event("fast-command")->max, 3);
  ASSERT_NE(m.Event("queue-wait"), nullptr);
  EXPECT_EQ(m.Event("queue-wait")->max, 4);
  EXPECT_EQ(m.Event("command"), nullptr);
  m.Observe(exec, Views(args), 5'000'000, 0, "a:1", "");  // never in the slow log
  EXPECT_EQ(m.slowlog().size(), 2u);
  EXPECT_NE(m.Event("command"), nullptr);
  std::vector<std::string> secret = {"AUTH", "user", "pass"};
  m.Observe(auth, Views(secret), 5'000'000, 0, "a:1", "");
  EXPECT_EQ(m.slowlog().entries()[0].args,
            (std::vector<std::string>{"AUTH", "(redacted)", "(redacted)"}));
  EXPECT_EQ(m.ResetEvents("QUEUE-WAIT"), 1);
  EXPECT_EQ(m.ResetEvents(""), 2);
  settings.slowlog_log_slower_than = -1;
  settings.latency_tracking = false;
  m.Observe(get, Views(args), 50'000'000, 50'000'000, "a:1", "");
  EXPECT_EQ(m.slowlog().size(), 3u);
  EXPECT_EQ(m.histogram(0)->total_count(), 3);
}

TEST(LatencyMonitorTest, GraphHasRedisShape) {
  LatencySeries s;
  s.Add(10, 1000);
  s.Add(20, 1001);
  s.Add(40, 1002);
  std::string g = LatencyGraph("command", s, 1005);
  EXPECT_EQ(g.substr(0, g.find('\n')), "command - high 40 ms, low 10 ms (all time high 40 ms)");
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < g.size()) {
    size_t nl = g.find('\n', pos);
    lines.push_back(g.substr(pos, nl - pos));
    pos = nl + 1;
  }
  // Title, rule, 4 rows of bars, a blank line, then the labels ("5s", "4s", "3s") downwards.
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_EQ(lines[1], std::string(80, '-'));
  EXPECT_EQ(lines[2], "  #");
  EXPECT_EQ(lines[5], "_||");
  EXPECT_EQ(lines[6], "   ");
  EXPECT_EQ(lines[7], "543");
  EXPECT_EQ(lines[8], "sss");
  // Byte for byte what redis-server 7.0.15 drew for spikes of 9, 27 and 45 ms.
  LatencySeries r;
  r.Add(9, 1000);
  r.Add(27, 1001);
  r.Add(45, 1002);
  EXPECT_EQ(LatencyGraph("command", r, 1004),
            "command - high 45 ms, low 9 ms (all time high 45 ms)\n" + std::string(80, '-') +
                "\n  #\n _|\n ||\n_||\n   \n432\nsss\n");
}

TEST(LatencyMonitorTest, DoctorTexts) {
  LatencySettings settings;
  LatencyMonitor m(1, &settings);
  EXPECT_EQ(LatencyDoctor(m, 0, 10000, 10, 0).substr(0, 34), "I'm sorry, Dave, I can't do that. ");
  EXPECT_EQ(LatencyDoctor(m, 5, 10000, 10, 0).substr(0, 50),
            "Dave, no latency spike was observed during the lif");
  m.AddLatencySample("command", 7, 100);
  std::string report = LatencyDoctor(m, 5, 10000, 10, 101);
  EXPECT_NE(report.find("1. command: 1 latency spikes (average 7ms, mean deviation 0ms, period "
                        "1.00 sec). Worst all time event 7ms."),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("I have a few advices for you"), std::string::npos);
  EXPECT_EQ(report.find("anonymous huge pages"), std::string::npos);
  LatencyMonitor quiet(1, &settings);
  std::string thp = LatencyDoctor(quiet, 5, 10000, 10, 0, /*anon_huge_pages=*/true);
  EXPECT_EQ(thp.substr(0, 30), "\nI have a few advices for you:");
  EXPECT_NE(thp.find("- I detected a non zero amount of anonymous huge pages"), std::string::npos);
}

}  // namespace
}  // namespace omnibus
