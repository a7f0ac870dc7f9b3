// The default shard count (no --shards) follows the CPUs the server may use: its affinity
// mask (and cgroup quota, unit-tested in tests/unit/cpus_test.cc), not the host's cores.

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "omnibus/base/str_cat.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The first `n` CPUs of this process's affinity mask (fewer if it has fewer).
std::vector<int> FirstCpus(int n) {
  std::vector<int> cpus;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE && static_cast<int>(cpus.size()) < n; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

int HostCpus() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

TEST(DefaultShardsTest, OneCpuInTheMaskGivesOneShard) {
  if (getenv("OMNIBUS_TEST_SERVER") != nullptr) GTEST_SKIP() << "the shard count is ours";
  ServerProcess::Options options;
  options.cpu_affinity = FirstCpus(1);
  ASSERT_EQ(options.cpu_affinity.size(), 1u);
  ServerProcess server({}, options);
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(InfoField(c.get(), "server", "shards"), 1);
  if (HostCpus() > 1) {
    // The start-up log says how the count was derived (on a 1-core host nothing narrows it).
    EXPECT_THAT(server.Log(),
                HasSubstr(StrCat("1 CPU usable (affinity 1 of ", HostCpus(), ", cgroup quota ")));
    EXPECT_THAT(server.Log(), HasSubstr("): 1 shard\n"));
  }
}

TEST(DefaultShardsTest, AWiderMaskGivesMaskMinusOneShards) {
  if (getenv("OMNIBUS_TEST_SERVER") != nullptr) GTEST_SKIP() << "the shard count is ours";
  ServerProcess::Options options;
  options.cpu_affinity = FirstCpus(3);
  int mask = static_cast<int>(options.cpu_affinity.size());
  ServerProcess server({}, options);
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_NE(c, nullptr);
  int64_t shards = InfoField(c.get(), "server", "shards");
  std::string log = server.Log();
  if (log.find("cgroup quota none") != std::string::npos) {
    // The mask alone narrows the host's cores (on a host with more than `mask` of them).
    EXPECT_EQ(shards, std::max(1, mask - 1));
    EXPECT_THAT(log, HasSubstr(StrCat(mask, " CPUs usable (affinity ", mask, " of ", HostCpus(),
                                      ", cgroup quota none)")));
  } else if (log.find("usable (affinity") == std::string::npos) {
    // Nothing narrows them (this 2-core machine with a mask of both): cores - 1, no log line.
    EXPECT_EQ(mask, HostCpus());
    EXPECT_EQ(shards, std::max(1, mask - 1));
  } else {
    // A cgroup quota of the machine running the test narrows it further; never wider.
    EXPECT_GE(shards, 1);
    EXPECT_LE(shards, std::max(1, mask - 1));
  }
}

TEST(DefaultShardsTest, ExplicitShardsWinOverTheMask) {
  if (getenv("OMNIBUS_TEST_SERVER") != nullptr) GTEST_SKIP() << "the shard count is ours";
  ServerProcess::Options options;
  options.cpu_affinity = FirstCpus(1);
  ServerProcess server({"--shards", "3"}, options);
  ASSERT_TRUE(server.ok()) << server.error();
  RedisConn c = server.Connect();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(InfoField(c.get(), "server", "shards"), 3);
  EXPECT_THAT(server.Log(), Not(HasSubstr("usable (affinity")));
}

}  // namespace
}  // namespace omnibus::testing
