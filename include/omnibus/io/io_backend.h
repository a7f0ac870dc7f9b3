#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>

namespace omnibus {

// The reactor's I/O, as operations rather than readiness (DESIGN §7): accept on a listener,
// receive a connection's bytes, send a list of chunks. Two kinds implement it:
// - readiness backends (epoll, kqueue: a Poller behind ReadinessBackend) perform each
//   operation with a system call when the poller says the socket is ready;
// - io_uring (UringBackend) keeps a multishot accept and a multishot receive armed in the
//   kernel, submits sends, and enters the kernel once per loop iteration for all of them.
// Connection ids are file descriptors; each is Open()ed after accept and Close()d once.
// Runs on: reactor thread (Wake() on any thread).
class IoBackend {
 public:
  struct Event {
    enum class Kind : uint8_t {
      kWake,      // Wake() was called
      kAccepted,  // a listener's new connection: result = its fd, or -errno (see Listen)
      kReadable,  // Read() on the connection may return bytes (or the end of the stream)
      kWritable,  // a Send() that returned -EAGAIN may be retried
      kSent,      // a Send() that returned kPending finished: result = bytes sent, or -errno
    };
    Kind kind;
    void* data;                // the listener's or the connection's (Listen, Open, Send)
    int64_t result = 0;        // see kind
    bool peer_closed = false;  // the peer will send nothing more (FIN), maybe after unread data
    bool hangup = false;       // error or peer closed both directions
  };

  // What Send() returns when the send completes later, as a kSent event. Until then the
  // bytes the iovecs point at must stay where they are.
  static constexpr ssize_t kPending = -(1 << 20);

  virtual ~IoBackend() = default;
  virtual const char* name() const = 0;
  // Whether Send() returns kPending (the caller must then keep the bytes in place).
  virtual bool sends_complete_later() const = 0;

  // Accepts connections on a listening socket until Close; each arrives as a kAccepted event.
  // After an accept error for lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM; reported as
  // a kAccepted event with -errno) the listener pauses until ResumeAccept.
  virtual bool Listen(int fd, void* data) = 0;
  virtual void ResumeAccept(int fd) = 0;
  // Starts receiving on a connection: kReadable events until Close.
  virtual bool Open(int fd, void* data) = 0;
  // Up to `max` received bytes into `dst`: the count, 0 at the end of the stream, -EAGAIN when
  // nothing is there now (a kReadable event follows when there is), or -errno.
  virtual ssize_t Read(int fd, char* dst, size_t max) = 0;
  // Sends the bytes of `iov` (in order, at most kMaxIov entries): the count sent now (maybe
  // fewer), kPending, -EAGAIN (a kWritable event follows when the socket takes more), or
  // -errno. At most one send per connection is pending at a time.
  virtual ssize_t Send(int fd, void* data, const iovec* iov, int iovcnt) = 0;
  // Stops every operation on `fd` and closes it. A pending send still reports its kSent event
  // (with the connection's data), so its bytes must outlive it.
  virtual void Close(int fd) = 0;

  // Waits up to timeout_ms (-1: forever) for events; returns how many it wrote to `events`,
  // or -1 on error.
  virtual int Wait(Event* events, int max_events, int timeout_ms) = 0;
  virtual void Wake() = 0;
  // Gives memory a burst took (receive buffers, send operations) back to the OS; for the
  // idle-release pass.
  virtual void ReleaseIdleMemory() {}
  // Memory holding bytes received for connections and not yet Read: client buffers (§10.8).
  virtual size_t buffered_bytes() const { return 0; }

  static constexpr int kMaxIov = 64;
};

// Options for MakeIoBackend.
struct IoBackendOptions {
  std::string backend;  // io-backend: "epoll", "kqueue", "uring"; "" is the platform's default
  bool uring_sqpoll = false;  // io-uring-sqpoll: a kernel thread submits (IORING_SETUP_SQPOLL)
};

// The backend asked for. When io_uring is asked for but the kernel lacks a feature it needs,
// falls back to epoll and sets *fallback_reason (the caller logs it). Returns null (with
// `error` set) if no backend can run here.
std::unique_ptr<IoBackend> MakeIoBackend(const IoBackendOptions& options, std::string* error,
                                         std::string* fallback_reason);

}  // namespace omnibus
