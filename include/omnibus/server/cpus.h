// How many CPUs this process may actually use: the host's cores narrowed by the affinity mask
// (taskset, cpuset cgroups) and by a cgroup CPU quota (docker --cpus, Kubernetes limits). The
// default shard count follows it, so a container limited to 2 CPUs on a 64-core host does
// not start 63 shard threads.
#pragma once

#include <string>

namespace omnibus {

struct CpuBudget {
  int host = 1;      // CPUs online on the host (std::thread::hardware_concurrency)
  int affinity = 1;  // CPUs in the process's affinity mask
  double quota = 0;  // the tightest cgroup CPU quota, in CPUs (1.5 = 150ms per 100ms); 0: none

  // min(affinity, quota rounded up), at least 1.
  int Usable() const;
  // One line for the log, e.g. "2 CPUs usable (affinity 2 of 64, cgroup quota 1.5)".
  std::string Describe() const;
};

// The tightest cgroup CPU quota of the process, in CPUs, or 0 if none. Reads
// `root`/proc/self/cgroup and `root`/proc/self/mountinfo, then each cgroup directory from the
// process's own up to the hierarchy's root (a parent's limit binds its children): cgroup v2's
// cpu.max and cgroup v1's cpu.cfs_quota_us / cpu.cfs_period_us. `root` is "" for the real
// files; tests pass a directory holding a fake /proc and /sys tree.
double CgroupCpuQuota(const std::string& root);

// CPUs in the calling thread's affinity mask (sched_getaffinity), or 0 if unknown.
int AffinityCpuCount();

// The real budget of this process.
CpuBudget ProbeCpuBudget();

}  // namespace omnibus
