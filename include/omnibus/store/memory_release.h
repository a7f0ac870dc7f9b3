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

}  // namespace omnibus
