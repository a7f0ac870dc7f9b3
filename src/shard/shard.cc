#include "omnibus/shard/shard.h"

#include <pthread.h>

#include "omnibus/base/clock.h"

namespace omnibus {

Shard::Shard(int index, int num_shards, const ShardOptions& options, Notifier* reactor)
    : index_(index),
      num_shards_(num_shards),
      options_(options),
      reactor_(reactor),
      keyspace_(options.num_dbs, options.limits),
      inbound_(options.queue_capacity),
      // Completions can never outnumber work in flight, which the reactor bounds by the
      // inbound capacity, so this ring never fills.
      completions_(options.queue_capacity) {}

Shard::~Shard() { Stop(); }

void Shard::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Shard::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  parker_.Unpark();
  thread_.join();
}

void Shard::Execute(Work* w) {
  w->reply.clear();
  if (w->park != nullptr) {
    RunParked(w);
  } else if (w->is_part) {
    ReplyBuilder rb(&w->result, w->resp);
    ExecContext ctx{&keyspace_, nullptr, num_shards_, index_, w->db, w->args, &rb};
    w->handler(ctx);
  } else {
    ReplyBuilder rb(&w->reply, w->resp);
    ExecContext ctx{&keyspace_, nullptr, num_shards_, index_, w->db, w->args, &rb};
    w->handler(ctx);
  }
}

void Shard::RunParked(Work* w) {
  ParkGroup* g = w->park;
  if (g->waiting.fetch_sub(1, std::memory_order_acq_rel) != 1) {
    // Not the last one here: stay parked (touching nothing) until the runner is done.
    g->released.wait(0, std::memory_order_acquire);
    return;
  }
  // Every involved shard is parked at this fence, so this thread may touch their keyspaces
  // (the exception to invariant 1 that DESIGN §6 allows). Their clocks are read, not set.
  Work* cmd = g->work;
  ReplyBuilder rb(&cmd->reply, cmd->resp);
  ExecContext ctx{&keyspace_, g->all, g->num_shards, index_, cmd->db, cmd->args, &rb};
  cmd->handler(ctx);
  g->released.store(1, std::memory_order_release);
  g->released.notify_all();
}

void Shard::Run() {
  char name[16];
  snprintf(name, sizeof(name), "shard-%d", index_);
  pthread_setname_np(pthread_self(), name);
  const int64_t cycle_ns = 1'000'000'000 / options_.hz;
  int64_t next_cycle = MonotonicNs() + cycle_ns;
  while (!stop_.load(std::memory_order_relaxed)) {
    keyspace_.set_now_ms(options_.TEST_clock_ms != nullptr
                             ? options_.TEST_clock_ms->load(std::memory_order_acquire)
                             : UnixTimeMs());
    // One clock read per command (commandstats' usec): the end of one command is the start
    // of the next, which halves the clock reads of a pipelined batch.
    int64_t clock = MonotonicNs();
    size_t n = inbound_.ConsumeAll([this, &clock](Work* w) {
      Execute(w);
      int64_t end = MonotonicNs();
      w->exec_ns = end - clock;
      clock = end;
      completions_.Stage(w);
    });
    if (n > 0) {
      processed_.fetch_add(n, std::memory_order_relaxed);
      completions_.Publish();
      reactor_->Notify();
    }
    int64_t now = clock;
    if (now >= next_cycle) {
      // Active expiry: up to 25% of a cycle, like Redis's slow cycle.
      keyspace_.ActiveExpireCycle(cycle_ns / 4000);
      next_cycle = now + cycle_ns;
    }
    if (n > 0) continue;
    parker_.PrepareToPark();
    if (!inbound_.Empty() || stop_.load()) {
      parker_.CancelPark();
      continue;
    }
    int wait_ms = static_cast<int>((next_cycle - MonotonicNs()) / 1'000'000);
    parker_.Park(wait_ms < 1 ? 1 : wait_ms);
  }
}

}  // namespace omnibus
