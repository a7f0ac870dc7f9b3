#pragma once

#include <coroutine>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "omnibus/net/timer_queue.h"
#include "omnibus/shard/work.h"

namespace omnibus {

// What a select needs from the reactor (tests script it): staging work for a shard in this
// loop iteration's batch, recycled Work objects, timers, and every shard's keyspace for
// parked execution.
class SelectHost {
 public:
  virtual ~SelectHost() = default;
  virtual int num_shards() const = 0;
  virtual void StageWork(int shard, Work* w) = 0;
  virtual Work* NewWork() = 0;
  virtual void FreeWork(Work* w) = 0;
  virtual TimerQueue& timers() = 0;
  virtual Keyspace* const* keyspaces() = 0;
};

// The fan-out primitive of DESIGN §6, for a coroutine on the reactor:
//
//   Select sel(host, deadline_ms);
//   sel.Add(shard, handler, args, ...);             // one part per shard, all sent at once
//   while (Work* part = co_await sel.Next()) ...;   // in arrival order
//
// Parts go out in the same loop batch (each is a fence in its shard's queue) when the
// coroutine first awaits. Next() yields each part once its reply arrived, in arrival order,
// and null when every part has arrived or the deadline passed (timed_out() then says so and
// missing() names the parts not arrived). Closing the select (its destructor: the loop left
// early, an error, the client gone) cancels read parts not yet started and lets write parts
// complete (invariant 4); parts still in a shard are freed when they come back. Parts own
// their arguments (§10.3), so nothing they point to goes away with the client.
// Runs on: reactor thread.
class Select {
 public:
  explicit Select(SelectHost* host, int64_t deadline_ms = 0);
  ~Select();
  Select(const Select&) = delete;
  Select& operator=(const Select&) = delete;

  struct PartOptions {
    uint8_t db = 0;
    uint8_t resp = 2;
    bool write = false;     // must complete even if the select closes first
    bool capture = false;   // reply as a ReplyValue (Work::result) instead of RESP bytes
    bool priority = false;  // jumps the shard's queue (INFO: admin reads never wait, §4)
  };
  // A part for one shard, running `handler` over a copy of `args`.
  Work* Add(int shard, ShardHandler handler, std::span<const std::string_view> args,
            const PartOptions& options);
  // One command run once with every shard in `shards` parked at the same fence (§6). Returns
  // the Work that carries the command and, once it arrives, its reply. Never cancelled.
  Work* AddParked(std::span<const int> shards, ShardHandler handler,
                  std::span<const std::string_view> args, const PartOptions& options);
  // Like AddParked/Add for a prepared Work (its handler/tx/args already set): on one shard,
  // or parked when `shards` has several.
  Work* AddPrepared(std::span<const int> shards, Work* w);
  // A fresh Work from the host, owned by this select (fill it, then AddPrepared).
  Work* NewPart();

  struct NextAwaiter {
    Select* s;
    bool await_ready();
    void await_suspend(std::coroutine_handle<> h);
    Work* await_resume();
  };
  NextAwaiter Next() { return NextAwaiter{this}; }

  // Sends the parts added so far now (Next() does it too). A select closed right after is
  // fire-and-forget: its write parts still run.
  void Send();

  bool timed_out() const { return timed_out_; }
  size_t size() const { return units_; }
  std::vector<Work*> missing() const;

  // Reactor: a part came back from its shard (whether or not its select is still open).
  static void PartReturned(SelectHost* host, Work* w);

 private:
  Work* NewCommandPart(ShardHandler handler, std::span<const std::string_view> args,
                       const PartOptions& options);
  void Arrive(Work* w);
  static void OnDeadline(void* arg);

  SelectHost* host_;
  int64_t deadline_ms_;
  TimerQueue::Id timer_;
  bool timed_out_ = false;
  size_t units_ = 0;          // parts and parked groups added
  size_t arrived_ = 0;        // of those, arrived
  std::vector<Work*> owned_;  // every Work allocated (parts and parked commands)
  std::vector<std::pair<int, Work*>> unsent_;
  std::vector<ParkGroup*> groups_;
  std::deque<Work*> ready_;  // arrived, not yet yielded
  std::coroutine_handle<> waiter_;
};

}  // namespace omnibus
