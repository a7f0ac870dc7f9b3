#pragma once

#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>

namespace omnibus {

// A growable byte buffer for socket input: data lives in [begin, end); reads go to the spare
// room after end without zero-filling it first (which std::string::resize would do).
class IoBuffer {
 public:
  IoBuffer() = default;
  ~IoBuffer() { free(data_); }
  IoBuffer(const IoBuffer&) = delete;
  IoBuffer& operator=(const IoBuffer&) = delete;

  std::string_view data() const { return {data_ + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  void Consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  // Moves unread bytes to the front and makes room for at least `n` more.
  char* Reserve(size_t n) {
    if (begin_ > 0) {
      memmove(data_, data_ + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (cap_ - end_ < n) {
      size_t cap = cap_ == 0 ? 16 * 1024 : cap_;
      while (cap - end_ < n) cap *= 2;
      char* p = static_cast<char*>(realloc(data_, cap));
      if (p == nullptr) throw std::bad_alloc();
      data_ = p;
      cap_ = cap;
    }
    return data_ + end_;
  }
  size_t spare() const { return cap_ - end_; }
  void Commit(size_t n) { end_ += n; }
  size_t capacity() const { return cap_; }
  // Returns memory when a big request is gone (a 10 MB SET should not pin 10 MB per client).
  void ShrinkIfIdle() {
    if (begin_ == end_ && cap_ > 32 * 1024) {
      free(data_);
      data_ = nullptr;
      cap_ = begin_ = end_ = 0;
    }
  }

  // Gives the buffer back when it holds nothing (an idle client, Redis's clientsCron).
  void Release() {
    if (begin_ != end_) return;
    free(data_);
    data_ = nullptr;
    cap_ = begin_ = end_ = 0;
  }

 private:
  char* data_ = nullptr;
  size_t begin_ = 0, end_ = 0, cap_ = 0;
};

}  // namespace omnibus
