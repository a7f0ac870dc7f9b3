#pragma once

#include <cstdint>

namespace omnibus {

// Wall-clock Unix time (what EXPIREAT, TIME and PEXPIRETIME speak).
int64_t UnixTimeMs();
int64_t UnixTimeUs();
// Monotonic time for durations, timeouts and queue sojourn.
int64_t MonotonicNs();
inline int64_t MonotonicMs() { return MonotonicNs() / 1'000'000; }

}  // namespace omnibus
