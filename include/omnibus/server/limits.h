#pragma once

#include <cstdint>
#include <string>

namespace omnibus {

// Descriptors the server keeps for itself beyond its clients (listeners, the poller, the
// shards' wake-ups, the log): Redis's CONFIG_MIN_RESERVED_FDS.
inline constexpr int64_t kMinReservedFds = 32;

// Redis's adjustOpenFilesLimit: raises RLIMIT_NOFILE to fit `*maxclients` clients plus the
// reserved descriptors, or, when the OS refuses, to the highest limit it allows and lowers
// `*maxclients` to fit, with Redis's log lines. Returns false (with `error` set, Redis's text)
// when the limit leaves no room for any client.
bool AdjustOpenFilesLimit(int64_t* maxclients, std::string* error);

}  // namespace omnibus
