#include "omnibus/net/output_queue.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <utility>

namespace omnibus {
namespace {

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

int OutputQueue::Gather(iovec* iov, int max, bool freeze) {
  if (unsent_ == 0) return 0;
  if (freeze) tail_ = nullptr;  // the next reply starts a run of its own
  int n = 0;
  for (auto it = runs_->begin(); it != runs_->end() && n < max; ++it) {
    std::string_view b = it->bytes();
    if (it->sent == b.size()) continue;
    iov[n].iov_base = const_cast<char*>(b.data() + it->sent);
    iov[n].iov_len = b.size() - it->sent;
    ++n;
  }
  return n;
}

void OutputQueue::Advance(size_t n) {
  unsent_ -= n;
  for (auto it = runs_->begin(); it != runs_->end() && n > 0; ++it) {
    size_t in_run = it->bytes().size() - it->sent;
    size_t take = n < in_run ? n : in_run;
    it->sent += take;
    n -= take;
  }
  PopSent();
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
