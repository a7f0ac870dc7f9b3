// The select primitive (DESIGN §6): parts sent at once, yielded in arrival order, a deadline,
// and a close that cancels reads and lets writes finish.
#include "omnibus/net/select.h"

#include <algorithm>

namespace omnibus {

Select::Select(SelectHost* host, int64_t deadline_ms) : host_(host), deadline_ms_(deadline_ms) {}

Select::~Select() {
  host_->timers().Cancel(timer_);
  // Parts never sent (the coroutine left before awaiting) go straight back; a group is sent
  // whole or not at all.
  for (auto& [shard, w] : unsent_) {
    w->returned = true;
    if (w->park != nullptr && --w->park->parts_out == 0) w->park->work->returned = true;
  }
  for (ParkGroup* g : groups_) {
    if (g->parts_out == 0) delete g;  // otherwise its last part back frees it
  }
  for (Work* w : owned_) {
    if (w->returned) {
      host_->FreeWork(w);
      continue;
    }
    // Still in a shard: freed when it comes back (PartReturned finds no owner). A read that
    // has not started is skipped; writes and fences run (invariant 4).
    w->owner = nullptr;
    if (w->park == nullptr && !w->keep) w->cancelled.store(true, std::memory_order_relaxed);
  }
}

Work* Select::NewPart() {
  Work* w = host_->NewWork();
  w->owner = this;
  w->is_part = true;
  w->returned = false;
  w->park = nullptr;
  w->tx.reset();
  w->capture = false;
  w->may_block = false;
  w->track_reads = false;
  w->read_lookups = false;
  w->would_block = false;
  w->wait_hint_ms = 0;
  w->escalate = false;
  w->reached_out = false;
  w->keep = false;
  w->cancelled.store(false, std::memory_order_relaxed);
  w->reply.clear();
  w->ready.clear();
  w->notices.clear();
  w->notice_order.clear();
  w->origin = 0;
  w->args.clear();
  w->exec_ns = 0;
  w->wait_ns = 0;
  w->dispatch_seq = 0;
  w->priority = false;
  w->follows_own = false;
  w->no_shed = false;
  w->deadline_ns = 0;
  owned_.push_back(w);
  return w;
}

Work* Select::NewCommandPart(ShardHandler handler, std::span<const std::string_view> args,
                             const PartOptions& options) {
  Work* w = NewPart();
  w->handler = handler;
  w->db = options.db;
  w->resp = options.resp;
  w->capture = options.capture;
  w->keep = options.write;
  w->priority = options.priority;
  w->OwnArgs(args);
  return w;
}

Work* Select::Add(int shard, ShardHandler handler, std::span<const std::string_view> args,
                  const PartOptions& options) {
  int shards[1] = {shard};
  return AddPrepared(shards, NewCommandPart(handler, args, options));
}

Work* Select::AddParked(std::span<const int> shards, ShardHandler handler,
                        std::span<const std::string_view> args, const PartOptions& options) {
  return AddPrepared(shards, NewCommandPart(handler, args, options));
}

Work* Select::AddPrepared(std::span<const int> shards, Work* w) {
  ++units_;
  if (shards.size() == 1) {
    unsent_.emplace_back(shards[0], w);
    return w;
  }
  // Parked: every shard gets a part pointing at the group; the last to arrive runs `w`.
  auto* g = new ParkGroup;
  g->work = w;
  g->all = host_->keyspaces();
  g->num_shards = host_->num_shards();
  g->waiting.store(static_cast<int>(shards.size()));
  g->parts_out = static_cast<int>(shards.size());
  groups_.push_back(g);
  w->keep = true;  // a fence: never cancelled
  for (int shard : shards) {
    Work* p = NewPart();
    p->park = g;
    p->db = w->db;
    p->resp = w->resp;
    p->keep = true;
    unsent_.emplace_back(shard, p);
  }
  return w;
}

void Select::Send() {
  for (auto& [shard, w] : unsent_) host_->StageWork(shard, w);
  unsent_.clear();
}

std::vector<Work*> Select::missing() const {
  std::vector<Work*> out;
  for (Work* w : owned_) {
    if (w->park == nullptr && !w->returned) out.push_back(w);
  }
  return out;
}

void Select::Arrive(Work* w) {
  if (timed_out_) return;  // past the deadline: ignored (freed with the select)
  ++arrived_;
  ready_.push_back(w);
  if (waiter_) std::exchange(waiter_, {}).resume();
}

void Select::OnDeadline(void* arg) {
  auto* s = static_cast<Select*>(arg);
  s->timer_ = {};
  s->timed_out_ = true;
  s->ready_.clear();
  if (s->waiter_) std::exchange(s->waiter_, {}).resume();
}

bool Select::NextAwaiter::await_ready() {
  s->Send();
  return !s->ready_.empty() || s->timed_out_ || s->arrived_ == s->units_;
}

void Select::NextAwaiter::await_suspend(std::coroutine_handle<> h) {
  s->waiter_ = h;
  if (s->deadline_ms_ > 0 && !s->timer_) {
    s->timer_ = s->host_->timers().Add(s->deadline_ms_, &Select::OnDeadline, s);
  }
}

Work* Select::NextAwaiter::await_resume() {
  if (s->timed_out_ || s->ready_.empty()) return nullptr;
  Work* w = s->ready_.front();
  s->ready_.pop_front();
  return w;
}

void Select::PartReturned(SelectHost* host, Work* w) {
  w->returned = true;
  auto* s = static_cast<Select*>(w->owner);
  if (ParkGroup* g = w->park) {
    // The parked command started once its last shard arrived: its queue wait is the longest
    // of its parts'.
    g->work->wait_ns = std::max(g->work->wait_ns, w->wait_ns);
    if (--g->parts_out > 0) {
      if (s == nullptr) host->FreeWork(w);
      return;
    }
    Work* cmd = g->work;
    cmd->returned = true;
    cmd->exec_ns = w->exec_ns;
    if (s == nullptr) {  // the select closed first: the group is ours to free
      host->FreeWork(w);
      host->FreeWork(cmd);
      delete g;
      return;
    }
    // Keys made ready by the parked command travel with each shard's own part; the reactor
    // handled them before calling here.
    return s->Arrive(cmd);
  }
  if (s == nullptr) return host->FreeWork(w);
  s->Arrive(w);
}

}  // namespace omnibus
