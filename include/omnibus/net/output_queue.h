#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

struct iovec;

namespace omnibus {

// A reply chunk (DESIGN §10.6): immutable bytes that any number of connections may queue
// and send, each holding a reference, never a copy.
using ReplyChunk = std::shared_ptr<const std::string>;

// A connection's output: a queue of byte runs sent with one sendmsg (scatter-gather) per
// call (IoBackend::Send). Small replies are copied into the tail run this queue owns (cheaper than
// a reference); a big reply is moved in as its own run without a copy; a chunk shared with other
// connections is queued by reference. A run is freed as soon as it is sent, so memory taken for a
// burst or a big reply goes back once the client has read it. Runs on: reactor thread.
class OutputQueue {
 public:
  // Replies at least this big are moved in, not copied.
  static constexpr size_t kMoveThreshold = 16 * 1024;

  void Append(std::string_view bytes) {
    if (tail_ == nullptr || tail_->size() >= kTailMax) NewTail();
    tail_->append(bytes);
    unsent_ += bytes.size();
  }
  // Takes the bytes of a reply: moved in as a run of their own when big (the string is left
  // empty), else copied (the string keeps its buffer for reuse).
  void Append(std::string* bytes) {
    if (bytes->size() < kMoveThreshold) return Append(std::string_view(*bytes));
    AppendMoved(bytes);
  }
  void AppendChunk(ReplyChunk chunk);

  size_t unsent() const { return unsent_; }
  bool empty() const { return unsent_ == 0; }
  // Bytes the queue holds in memory: its own runs' capacity (CLIENT LIST omem). Shared
  // chunks are counted by their size (what this connection keeps alive).
  size_t memory() const;

  // The unsent bytes, in order, as up to `max` iovecs (the send of one flush). With `freeze`
  // (a send that completes later) the runs they point into take no more copies, so they stay
  // where they are until Advance.
  int Gather(iovec* iov, int max, bool freeze);
  // `n` bytes were sent: frees the runs sent whole.
  void Advance(size_t n);
  // Drops everything (a closing connection).
  void Clear();
  // Gives back the buffers kept for the next replies when nothing is unsent (an idle client).
  void Release();

 private:
  struct Run {
    ReplyChunk shared;  // set: a shared chunk; else `owned`
    std::string owned;
    size_t sent = 0;
    std::string_view bytes() const { return shared ? std::string_view(*shared) : owned; }
  };
  // An owned tail run stops taking copies at this size (a new run starts), so a sent run
  // can be freed while the client is still reading the rest of a burst.
  static constexpr size_t kTailMax = 64 * 1024;
  void NewTail();
  void AppendMoved(std::string* bytes);
  void PopSent();

  std::deque<Run>& Runs() {
    if (runs_ == nullptr) runs_ = std::make_unique<std::deque<Run>>();
    return *runs_;
  }

  // Allocated on first use and freed by Release: an idle connection holds no block for it.
  std::unique_ptr<std::deque<Run>> runs_;
  std::string* tail_ = nullptr;  // runs_.back().owned while that run takes copies (a deque
                                 // keeps element addresses on push_back and pop_front)
  size_t unsent_ = 0;
  // One emptied owned buffer kept for the next burst (only if small): steady pipelines do
  // not allocate per flush.
  std::string spare_;
};

}  // namespace omnibus
