#pragma once

#include <coroutine>
#include <exception>
#include <utility>

namespace omnibus {

// A command running as a C++20 coroutine on the reactor thread (DESIGN §6): it starts at once
// (eager), runs until it awaits something (a select, a blocked client's wake-up) and is resumed
// by the reactor when that arrives. When it finishes it calls the completion set with
// OnDone(); if it finished before returning to its caller, done() is already true and no
// callback comes. Destroying an unfinished Task destroys its frame: every RAII object in it
// (an open select, a waiter registration, a timer) closes, as when a client goes away.
class Task {
 public:
  struct promise_type {
    void (*on_done)(void*, void*) = nullptr;
    void* a = nullptr;
    void* b = nullptr;

    Task get_return_object() {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_never initial_suspend() noexcept { return {}; }
    struct FinalAwaiter {
      bool await_ready() noexcept { return false; }
      void await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        // The callback may destroy this frame (and this awaiter): copy what it needs first
        // and touch nothing after.
        auto fn = h.promise().on_done;
        void* a = h.promise().a;
        void* b = h.promise().b;
        if (fn != nullptr) fn(a, b);
      }
      void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };

  Task() = default;
  explicit Task(std::coroutine_handle<promise_type> h) : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      Reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { Reset(); }

  bool valid() const { return static_cast<bool>(h_); }
  bool done() const { return h_ && h_.done(); }
  // Called with (a, b) when the coroutine finishes after its first suspension.
  void OnDone(void (*fn)(void*, void*), void* a, void* b) {
    h_.promise().on_done = fn;
    h_.promise().a = a;
    h_.promise().b = b;
  }
  void Reset() {
    if (h_) std::exchange(h_, {}).destroy();
  }

 private:
  std::coroutine_handle<promise_type> h_;
};

}  // namespace omnibus
