// The operations of IoBackend over a readiness Poller (epoll, kqueue): each operation is one
// system call, made when the poller says the socket is ready.
#include "src/io/readiness_backend.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace omnibus {
namespace {

// Accepts per listener per Wait: a burst of connects is accepted over a few iterations, with
// the clients already accepted served in between.
constexpr int kMaxAcceptsPerTurn = 1000;

bool OutOfResources(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

class ReadinessBackend final : public IoBackend {
 public:
  explicit ReadinessBackend(std::unique_ptr<Poller> poller) : poller_(std::move(poller)) {}

  const char* name() const override { return poller_->name(); }
  bool sends_complete_later() const override { return false; }

  bool Listen(int fd, void* data) override {
    Listener* l = listeners_.emplace_back(std::make_unique<Listener>(fd, data)).get();
    // Tagged (bit 1): connection data are aligned pointers and the wake tag is 1.
    return poller_->Add(fd, reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(l) | 2));
  }

  void ResumeAccept(int fd) override {
    for (auto& l : listeners_) {
      if (l->fd == fd) MarkAcceptable(l.get());
    }
  }

  bool Open(int fd, void* data) override { return poller_->Add(fd, data); }

  ssize_t Read(int fd, char* dst, size_t max) override {
    ssize_t n = read(fd, dst, max);
    return n >= 0 ? n : -errno;
  }

  ssize_t Send(int fd, void*, const iovec* iov, int iovcnt) override {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = static_cast<size_t>(iovcnt);
    for (;;) {
      ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
  }

  void Close(int fd) override {
    for (size_t i = 0; i < listeners_.size(); ++i) {
      if (listeners_[i]->fd != fd) continue;
      std::erase(acceptable_, listeners_[i].get());
      listeners_.erase(listeners_.begin() + static_cast<ptrdiff_t>(i));
      break;
    }
    poller_->Remove(fd);
    close(fd);
  }

  int Wait(Event* events, int max_events, int timeout_ms) override {
    // Listeners with connections left from the last turn: accept them without sleeping.
    if (!acceptable_.empty()) timeout_ms = 0;
    const int raw_max = std::max(1, max_events / 2);  // a socket may give two events
    if (raw_.size() < static_cast<size_t>(raw_max)) raw_.resize(static_cast<size_t>(raw_max));
    int got = poller_->Wait(raw_.data(), raw_max, timeout_ms);
    if (got < 0) return -1;
    int n = 0;
    for (int i = 0; i < got; ++i) {
      const Poller::Event& e = raw_[static_cast<size_t>(i)];
      if (e.data == Poller::kWakeTag) {
        events[n++] = Event{Event::Kind::kWake, nullptr};
        continue;
      }
      auto tag = reinterpret_cast<uintptr_t>(e.data);
      if ((tag & 2) != 0) {
        MarkAcceptable(reinterpret_cast<Listener*>(tag & ~uintptr_t{2}));
        continue;
      }
      if (e.readable) {
        Event& out = events[n++];
        out = Event{Event::Kind::kReadable, e.data};
        out.peer_closed = e.peer_closed;
        out.hangup = e.hangup;
      }
      if (e.writable) events[n++] = Event{Event::Kind::kWritable, e.data};
    }
    AcceptSome(events, max_events, &n);
    return n;
  }

  void Wake() override { poller_->Wake(); }

 private:
  struct Listener {
    Listener(int f, void* d) : fd(f), data(d) {}
    int fd;
    void* data;
    bool idle = true;  // not in acceptable_
  };

  void MarkAcceptable(Listener* l) {
    if (!l->idle) return;
    l->idle = false;
    acceptable_.push_back(l);
  }

  // Accepts from the listeners that have connections pending, until each runs dry, its
  // turn's share is taken, or `events` is full. Edge-triggered: a listener left with
  // connections stays in acceptable_ (no new readiness event would come for them).
  void AcceptSome(Event* events, int max_events, int* n) {
    std::vector<Listener*> again;
    for (Listener* l : acceptable_) {
      bool more = true;
      for (int i = 0; i < kMaxAcceptsPerTurn && *n < max_events; ++i) {
        int fd = accept4(l->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
          events[(*n)++] = Event{Event::Kind::kAccepted, l->data, fd};
          continue;
        }
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) {
          more = false;
          break;
        }
        if (err == EINTR) continue;
        events[(*n)++] = Event{Event::Kind::kAccepted, l->data, -err};
        if (OutOfResources(err)) {
          // The pending connection stays in the backlog: paused until ResumeAccept.
          more = false;
          break;
        }
      }
      if (more) {
        again.push_back(l);
      } else {
        l->idle = true;
      }
    }
    acceptable_.swap(again);
  }

  std::unique_ptr<Poller> poller_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<Listener*> acceptable_;
  std::vector<Poller::Event> raw_;
};

}  // namespace

std::unique_ptr<IoBackend> MakeReadinessBackend(std::unique_ptr<Poller> poller) {
  return std::make_unique<ReadinessBackend>(std::move(poller));
}

}  // namespace omnibus
