#include "omnibus/server/cpus.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"

namespace omnibus {
namespace {

// Where one cgroup hierarchy is mounted and which of its cgroups that mount shows as its top.
struct CgroupMount {
  std::string mount_point;       // e.g. /sys/fs/cgroup or /sys/fs/cgroup/cpu,cpuacct
  std::string mount_root = "/";  // the cgroup the mount point shows (a container's own)
};

// The first line of a file, without surrounding blanks.
bool ReadFirstLine(const std::string& path, std::string* line) {
  std::ifstream in(path);
  if (!in.is_open() || !std::getline(in, *line)) return false;
  absl::StripAsciiWhitespace(line);
  return true;
}

// Ours, not absl::StrSplit: Debian's abseil has its own string_view, not std's.
std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    size_t pos = s.find(sep);
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) return out;
    s.remove_prefix(pos + 1);
  }
}

bool ListHas(std::string_view comma_list, std::string_view item) {
  for (std::string_view x : Split(comma_list, ',')) {
    if (x == item) return true;
  }
  return false;
}

// mountinfo escapes blanks and backslashes in paths as \ooo (octal).
std::string UnescapeMountPath(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The cgroup v2 mount and the cgroup v1 mount holding the cpu controller, from mountinfo:
// "ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS".
// False if mountinfo cannot be read.
bool FindCgroupMounts(const std::string& root, CgroupMount* v2, bool* has_v2, CgroupMount* v1,
                      bool* has_v1) {
  std::ifstream in(root + "/proc/self/mountinfo");
  if (!in.is_open()) return false;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string_view> f = Split(line, ' ');
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) continue;
    std::string_view fstype = dash[1];
    std::string_view super_options = dash[3];
    CgroupMount m{UnescapeMountPath(f[4]), UnescapeMountPath(f[3])};
    if (fstype == "cgroup2" && !*has_v2) {
      *v2 = m;
      *has_v2 = true;
    } else if (fstype == "cgroup" && !*has_v1 && ListHas(super_options, "cpu")) {
      *v1 = m;
      *has_v1 = true;
    }
  }
  return true;
}

// The process's cgroup path relative to what `mount` shows. A path outside it (a cgroup
// namespace shows "/.." paths) maps to the mount's top: the nearest cgroup we can read.
std::string PathInMount(const std::string& cgroup_path, const CgroupMount& mount) {
  if (cgroup_path.find("/..") != std::string::npos) return "/";
  if (mount.mount_root == "/" || mount.mount_root.empty()) return cgroup_path;
  if (cgroup_path == mount.mount_root) return "/";
  if (cgroup_path.starts_with(mount.mount_root + "/"))
    return cgroup_path.substr(mount.mount_root.size());
  return "/";
}

// cgroup v2 cpu.max: "max 100000" (no limit) or "QUOTA PERIOD" in microseconds. 0: no limit.
double ReadCpuMax(const std::string& dir) {
  std::string line;
  if (!ReadFirstLine(dir + "/cpu.max", &line)) return 0;
  std::vector<std::string_view> f = Split(line, ' ');
  int64_t quota = 0;
  int64_t period = 100000;  // the kernel's default when a writer gives the quota alone
  if (f[0] == "max" || !ParseInt64(f[0], &quota) || quota <= 0) return 0;
  if (f.size() > 1 && (!ParseInt64(f[1], &period) || period <= 0)) return 0;
  return static_cast<double>(quota) / static_cast<double>(period);
}

// cgroup v1: cpu.cfs_quota_us (-1: no limit) over cpu.cfs_period_us. 0: no limit.
double ReadCfsQuota(const std::string& dir) {
  std::string quota_text, period_text;
  int64_t quota = 0, period = 0;
  if (!ReadFirstLine(dir + "/cpu.cfs_quota_us", &quota_text) ||
      !ReadFirstLine(dir + "/cpu.cfs_period_us", &period_text) || !ParseInt64(quota_text, &quota) ||
      !ParseInt64(period_text, &period) || quota <= 0 || period <= 0)
    return 0;
  return static_cast<double>(quota) / static_cast<double>(period);
}

// The tightest limit from the process's cgroup up to the top of `mount`.
double TightestInHierarchy(const std::string& root, const CgroupMount& mount,
                           const std::string& cgroup_path, double (*read)(const std::string&)) {
  double best = 0;
  std::string dir = PathInMount(cgroup_path, mount);
  while (true) {
    double q = read(root + mount.mount_point + (dir == "/" ? "" : dir));
    if (q > 0 && (best == 0 || q < best)) best = q;
    if (dir.empty() || dir == "/") break;
    dir.resize(dir.rfind('/'));
    if (dir.empty()) dir = "/";
  }
  return best;
}

}  // namespace

int CpuBudget::Usable() const {
  int usable = std::max(affinity, 1);
  if (quota > 0) usable = std::min(usable, std::max(1, static_cast<int>(std::ceil(quota))));
  return usable;
}

std::string CpuBudget::Describe() const {
  int usable = Usable();
  return StrCat(usable, usable == 1 ? " CPU" : " CPUs", " usable (affinity ", affinity, " of ",
                host, ", cgroup quota ", quota > 0 ? StrFormat("%g", quota) : "none", ")");
}

double CgroupCpuQuota(const std::string& root) {
  // /proc/self/cgroup: "ID:CONTROLLERS:PATH" per hierarchy; cgroup v2's is "0::PATH".
  std::ifstream in(root + "/proc/self/cgroup");
  if (!in.is_open()) return 0;
  std::string v2_path, v1_path;
  bool in_v2 = false, in_v1 = false;
  std::string line;
  while (std::getline(in, line)) {
    size_t first = line.find(':');
    size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    std::string_view id = std::string_view(line).substr(0, first);
    std::string_view controllers = std::string_view(line).substr(first + 1, second - first - 1);
    std::string path = line.substr(second + 1);
    if (id == "0" && controllers.empty()) {
      v2_path = path;
      in_v2 = true;
    } else if (ListHas(controllers, "cpu")) {
      v1_path = path;
      in_v1 = true;
    }
  }
  CgroupMount v2, v1;
  bool has_v2 = false, has_v1 = false;
  if (!FindCgroupMounts(root, &v2, &has_v2, &v1, &has_v1)) {
    // No mountinfo: the usual places (v2 unified; v1 cpu controller, alone or with cpuacct).
    v2.mount_point = "/sys/fs/cgroup";
    has_v2 = true;
    v1.mount_point = "/sys/fs/cgroup/cpu,cpuacct";
    std::string probe;
    if (!ReadFirstLine(root + v1.mount_point + "/cpu.cfs_period_us", &probe))
      v1.mount_point = "/sys/fs/cgroup/cpu";
    has_v1 = true;
  }
  double best = 0;
  auto take = [&best](double q) {
    if (q > 0 && (best == 0 || q < best)) best = q;
  };
  if (in_v2 && has_v2) take(TightestInHierarchy(root, v2, v2_path, &ReadCpuMax));
  if (in_v1 && has_v1) take(TightestInHierarchy(root, v1, v1_path, &ReadCfsQuota));
  return best;
}

int AffinityCpuCount() {
#if defined(__linux__)
  // The mask may be wider than cpu_set_t's 1024 CPUs: grow until the kernel accepts it.
  for (int n = 1024; n <= (1 << 20); n *= 2) {
    cpu_set_t* set = CPU_ALLOC(n);
    if (set == nullptr) return 0;
    size_t size = CPU_ALLOC_SIZE(n);
    int count = sched_getaffinity(0, size, set) == 0 ? CPU_COUNT_S(size, set) : -1;
    CPU_FREE(set);
    if (count >= 0) return count;
    if (errno != EINVAL) return 0;
  }
#endif
  return 0;
}

CpuBudget ProbeCpuBudget() {
  CpuBudget b;
  b.host = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  int affinity = AffinityCpuCount();
  b.affinity = affinity > 0 ? affinity : b.host;
  b.quota = CgroupCpuQuota("");
  return b;
}

}  // namespace omnibus
