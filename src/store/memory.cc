#include "omnibus/store/memory.h"

#include <malloc.h>

#include <cstdlib>

namespace omnibus {
namespace {

// One count per thread: shards never share a thread, so no atomics are needed.
thread_local int64_t allocated_bytes = 0;

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

int64_t StoreAllocatedBytes() { return allocated_bytes; }

}  // namespace omnibus
