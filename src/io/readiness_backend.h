// The backends behind MakeIoBackend (io/io_backend.h), for src/io only.
#pragma once

#include <memory>
#include <string>

#include "omnibus/io/io_backend.h"
#include "omnibus/io/poller.h"

namespace omnibus {

// IoBackend's operations over a readiness poller (epoll, kqueue).
std::unique_ptr<IoBackend> MakeReadinessBackend(std::unique_ptr<Poller> poller);

// io_uring (Linux): null with *reason set when the kernel lacks a feature it needs.
std::unique_ptr<IoBackend> MakeUringBackend(const IoBackendOptions& options, std::string* reason);

}  // namespace omnibus
