#include "omnibus/store/memory_release.h"

#include <malloc.h>

// mimalloc is linked into the server binary only (CMakeLists.txt), so this layer finds it at
// link time if it is there: weak references are null in binaries without it (sanitizer
// builds, unit tests), which then use glibc's trim.
#if __has_include(<mimalloc.h>)
#include <mimalloc.h>
#pragma weak mi_collect
#pragma weak mi_option_get
#pragma weak mi_option_set
#define OMNIBUS_HAVE_MIMALLOC_H 1
#endif

namespace omnibus {

#if defined(OMNIBUS_HAVE_MIMALLOC_H)
#if MI_MALLOC_VERSION < 210
constexpr mi_option_t kDecommitDelay = mi_option_decommit_delay;
#else
constexpr mi_option_t kDecommitDelay = mi_option_purge_delay;
#endif
#endif

// mimalloc decommits a freed span only after its delay, and applies a delay that ran out
// only when the segment is touched again: memory freed while this lives goes back at once.
DecommitNow::DecommitNow() {
#if defined(OMNIBUS_HAVE_MIMALLOC_H)
  if (&mi_option_get == nullptr || &mi_option_set == nullptr) return;
  saved_delay_ = mi_option_get(kDecommitDelay);
  mi_option_set(kDecommitDelay, 0);
#endif
}

DecommitNow::~DecommitNow() {
#if defined(OMNIBUS_HAVE_MIMALLOC_H)
  if (saved_delay_ >= 0) mi_option_set(kDecommitDelay, saved_delay_);
#endif
}

void ReleaseFreeMemory(bool force) {
#if defined(OMNIBUS_HAVE_MIMALLOC_H)
  if (&mi_collect != nullptr) {
    if (force) {
      DecommitNow now;
      mi_collect(true);
    } else {
      mi_collect(false);
    }
    return;
  }
#endif
  (void)force;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer's allocator owns the memory, so there is nothing of glibc's to trim, and
  // glibc's trim racing a thread's exit aborts under TSan ("a->attached_threads > 0").
  return;
#else
  malloc_trim(0);
#endif
}

}  // namespace omnibus
