#pragma once

namespace omnibus {

// Memory taken for a burst goes back to the OS when the burst is over (DESIGN §10.8).
// Returns the calling thread's free memory to the OS: mimalloc's heaps are per thread, and a
// block another thread freed (a reply a shard built and the reactor sent) is reclaimed only
// by its owner, on its next allocation in that page or here. `force` also decommits at once
// what mimalloc would keep for its purge delay (MEMORY PURGE); without it, memory freed
// longer than that delay ago goes back. Without mimalloc, glibc's malloc_trim.
// Runs on: any thread, for that thread's heap (call it on each: the shards do when idle,
// see Shard::RequestMemoryRelease, and the reactor in its timer).
void ReleaseFreeMemory(bool force);

// While one lives, memory freed (by any thread: the allocator's setting is process-wide) is
// decommitted at once rather than after mimalloc's purge delay: for a pass that frees idle
// buffers and then calls ReleaseFreeMemory(true). Nothing without mimalloc.
class DecommitNow {
 public:
  DecommitNow();
  ~DecommitNow();
  DecommitNow(const DecommitNow&) = delete;
  DecommitNow& operator=(const DecommitNow&) = delete;

 private:
  long saved_delay_ = -1;
};

}  // namespace omnibus
