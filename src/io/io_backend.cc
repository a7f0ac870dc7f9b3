#include "omnibus/io/io_backend.h"

#include "src/io/readiness_backend.h"

namespace omnibus {

std::unique_ptr<IoBackend> MakeIoBackend(const IoBackendOptions& options, std::string* error,
                                         std::string* fallback_reason) {
  std::string readiness = options.backend;
  if (options.backend == "uring") {
#if defined(OMNIBUS_HAVE_URING)
    std::unique_ptr<IoBackend> uring = MakeUringBackend(options, fallback_reason);
    if (uring != nullptr) return uring;
#else
    *fallback_reason = "io_uring is Linux's, and this build has no liburing";
#endif
    readiness.clear();  // the platform's own
  }
  std::unique_ptr<Poller> poller = MakePoller(readiness, error);
  if (poller == nullptr) return nullptr;
  return MakeReadinessBackend(std::move(poller));
}

}  // namespace omnibus
