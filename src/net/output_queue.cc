#include "omnibus/net/output_queue.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <utility>

namespace omnibus {
namespace {

// iovecs per sendmsg: enough to drain a pipelined burst of shared chunks in one call.
constexpr int kMaxIov = 64;
// An owned buffer bigger than this is freed when sent rather than kept as the spare.
constexpr size_t kMaxSpare = 64 * 1024;

}  // namespace

void OutputQueue::NewTail() {
  Run& r = Runs().emplace_back();
  r.owned.swap(spare_);
  r.owned.clear();
  tail_ = &r.owned;
}

void OutputQueue::AppendMoved(std::string* bytes) {
  unsent_ += bytes->size();
  Run& r = Runs().emplace_back();
  r.owned = std::move(*bytes);
  bytes->clear();
  tail_ = nullptr;  // the moved reply takes no copies after it
}

void OutputQueue::AppendChunk(ReplyChunk chunk) {
  if (chunk == nullptr || chunk->empty()) return;
  unsent_ += chunk->size();
  Runs().emplace_back().shared = std::move(chunk);
  tail_ = nullptr;
}

size_t OutputQueue::memory() const {
  size_t m = spare_.capacity();
  if (runs_ == nullptr) return m;
  for (const Run& r : *runs_) m += r.shared ? r.shared->size() : r.owned.capacity();
  return m;
}

void OutputQueue::PopSent() {
  std::deque<Run>& runs = Runs();
  while (!runs.empty() && runs.front().sent == runs.front().bytes().size()) {
    Run& r = runs.front();
    if (!r.shared && r.owned.capacity() <= kMaxSpare) {
      r.owned.clear();
      r.sent = 0;
      // The usual case, one small run: it stays as the tail for the next replies (no
      // allocation per flush).
      if (runs.size() == 1) {
        tail_ = &r.owned;
        return;
      }
      if (r.owned.capacity() > spare_.capacity()) spare_.swap(r.owned);
    }
    if (tail_ == &r.owned) tail_ = nullptr;
    runs.pop_front();
  }
}

OutputQueue::WriteResult OutputQueue::WriteTo(int fd, uint64_t* written) {
  while (unsent_ > 0) {
    std::deque<Run>& runs = *runs_;  // something unsent: there are runs
    iovec iov[kMaxIov];
    int n = 0;
    for (auto it = runs.begin(); it != runs.end() && n < kMaxIov; ++it) {
      std::string_view b = it->bytes();
      if (it->sent == b.size()) continue;
      iov[n].iov_base = const_cast<char*>(b.data() + it->sent);
      iov[n].iov_len = b.size() - it->sent;
      ++n;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    ssize_t sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return WriteResult::kWouldBlock;
      return WriteResult::kError;
    }
    auto left = static_cast<size_t>(sent);
    *written += left;
    unsent_ -= left;
    for (auto it = runs.begin(); it != runs.end() && left > 0; ++it) {
      size_t in_run = it->bytes().size() - it->sent;
      size_t take = left < in_run ? left : in_run;
      it->sent += take;
      left -= take;
    }
    PopSent();
  }
  return WriteResult::kDone;
}

void OutputQueue::Release() {
  if (unsent_ != 0) return;
  runs_.reset();  // an empty std::deque still holds a block
  tail_ = nullptr;
  std::string().swap(spare_);
}

void OutputQueue::Clear() {
  if (runs_ != nullptr) runs_->clear();
  tail_ = nullptr;
  unsent_ = 0;
}

}  // namespace omnibus
