#include "omnibus/io/poller.h"

#include <cstdint>

namespace omnibus {

#if defined(__linux__)
std::unique_ptr<Poller> MakeEpollPoller(std::string* error);
#endif
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
std::unique_ptr<Poller> MakeKqueuePoller(std::string* error);
#endif

std::unique_ptr<Poller> MakePoller(const std::string& backend, std::string* error) {
#if defined(__linux__)
  if (backend == "epoll" || backend.empty()) return MakeEpollPoller(error);
#endif
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
  if (backend == "kqueue" || backend.empty()) return MakeKqueuePoller(error);
#endif
  *error = "io-backend '" + backend + "' is not available on this platform";
  return nullptr;
}

}  // namespace omnibus
