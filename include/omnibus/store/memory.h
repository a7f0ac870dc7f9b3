#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <utility>

namespace omnibus {

// Counted memory (DESIGN §10.8): every allocation the keyspace makes for keys and values goes
// through these functions, which add the allocator's real block size (its size class, not the
// requested size) to the calling thread's count. A shard thread's count is the bytes its
// keyspace holds; INFO's used_memory sums the shards'. A parked command (§6) runs on one of
// the parked shards and charges that shard for what it allocates in the others, so the
// per-shard split is approximate across such commands while the sum stays exact.
void* StoreAlloc(size_t bytes);
void* StoreRealloc(void* p, size_t bytes);
void StoreFree(void* p);
// Bytes currently held through Store* by this thread (may be negative on one shard after a
// parked command freed another shard's memory; see above).
int64_t StoreAllocatedBytes();
// The block size the allocator really uses for `p`.
size_t StoreBlockSize(const void* p);

// Lazy free (store/lazy_free.h): a thread that frees memory another thread counted hands the
// bytes back to the counting thread, so the shard that allocated a value stops counting it
// once it is gone, wherever it was freed. A handle on this thread's returned bytes (created on
// first use; it outlives the thread while a handed-off value still points at it).
std::shared_ptr<std::atomic<int64_t>> StoreReturnedBytesHandle();
// Runs `free_fn` (which frees counted memory on the calling thread) and credits what it freed
// to the thread behind `owner`, leaving the calling thread's own count unchanged. Returns the
// bytes freed.
int64_t StoreFreeOnBehalf(const std::shared_ptr<std::atomic<int64_t>>& owner,
                          const std::function<void()>& free_fn);

// What the allocator itself says (MEMORY STATS' allocator.* fields): bytes handed out, bytes
// in pages it keeps (committed), and resident bytes. Where the allocator cannot tell what it
// handed out process-wide (mimalloc without statistics), `counted` (used_memory) stands in.
struct AllocatorFigures {
  int64_t allocated = 0;
  int64_t active = 0;
  int64_t resident = 0;
};
AllocatorFigures StoreAllocatorFigures(int64_t counted);
// The process's resident set size, in bytes.
int64_t ProcessResidentBytes();
// MEMORY MALLOC-STATS: the allocator's statistics report; empty if it has none.
std::string StoreAllocatorStatsText();
// The allocator's name for INFO's mem_allocator and MEMORY DOCTOR ("mimalloc-2.0.9", "libc").
const char* StoreAllocatorName();

// `new T(args...)` and `delete p` in counted memory, for a container's own structure.
template <typename T, typename... Args>
T* StoreNew(Args&&... args) {
  void* mem = StoreAlloc(sizeof(T));
  return new (mem) T(std::forward<Args>(args)...);
}
template <typename T>
void StoreDelete(T* p) {
  if (p == nullptr) return;
  p->~T();
  StoreFree(p);
}

// std-compatible allocator over StoreAlloc, for the large forms of containers.
template <typename T>
struct StoreAllocator {
  using value_type = T;
  StoreAllocator() = default;
  template <typename U>
  StoreAllocator(const StoreAllocator<U>&) {}  // NOLINT: implicit by design
  T* allocate(size_t n) {
    if (n > std::numeric_limits<size_t>::max() / sizeof(T)) throw std::bad_alloc();
    return static_cast<T*>(StoreAlloc(n * sizeof(T)));
  }
  void deallocate(T* p, size_t) { StoreFree(p); }
  template <typename U>
  bool operator==(const StoreAllocator<U>&) const {
    return true;
  }
};

}  // namespace omnibus
