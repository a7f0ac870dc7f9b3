#include "omnibus/store/memory.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "omnibus/base/str_cat.h"

#if defined(OMNIBUS_MIMALLOC)
#include <mimalloc.h>
#endif

namespace omnibus {
namespace {

// One count per thread: shards never share a thread, so no atomics are needed.
thread_local int64_t allocated_bytes = 0;
// Bytes of this thread's count that another thread freed (lazy free) and handed back.
thread_local std::shared_ptr<std::atomic<int64_t>> returned_bytes;

}  // namespace

size_t StoreBlockSize(const void* p) {
  return p == nullptr ? 0 : malloc_usable_size(const_cast<void*>(p));
}

void* StoreAlloc(size_t bytes) {
  void* p = malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  // malloc_usable_size, not StoreBlockSize: GCC 12 reads a const void* parameter as a read
  // of the (uninitialized) block and warns under the sanitizers.
  allocated_bytes += static_cast<int64_t>(malloc_usable_size(p));
  return p;
}

void* StoreRealloc(void* p, size_t bytes) {
  int64_t before = static_cast<int64_t>(StoreBlockSize(p));
  void* q = realloc(p, bytes == 0 ? 1 : bytes);
  if (q == nullptr) throw std::bad_alloc();
  allocated_bytes += static_cast<int64_t>(malloc_usable_size(q)) - before;
  return q;
}

void StoreFree(void* p) {
  if (p == nullptr) return;
  allocated_bytes -= static_cast<int64_t>(StoreBlockSize(p));
  free(p);
}

int64_t StoreAllocatedBytes() {
  if (returned_bytes == nullptr) return allocated_bytes;
  return allocated_bytes - returned_bytes->load(std::memory_order_relaxed);
}

std::shared_ptr<std::atomic<int64_t>> StoreReturnedBytesHandle() {
  if (returned_bytes == nullptr) returned_bytes = std::make_shared<std::atomic<int64_t>>(0);
  return returned_bytes;
}

int64_t StoreFreeOnBehalf(const std::shared_ptr<std::atomic<int64_t>>& owner,
                          const std::function<void()>& free_fn) {
  int64_t before = allocated_bytes;
  free_fn();
  int64_t freed = before - allocated_bytes;
  allocated_bytes = before;
  owner->fetch_add(freed, std::memory_order_relaxed);
  return freed;
}

int64_t ProcessResidentBytes() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages = 0, resident = 0;
  int n = fscanf(f, "%ld %ld", &pages, &resident);
  fclose(f);
  return n == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE) : 0;
}

AllocatorFigures StoreAllocatorFigures(int64_t counted) {
  AllocatorFigures f;
#if defined(OMNIBUS_MIMALLOC)
  size_t elapsed, user, sys, rss, peak_rss, commit, peak_commit, faults;
  mi_process_info(&elapsed, &user, &sys, &rss, &peak_rss, &commit, &peak_commit, &faults);
  // mimalloc has no process-wide "allocated" without its statistics build; on Linux its rss
  // is the committed size, so the process's own RSS bounds it.
  (void)rss;
  f.allocated = counted;
  f.active = static_cast<int64_t>(commit);
  f.resident = std::min(f.active, ProcessResidentBytes());
#else
  struct mallinfo2 mi = mallinfo2();
  f.allocated = static_cast<int64_t>(mi.uordblks + mi.hblkhd);
  f.active = static_cast<int64_t>(mi.arena + mi.hblkhd);
  f.resident = ProcessResidentBytes();
  (void)counted;
#endif
  return f;
}

std::string StoreAllocatorStatsText() {
#if defined(OMNIBUS_MIMALLOC)
  std::string out;
  mi_stats_merge();
  mi_stats_print_out(
      [](const char* msg, void* arg) { static_cast<std::string*>(arg)->append(msg); }, &out);
  return out;
#else
  return {};
#endif
}

const char* StoreAllocatorName() {
#if defined(OMNIBUS_MIMALLOC)
  static const std::string name = StrCat("mimalloc-", MI_MALLOC_VERSION / 100, ".",
                                         MI_MALLOC_VERSION / 10 % 10, ".", MI_MALLOC_VERSION % 10);
  return name.c_str();
#else
  return "libc";
#endif
}

}  // namespace omnibus
