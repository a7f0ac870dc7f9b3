#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace omnibus {

// A readiness API (epoll, kqueue), kept as small as Redis's ae backends: add, remove, wait,
// plus a wake-up another thread can trigger. The reactor sees it through ReadinessBackend,
// which performs IoBackend's operations (io/io_backend.h) when it reports a socket ready. Sockets
// are registered once for both directions, edge-triggered, so the reactor never re-arms interest
// per request. Runs on: reactor thread (Wake() on any thread).
class Poller {
 public:
  struct Event {
    void* data;
    bool readable;
    bool writable;
    bool hangup;       // error or peer closed both directions
    bool peer_closed;  // the peer will send nothing more (FIN), maybe after unread data
  };

  virtual ~Poller() = default;
  virtual const char* name() const = 0;
  virtual bool Add(int fd, void* data) = 0;
  virtual void Remove(int fd) = 0;
  // Waits up to timeout_ms (-1: forever). A Wake() shows up as an event whose data is
  // kWakeTag.
  virtual int Wait(Event* events, int max_events, int timeout_ms) = 0;
  virtual void Wake() = 0;

  static inline void* const kWakeTag = reinterpret_cast<void*>(uintptr_t{1});
};

// "epoll" on Linux, "kqueue" on macOS/BSD. Returns null (with `error` set) if the backend is
// not available on this platform.
std::unique_ptr<Poller> MakePoller(const std::string& backend, std::string* error);

}  // namespace omnibus
