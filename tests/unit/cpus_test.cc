// CgroupCpuQuota over fake /proc and /sys trees, CpuBudget's arithmetic, and the default shard
// count it gives.

#include "omnibus/server/cpus.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "omnibus/server/config.h"

namespace omnibus {
namespace {

namespace fs = std::filesystem;

// A temporary directory standing for "/": tests write the /proc and /sys files they need.
class FakeRoot {
 public:
  FakeRoot() {
    std::string tmpl = (fs::temp_directory_path() / "omnibus-cpus-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
  }
  ~FakeRoot() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  FakeRoot(const FakeRoot&) = delete;
  FakeRoot& operator=(const FakeRoot&) = delete;

  const std::string& dir() const { return dir_; }
  // Writes `text` to `path` (absolute, as on the real system) under the fake root.
  void Write(const std::string& path, const std::string& text) {
    fs::path full = fs::path(dir_ + path);
    fs::create_directories(full.parent_path());
    std::ofstream(full) << text;
  }
  double Quota() const { return CgroupCpuQuota(dir_); }

 private:
  std::string dir_;
};

// A mountinfo line for a cgroup v2 mount.
std::string V2Mount(const std::string& root, const std::string& mount_point) {
  return "41 31 0:38 " + root + " " + mount_point +
         " rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
}

// A mountinfo line for a cgroup v1 mount with `controllers` (e.g. "cpu,cpuacct").
std::string V1Mount(const std::string& root, const std::string& mount_point,
                    const std::string& controllers) {
  return "32 31 0:29 " + root + " " + mount_point +
         " rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw," + controllers + "\n";
}

const char kProcMounts[] = "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n";

TEST(CgroupCpuQuotaTest, V2FractionalQuota) {
  FakeRoot root;
  ASSERT_FALSE(root.dir().empty());
  root.Write("/proc/self/cgroup", "0::/app.slice/omnibus.service\n");
  root.Write("/proc/self/mountinfo", kProcMounts + V2Mount("/", "/sys/fs/cgroup"));
  root.Write("/sys/fs/cgroup/app.slice/omnibus.service/cpu.max", "150000 100000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 1.5);
  CpuBudget b{.host = 64, .affinity = 64, .quota = root.Quota()};
  EXPECT_EQ(b.Usable(), 2);  // 1.5 CPUs round up
  EXPECT_EQ(b.Describe(), "2 CPUs usable (affinity 64 of 64, cgroup quota 1.5)");
}

TEST(CgroupCpuQuotaTest, V2MaxIsNoLimit) {
  FakeRoot root;
  root.Write("/proc/self/cgroup", "0::/app\n");
  root.Write("/proc/self/mountinfo", V2Mount("/", "/sys/fs/cgroup"));
  root.Write("/sys/fs/cgroup/app/cpu.max", "max 100000\n");
  EXPECT_EQ(root.Quota(), 0);
  root.Write("/sys/fs/cgroup/app/cpu.max", "max\n");
  EXPECT_EQ(root.Quota(), 0);
  root.Write("/sys/fs/cgroup/app/cpu.max", "300000\n");  // quota alone: default period
  EXPECT_DOUBLE_EQ(root.Quota(), 3);
  root.Write("/sys/fs/cgroup/app/cpu.max", "garbage 100000\n");
  EXPECT_EQ(root.Quota(), 0);
}

TEST(CgroupCpuQuotaTest, V2NestedLimitsTakeTheTightest) {
  FakeRoot root;
  root.Write("/proc/self/cgroup", "0::/a/b/c\n");
  root.Write("/proc/self/mountinfo", V2Mount("/", "/sys/fs/cgroup"));
  root.Write("/sys/fs/cgroup/a/b/c/cpu.max", "max 100000\n");
  root.Write("/sys/fs/cgroup/a/b/cpu.max", "400000 100000\n");
  root.Write("/sys/fs/cgroup/a/cpu.max", "200000 100000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 2);  // the grandparent's
  root.Write("/sys/fs/cgroup/a/b/c/cpu.max", "50000 100000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 0.5);  // the process's own
  CpuBudget b{.host = 8, .affinity = 8, .quota = root.Quota()};
  EXPECT_EQ(b.Usable(), 1);  // never less than one CPU
  // A sibling's limit is not ours.
  root.Write("/sys/fs/cgroup/a/x/cpu.max", "10000 100000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 0.5);
}

TEST(CgroupCpuQuotaTest, V2ContainerSeesItsCgroupAsTheMountTop) {
  // Without a cgroup namespace, a container's /proc/self/cgroup names the host's path while
  // its /sys/fs/cgroup shows that cgroup as the top.
  FakeRoot root;
  root.Write("/proc/self/cgroup", "0::/system.slice/docker-abc.scope\n");
  root.Write("/proc/self/mountinfo", V2Mount("/system.slice/docker-abc.scope", "/sys/fs/cgroup"));
  root.Write("/sys/fs/cgroup/cpu.max", "200000 100000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 2);
  // With one (cgroup path outside the namespace's root): the mount's top is what we can see.
  root.Write("/proc/self/cgroup", "0::/../../elsewhere\n");
  root.Write("/proc/self/mountinfo", V2Mount("/", "/sys/fs/cgroup"));
  EXPECT_DOUBLE_EQ(root.Quota(), 2);
}

TEST(CgroupCpuQuotaTest, V2WithoutMountinfoUsesTheUsualPlace) {
  FakeRoot root;
  root.Write("/proc/self/cgroup", "0::/svc\n");
  root.Write("/sys/fs/cgroup/svc/cpu.max", "100000 100000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 1);
}

TEST(CgroupCpuQuotaTest, V2MountPointWithEscapedBlank) {
  FakeRoot root;
  root.Write("/proc/self/cgroup", "0::/svc\n");
  root.Write("/proc/self/mountinfo", V2Mount("/", "/my\\040cgroups"));
  root.Write("/my cgroups/svc/cpu.max", "300000 100000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 3);
}

TEST(CgroupCpuQuotaTest, V1Quota) {
  FakeRoot root;
  root.Write("/proc/self/cgroup",
             "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n");
  root.Write("/proc/self/mountinfo", std::string(kProcMounts) +
                                         V1Mount("/", "/sys/fs/cgroup/memory", "memory") +
                                         V1Mount("/", "/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct"));
  root.Write("/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "250000\n");
  root.Write("/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 2.5);
  CpuBudget b{.host = 64, .affinity = 64, .quota = root.Quota()};
  EXPECT_EQ(b.Usable(), 3);
  // -1: no limit here; the parent's then binds.
  root.Write("/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(root.Quota(), 0);
  root.Write("/sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_quota_us", "400000\n");
  root.Write("/sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_period_us", "100000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 4);
  // The memory controller's files are not the cpu controller's.
  root.Write("/sys/fs/cgroup/memory/docker/abc/cpu.cfs_quota_us", "100000\n");
  root.Write("/sys/fs/cgroup/memory/docker/abc/cpu.cfs_period_us", "100000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 4);
}

TEST(CgroupCpuQuotaTest, V1WithoutMountinfoUsesTheUsualPlaces) {
  FakeRoot root;
  root.Write("/proc/self/cgroup", "3:cpuacct,cpu:/job\n");
  root.Write("/sys/fs/cgroup/cpu/job/cpu.cfs_quota_us", "100000\n");
  root.Write("/sys/fs/cgroup/cpu/job/cpu.cfs_period_us", "50000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 2);
  root.Write("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  root.Write("/sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_quota_us", "300000\n");
  root.Write("/sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_period_us", "100000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 3);
}

TEST(CgroupCpuQuotaTest, HybridTakesTheTighterOfBoth) {
  FakeRoot root;
  root.Write("/proc/self/cgroup", "2:cpu:/v1\n0::/v2\n");
  root.Write("/proc/self/mountinfo",
             V1Mount("/", "/sys/fs/cgroup/cpu", "cpu") + V2Mount("/", "/sys/fs/cgroup/unified"));
  root.Write("/sys/fs/cgroup/cpu/v1/cpu.cfs_quota_us", "-1\n");
  root.Write("/sys/fs/cgroup/cpu/v1/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(root.Quota(), 0);
  root.Write("/sys/fs/cgroup/unified/v2/cpu.max", "600000 100000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 6);
  root.Write("/sys/fs/cgroup/cpu/v1/cpu.cfs_quota_us", "500000\n");
  EXPECT_DOUBLE_EQ(root.Quota(), 5);
}

TEST(CgroupCpuQuotaTest, NoCgroupFilesMeansTheAffinityAlone) {
  FakeRoot root;
  ASSERT_FALSE(root.dir().empty());
  EXPECT_EQ(root.Quota(), 0);
  root.Write("/proc/self/cgroup", "0::/\n");
  root.Write("/proc/self/mountinfo", kProcMounts);
  EXPECT_EQ(root.Quota(), 0);
  CpuBudget b{.host = 16, .affinity = 3, .quota = root.Quota()};
  EXPECT_EQ(b.Usable(), 3);
  EXPECT_EQ(b.Describe(), "3 CPUs usable (affinity 3 of 16, cgroup quota none)");
}

TEST(CpuBudgetTest, TheSmallerOfAffinityAndQuota) {
  EXPECT_EQ((CpuBudget{.host = 64, .affinity = 2, .quota = 4}).Usable(), 2);
  EXPECT_EQ((CpuBudget{.host = 64, .affinity = 8, .quota = 4}).Usable(), 4);
  EXPECT_EQ((CpuBudget{.host = 64, .affinity = 8, .quota = 4.01}).Usable(), 5);
  EXPECT_EQ((CpuBudget{.host = 64, .affinity = 64, .quota = 0}).Usable(), 64);
  EXPECT_EQ((CpuBudget{.host = 4, .affinity = 0, .quota = 0}).Usable(), 1);
}

TEST(CpuBudgetTest, DefaultShardCountFollowsTheUsableCpus) {
  std::string why;
  // A container limited to 2 CPUs on a 64-core host: one shard, not 63.
  EXPECT_EQ(DefaultShardCount(CpuBudget{.host = 64, .affinity = 64, .quota = 2}, &why), 1);
  EXPECT_EQ(why, "2 CPUs usable (affinity 64 of 64, cgroup quota 2): 1 shard");
  EXPECT_EQ(DefaultShardCount(CpuBudget{.host = 64, .affinity = 5, .quota = 0}, &why), 4);
  EXPECT_EQ(why, "5 CPUs usable (affinity 5 of 64, cgroup quota none): 4 shards");
  EXPECT_EQ(DefaultShardCount(CpuBudget{.host = 64, .affinity = 1, .quota = 0}, &why), 1);
  EXPECT_EQ(why, "1 CPU usable (affinity 1 of 64, cgroup quota none): 1 shard");
  // Nothing narrows the host's cores: nothing to explain.
  EXPECT_EQ(DefaultShardCount(CpuBudget{.host = 8, .affinity = 8, .quota = 0}, &why), 7);
  EXPECT_EQ(why, "");
  EXPECT_EQ(DefaultShardCount(CpuBudget{.host = 1, .affinity = 1, .quota = 0}, &why), 1);
  EXPECT_EQ(why, "");
}

#if defined(__linux__)
TEST(AffinityCpuCountTest, ReadsTheThreadsMask) {
  int all = AffinityCpuCount();
  ASSERT_GE(all, 1);
  // On a thread of its own, so the test binary's other threads keep their mask.
  int narrowed = -1;
  std::thread([&narrowed] {
    cpu_set_t one;
    CPU_ZERO(&one);
    cpu_set_t current;
    if (sched_getaffinity(0, sizeof(current), &current) != 0) return;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &current)) {
        CPU_SET(cpu, &one);
        break;
      }
    }
    if (sched_setaffinity(0, sizeof(one), &one) == 0) narrowed = AffinityCpuCount();
  }).join();
  EXPECT_EQ(narrowed, 1);
  EXPECT_EQ(AffinityCpuCount(), all);
  EXPECT_GE(ProbeCpuBudget().Usable(), 1);
}
#endif

}  // namespace
}  // namespace omnibus
