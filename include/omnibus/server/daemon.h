#pragma once

#include <string>
#include <string_view>

namespace omnibus {

// Redis's process management (daemonize, pidfile, supervised), for main().

// daemonize yes: forks; the child calls setsid() and points stdin/stdout/stderr at /dev/null.
// Unlike Redis, the parent does not exit at once: it waits until the child reports through
// the returned descriptor (ReportStarted) and exits 0 once the child listens, or prints the
// child's error and exits 1. Call before any thread starts. Returns the descriptor to report
// through (in the child), or -1 with `error` set when fork/pipe failed.
int Daemonize(std::string* error);
// In the daemonized child: tells the waiting parent how start-up went ("" = listening).
void ReportStarted(int fd, std::string_view error);

// Writes the process id to `path` ("%d\n"); false with `error` (strerror) when it cannot.
bool WritePidFile(const std::string& path, std::string* error);

// supervised no|upstart|systemd|auto resolved against the environment, as Redis's
// redisIsSupervised: "systemd" (NOTIFY_SOCKET set), "upstart" (UPSTART_JOB set) or "no".
// Logs Redis's warning when a mode was asked for and its variable is missing.
std::string ResolveSupervised(const std::string& mode);
// systemd: sends `state` ("READY=1\n", "STATUS=...\n", "STOPPING=1\n") to $NOTIFY_SOCKET
// over a unix datagram socket (an '@' path is in the abstract namespace). Returns false when
// it could not be sent (logged).
bool NotifySystemd(std::string_view state);

}  // namespace omnibus
