#include "omnibus/store/memory_release.h"

#include <malloc.h>

// mimalloc is linked into the server binary only (CMakeLists.txt), so this layer finds it at
// link time if it is there: a weak reference is null in binaries without it (sanitizer
// builds, unit tests), which then use glibc's trim.
extern "C" void mi_collect(bool force) __attribute__((weak));

namespace omnibus {

void ReleaseFreeMemory(bool force) {
  if (mi_collect != nullptr) {
    mi_collect(force);
    return;
  }
  malloc_trim(0);
}

}  // namespace omnibus
