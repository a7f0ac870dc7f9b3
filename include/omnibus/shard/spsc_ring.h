#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <new>

namespace omnibus {

// Bounded single-producer/single-consumer ring. The producer stages any number of items and
// makes them visible with one Publish() (one release store per batch, DESIGN §1); the consumer
// sees everything published, in order.
template <typename T>
class SpscRing {
 public:
  explicit SpscRing(size_t capacity_pow2)
      : mask_(capacity_pow2 - 1), items_(new T[capacity_pow2]) {}

  size_t capacity() const { return mask_ + 1; }

  // Producer side. Stage() fails when the ring is full (counting staged items).
  bool Stage(T item) {
    if (staged_tail_ - cached_head_ > mask_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (staged_tail_ - cached_head_ > mask_) return false;
    }
    items_[staged_tail_ & mask_] = item;
    ++staged_tail_;
    return true;
  }
  // Returns true if anything new became visible.
  bool Publish() {
    if (staged_tail_ == published_tail_) return false;
    published_tail_ = staged_tail_;
    tail_.store(staged_tail_, std::memory_order_release);
    return true;
  }

  // Consumer side: visits every published item, then frees their space in one store.
  template <typename F>
  size_t ConsumeAll(F&& fn) {
    size_t head = head_.load(std::memory_order_relaxed);
    size_t tail = tail_.load(std::memory_order_acquire);
    next_ = head;
    while (next_ != tail) {
      T item = items_[next_ & mask_];
      ++next_;
      fn(item);
      if (next_ - head > tail - head) tail = next_;  // fn took more (ConsumeNextWhile)
    }
    if (tail != head) head_.store(tail, std::memory_order_release);
    return tail - head;
  }
  // Consumer side, from inside ConsumeAll's fn: takes the items published after the one being
  // visited, in order, while pred(item) holds, and frees their space (and the visited
  // item's) at once. ConsumeAll then goes on after them.
  template <typename P, typename F>
  size_t ConsumeNextWhile(P&& pred, F&& fn) {
    size_t tail = tail_.load(std::memory_order_acquire);
    size_t n = 0;
    while (next_ != tail && pred(items_[next_ & mask_])) {
      T item = items_[next_ & mask_];
      ++next_;
      fn(item);
      ++n;
    }
    if (n > 0) head_.store(next_, std::memory_order_release);
    return n;
  }
  bool Empty() const {
    return head_.load(std::memory_order_relaxed) == tail_.load(std::memory_order_acquire);
  }
  // From any thread. The two ends are read one after the other, head first so the result
  // cannot wrap below zero; it is clamped, as both ends may have moved in between.
  size_t SizeApprox() const {
    const size_t head = head_.load(std::memory_order_acquire);
    const size_t tail = tail_.load(std::memory_order_acquire);
    return std::min(tail - head, capacity());
  }

 private:
  static constexpr size_t kLine = 64;
  const size_t mask_;
  std::unique_ptr<T[]> items_;
  alignas(kLine) std::atomic<size_t> head_{0};  // consumer-owned
  alignas(kLine) std::atomic<size_t> tail_{0};  // written by the producer on Publish
  alignas(kLine) size_t staged_tail_ = 0;       // producer-only
  size_t published_tail_ = 0;
  size_t cached_head_ = 0;
  size_t next_ = 0;  // consumer-only: the next item ConsumeAll visits
};

}  // namespace omnibus
