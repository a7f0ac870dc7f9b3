#include "omnibus/server/limits.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "omnibus/base/logging.h"
#include "omnibus/base/str_cat.h"

namespace omnibus {

bool AdjustOpenFilesLimit(int64_t* maxclients, std::string* error) {
  const auto maxfiles = static_cast<rlim_t>(*maxclients + kMinReservedFds);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == -1) {
    OMNIBUS_LOG(kWarning, "Unable to obtain the current NOFILE limit (", strerror(errno),
                "), assuming 1024 and setting the max clients configuration accordingly.");
    *maxclients = 1024 - kMinReservedFds;
    return true;
  }
  const rlim_t oldlimit = limit.rlim_cur;
  if (oldlimit >= maxfiles) return true;
  // The most the OS allows up to what we need, trying a little less each time (the hard
  // limit, or a privileged raise of it).
  constexpr rlim_t kStep = 16;
  rlim_t best = maxfiles;
  int setrlimit_error = 0;
  while (best > oldlimit) {
    limit.rlim_cur = best;
    limit.rlim_max = best;
    if (setrlimit(RLIMIT_NOFILE, &limit) != -1) break;
    setrlimit_error = errno;
    if (best < kStep) {
      best = oldlimit;
      break;
    }
    best -= kStep;
  }
  if (best < oldlimit) best = oldlimit;  // the limit we started with still holds
  if (best >= maxfiles) {
    OMNIBUS_LOG(kNotice, "Increased maximum number of open files to ", maxfiles,
                " (it was originally set to ", oldlimit, ").");
    return true;
  }
  const int64_t requested = *maxclients;
  if (best <= static_cast<rlim_t>(kMinReservedFds)) {
    *error = StrCat("Your current 'ulimit -n' of ", oldlimit,
                    " is not enough for the server to start. Please increase your open file "
                    "limit to at least ",
                    maxfiles, ". Exiting.");
    return false;
  }
  *maxclients = static_cast<int64_t>(best) - kMinReservedFds;
  OMNIBUS_LOG(kWarning, "You requested maxclients of ", requested, " requiring at least ", maxfiles,
              " max file descriptors.");
  OMNIBUS_LOG(kWarning, "Server can't set maximum open files to ", maxfiles,
              " because of OS error: ", strerror(setrlimit_error), ".");
  OMNIBUS_LOG(kWarning, "Current maximum open files is ", best, ". maxclients has been reduced to ",
              *maxclients,
              " to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'.");
  return true;
}

}  // namespace omnibus
