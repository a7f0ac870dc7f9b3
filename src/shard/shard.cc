#include "omnibus/shard/shard.h"

#include <pthread.h>

#include "omnibus/base/clock.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/store/memory_release.h"

namespace omnibus {
namespace {

const QueuePolicyOptions kDefaultQueuePolicy;
// An idle shard returns free memory at most this often (and once more after the burst).
constexpr int64_t kReleaseEveryNs = 250'000'000;

}  // namespace

Shard::Shard(int index, int num_shards, const ShardOptions& options, Notifier* reactor)
    : index_(index),
      num_shards_(num_shards),
      options_(options),
      reactor_(reactor),
      keyspace_(options.num_dbs, options.limits, options.listeners, options.eviction),
      inbound_(options.queue_capacity),
      // Completions can never outnumber work in flight, which the reactor bounds by the
      // inbound capacity, so this ring never fills.
      completions_(options.queue_capacity),
      queue_(options.queue_capacity,
             options.queue_policy != nullptr ? options.queue_policy : &kDefaultQueuePolicy,
             &queue_stats_) {
  activity_.hand_over = &Shard::HandOver;
  activity_.shard = this;
  keyspace_.AttachBudget(options.budget, index);
}

void Shard::HandOver(void* shard, bool busy) {
  auto* self = static_cast<Shard*>(shard);
  if (busy) {
    // Everything published so far joins the queue; then the client commands at its head, up
    // to the first fence (those wait for the script), are answered.
    const int64_t now = MonotonicNs();
    self->inbound_.ConsumeAll([self, now](Work* w) { self->queue_.Push(w, now); });
    auto client_command = [](Work* w) {
      return !w->is_part && w->park == nullptr && w->tx == nullptr;
    };
    const bool function = self->activity_.function.load(std::memory_order_relaxed);
    self->queue_.TakeLeading(client_command, [self, function, now](Work* w) {
      if (w->flight.is_open()) w->flight.Start();  // answered: no request may join it
      w->reply.clear();
      ReplyBuilder(&w->reply, w->resp)
          .Error(function ? "BUSY Redis is busy running a script. You can only call FUNCTION "
                            "KILL or SHUTDOWN NOSAVE."
                          : "BUSY Redis is busy running a script. You can only call SCRIPT "
                            "KILL or SHUTDOWN NOSAVE.");
      w->wait_ns = now - w->enqueue_ns;
      w->exec_ns = 0;
      self->completions_.Stage(w);
      self->processed_.fetch_add(1, std::memory_order_relaxed);
    });
  }
  // The replies of commands that ran before the script in its slice would otherwise wait
  // for the script to end.
  if (self->completions_.Publish()) self->reactor_->Notify();
}

Shard::~Shard() { Stop(); }

void Shard::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Shard::RequestStop() {
  stop_.store(true);
  activity_.stopping.store(true);  // a script that loops forever ends too
  // A part parked at a fence whose sibling never arrives (that shard stopped first) would
  // wait forever: release it. A group whose runner already started is released by the
  // runner when done (never earlier: it touches the parked shards' keyspaces), and every
  // script stops at its next hook, so that is soon.
  if (ParkGroup* g = parked_on_.load()) Abandon(g);
  parker_.Unpark();
}

void Shard::Stop() {
  if (!thread_.joinable()) return;
  RequestStop();
  thread_.join();
}

void Shard::Execute(Work* w) {
  // Bounded bursts (Work::reply_budget): the group's replies so far used its budget, so this
  // one and the rest of the group on this shard wait for the client to read them. A flight
  // that others joined runs anyway: they wait for its reply, not for this client.
  if (w->reply_budget != nullptr && w->reply_budget->load(std::memory_order_relaxed) <= 0 &&
      (!w->flight.is_open() || w->flight.Start() == 0)) {
    w->deferred = true;
    w->reply.clear();
    return;
  }
  // Singleflight (§5): from here on no request joins this flight, so everyone who did joined
  // before the key is read.
  if (w->flight.is_open()) w->flight.Start();
  w->reply.clear();
  if (w->is_part && w->cancelled.load(std::memory_order_relaxed)) return;  // never started
  if (w->park != nullptr) {
    RunParked(w);
  } else if (w->tx != nullptr) {
    ExecContext base{&keyspace_, nullptr, num_shards_, index_, w->db, {}, nullptr};
    base.script = options_.script;
    base.functions = options_.functions;
    base.commands = options_.commands;
    base.activity = &activity_;
    Keyspace* self = &keyspace_;
    RunTransaction(base, &self, w->tx.get());
  } else {
    ReplyBuilder rb =
        w->capture ? ReplyBuilder(&w->result, w->resp) : ReplyBuilder(&w->reply, w->resp);
    ExecContext ctx{&keyspace_, nullptr, num_shards_, index_, w->db, w->args, &rb};
    ctx.may_block = w->may_block;
    ctx.track_reads = w->track_reads;
    ctx.script = options_.script;
    ctx.functions = options_.functions;
    ctx.commands = options_.commands;
    ctx.activity = &activity_;
    if (MakeRoomFor(w->command_id)) {
      Db::SetReadLookups(w->read_lookups);
      w->handler(ctx);
      Db::SetReadLookups(false);
    } else {
      // Out of memory: never run. Keys evicted on the way still report below.
      rb.Error(kOomError);
    }
    w->would_block = ctx.would_block;
    w->wait_hint_ms = ctx.wait_hint_ms;
    w->escalate = ctx.escalate;
    w->reached_out = ctx.reached_out;
    if (w->reply_budget != nullptr) {
      w->reply_budget->fetch_sub(static_cast<int64_t>(w->reply.size()), std::memory_order_relaxed);
    }
  }
  // Keys that gained elements for blocked clients travel with this completion (§10.5): after
  // the reply of any pop that registered them, so the reactor never misses a wake-up.
  if (keyspace_.has_ready()) w->ready = keyspace_.TakeReady();
  // Key notices too (§10.1): the reactor handles them in the order of dispatch.
  if (keyspace_.has_notices()) w->notices = keyspace_.TakeNotices();
  last_dispatch_ = w->dispatch_seq;
}

std::vector<KeyNotice> Shard::TakeLooseNotices() {
  std::lock_guard<std::mutex> lock(loose_mu_);
  has_loose_notices_.store(false, std::memory_order_relaxed);
  return std::exchange(loose_notices_, {});
}

bool Shard::MakeRoomFor(uint16_t command_id) {
  // One load and a branch when there is no maxmemory.
  if (keyspace_.evictor().maxmemory() <= 0 || options_.commands == nullptr) return true;
  const CommandSpec& spec = options_.commands->all()[command_id];
  if (!(spec.flags & kCmdDenyOom)) return true;
  return keyspace_.MakeRoom();
}

void Shard::RunParked(Work* w) {
  ParkGroup* g = w->park;
  if (g->waiting.fetch_sub(1, std::memory_order_acq_rel) != 1) {
    // Not the last one here: stay parked (touching nothing) until the runner is done, or
    // until the server stops.
    parked_on_.store(g);  // seq_cst, paired with RequestStop's stop_ store
    if (stop_.load()) Abandon(g);
    for (;;) {
      uint32_t v = g->released.load(std::memory_order_acquire);
      if (v == ParkGroup::kDone || v == ParkGroup::kAbandoned) break;
      g->released.wait(v, std::memory_order_acquire);
    }
    parked_on_.store(nullptr);
    return;
  }
  // Claim the run, unless the server stopped first (then nobody runs it).
  uint32_t parked = ParkGroup::kParked;
  if (!g->released.compare_exchange_strong(parked, ParkGroup::kRunning,
                                           std::memory_order_acq_rel)) {
    return;
  }
  // Every involved shard is parked at this fence, so this thread may touch their keyspaces
  // (the exception to invariant 1 that DESIGN §6 allows). Their clocks are read, not set.
  Work* cmd = g->work;
  if (cmd->tx != nullptr) {
    ExecContext base{&keyspace_, g->all, g->num_shards, index_, cmd->db, {}, nullptr};
    base.script = options_.script;
    base.functions = options_.functions;
    base.commands = options_.commands;
    base.activity = &activity_;
    RunTransaction(base, g->all, cmd->tx.get());
  } else {
    ReplyBuilder rb =
        cmd->capture ? ReplyBuilder(&cmd->result, cmd->resp) : ReplyBuilder(&cmd->reply, cmd->resp);
    ExecContext ctx{&keyspace_, g->all, g->num_shards, index_, cmd->db, cmd->args, &rb};
    ctx.may_block = cmd->may_block;
    ctx.track_reads = cmd->track_reads;
    ctx.script = options_.script;
    ctx.functions = options_.functions;
    ctx.commands = options_.commands;
    ctx.activity = &activity_;
    Db::SetReadLookups(cmd->read_lookups);
    cmd->handler(ctx);
    Db::SetReadLookups(false);
    cmd->would_block = ctx.would_block;
    cmd->wait_hint_ms = ctx.wait_hint_ms;
  }
  g->released.store(ParkGroup::kDone, std::memory_order_release);
  g->released.notify_all();
}

void Shard::Abandon(ParkGroup* g) {
  uint32_t parked = ParkGroup::kParked;
  if (g->released.compare_exchange_strong(parked, ParkGroup::kAbandoned,
                                          std::memory_order_acq_rel)) {
    g->released.notify_all();
  }
}

void Shard::RunTransaction(const ExecContext& base, Keyspace* const* all, Transaction* tx) {
  // WATCH: a key whose version moved (any write, expiry, flush, rename) aborts the whole
  // transaction. Looking the key up first expires it if its time has come, which counts.
  for (const WatchedKey& wk : tx->watches) {
    ExecContext at = base;
    at.db_index = wk.db;
    Db& db = at.DbFor(wk.key);
    db.Peek(wk.key);
    if (db.KeyVersion(wk.key) != wk.version) tx->aborted = true;
  }
  // EXEC always unwatches.
  for (const WatchedKey& wk : tx->watches) {
    ExecContext at = base;
    at.db_index = wk.db;
    at.DbFor(wk.key).UnwatchKey(wk.key);
  }
  if (tx->aborted) return;
  const bool parked = base.all != nullptr;
  int64_t clock = MonotonicNs();
  for (TxStep& step : tx->steps) {
    // One shard's share of a split transaction runs beside the others: its ready keys are
    // ordered by their step's place in the whole transaction, not by the clock.
    size_t ready_before = tx->split ? base.local->ready_list().size() : 0;
    size_t notices_before = tx->split ? base.local->notice_list().size() : 0;
    ExecContext ctx = base;
    ctx.db_index = step.db;
    ctx.args = step.args;
    ctx.may_block = false;  // blocking commands inside MULTI do not block
    Db::SetReadLookups(step.read_lookups);
    switch (step.mode) {
      case TxStep::Mode::kReactor:
      case TxStep::Mode::kAnswered:
        continue;
      case TxStep::Mode::kOnKeys: {
        // maxmemory: room is made as for the command alone; the transaction runs whole
        // either way (an EXEC that could not have run was refused on the reactor).
        MakeRoomFor(step.command_id);
        ReplyBuilder rb(&step.reply, tx->resp);
        ctx.reply = &rb;
        step.handler(ctx);
        break;
      }
      case TxStep::Mode::kOnShard: {
        ReplyBuilder rb(&step.reply, tx->resp);
        ctx.reply = &rb;
        if (parked) {
          ctx.local = all[step.shard];
          ctx.shard_index = step.shard;
        }
        step.handler(ctx);
        break;
      }
      case TxStep::Mode::kEachShard: {
        int n = parked ? base.num_shards : 1;
        step.parts.assign(static_cast<size_t>(n), ReplyValue{});
        for (int i = 0; i < n; ++i) {
          ReplyBuilder rb(&step.parts[static_cast<size_t>(i)], tx->resp);
          ctx.reply = &rb;
          if (parked) {
            ctx.local = all[i];
            ctx.shard_index = i;
          }
          step.handler(ctx);
        }
        break;
      }
    }
    Db::SetReadLookups(false);
    if (tx->split) {
      auto& ready = base.local->ready_list();
      for (size_t i = ready_before; i < ready.size(); ++i) ready[i].seq = step.order;
      // Notices likewise (the reactor's sort is stable: a step's own stay in order).
      auto& notices = base.local->notice_list();
      for (size_t i = notices_before; i < notices.size(); ++i) notices[i].seq = step.order;
    }
    int64_t end = MonotonicNs();
    step.exec_ns = end - clock;
    clock = end;
  }
  Db::SetReadLookups(false);  // a step answered on the reactor skips the reset above
}

void Shard::Run() {
  char name[16];
  snprintf(name, sizeof(name), "shard-%d", index_);
  pthread_setname_np(pthread_self(), name);
  const int64_t cycle_ns = 1'000'000'000 / options_.hz;
  int64_t next_cycle = MonotonicNs() + cycle_ns;
  // Active expiry runs in slices of at most kExpireSliceUs between slices of the queue, up
  // to a quarter of each cycle as Redis's slow cycle, so it never holds the queue long
  // enough to look like overload by itself (§4).
  constexpr int64_t kExpireSliceUs = 1000;
  int64_t expire_budget_ns = 0;  // what is left of this cycle's expiry time
  while (!stop_.load(std::memory_order_relaxed)) {
    keyspace_.set_now_ms(options_.TEST_clock_ms != nullptr
                             ? options_.TEST_clock_ms->load(std::memory_order_acquire)
                             : UnixTimeMs());
    // One clock read per command (commandstats' usec, queue waits): the end of one command
    // is the start of the next.
    int64_t clock = MonotonicNs();
    // Everything the reactor published joins the local queue; the policy picks from there.
    // A slice is short, so new arrivals are seen (newest-first needs them) and replies go
    // back while a long queue is served.
    inbound_.ConsumeAll([this, clock](Work* w) { queue_.Push(w, clock); });
    size_t n = 0;
    while (n < kServeSlice) {
      ShardQueue::Pick pick = queue_.Next(clock);
      if (!pick) break;
      Work* w = pick.work;
      w->wait_ns = clock - w->enqueue_ns;
      if (pick.action == ShardQueue::Action::kRun) {
        Execute(w);
      } else {
        Refuse(w, pick.action);
      }
      int64_t end = MonotonicNs();
      w->exec_ns = end - clock;
      queue_.NoteServiceNs(end - clock);
      clock = end;
      completions_.Stage(w);
      ++n;
    }
    if (n > 0) {
      processed_.fetch_add(n, std::memory_order_relaxed);
      completions_.Publish();
      reactor_->Notify();
      keyspace_.PublishMemory();
    }
    keyspace_.EvictInBackground();
    int64_t now = clock;
    if (now >= next_cycle) {
      expire_budget_ns = cycle_ns / 4;
      next_cycle = now + cycle_ns;
    }
    if (expire_budget_ns > 0) {
      keyspace_.ActiveExpireCycle(kExpireSliceUs);
      int64_t spent = MonotonicNs() - now;
      // A slice that ended early found nothing more to do this cycle.
      expire_budget_ns = spent < kExpireSliceUs * 1000 ? 0 : expire_budget_ns - spent;
      if (keyspace_.has_notices()) {
        // Expired keys' notices: no Work carries them back; they happened after the last
        // one this shard ran.
        std::vector<KeyNotice> notices = keyspace_.TakeNotices();
        for (KeyNotice& kn : notices) {
          kn.dispatch = last_dispatch_;
          kn.after_dispatch = true;
        }
        {
          std::lock_guard<std::mutex> lock(loose_mu_);
          for (KeyNotice& kn : notices) loose_notices_.push_back(std::move(kn));
          has_loose_notices_.store(true, std::memory_order_release);
        }
        reactor_->Notify();
      }
    }
    if (n > 0) releases_due_ = kReleasesAfterWork;
    if (n > 0 || !queue_.empty()) continue;
    // Idle: memory this thread took for a burst (replies the reactor freed since, values
    // deleted) goes back to the OS. At most once per period, a few times after the last work
    // (the reactor frees a burst's replies as the client reads them, and mimalloc decommits
    // what was freed after its purge delay, on a later collect); not on every idle turn:
    // mimalloc's collect visits the heap's pages.
    const bool forced = release_requested_.exchange(false, std::memory_order_relaxed);
    if (forced || (releases_due_ > 0 && now >= next_release_ns_)) {
      // The last one decommits at once what mimalloc still keeps for its purge delay.
      ReleaseFreeMemory(forced || releases_due_ == 1);
      memory_releases_.fetch_add(1, std::memory_order_relaxed);
      if (releases_due_ > 0) --releases_due_;
      next_release_ns_ = now + kReleaseEveryNs;
    }
    parker_.PrepareToPark();
    if (!inbound_.Empty() || stop_.load() || keyspace_.EvictionRequested()) {
      parker_.CancelPark();
      continue;
    }
    int wait_ms = static_cast<int>((next_cycle - MonotonicNs()) / 1'000'000);
    parker_.Park(wait_ms < 1 ? 1 : wait_ms);
  }
}

void Shard::Refuse(Work* w, ShardQueue::Action action) {
  // Never executed, so a refused write is never half-applied; the reply keeps its slot.
  if (w->flight.is_open()) w->flight.Start();  // answered: no request may join it
  w->reply.clear();
  const int64_t waited_ms = w->wait_ns / 1'000'000;
  ReplyBuilder rb(&w->reply, w->resp);
  if (action == ShardQueue::Action::kShed) {
    rb.Error(StrCat("BUSY server overloaded, request shed after ", waited_ms,
                    " ms in queue, retry in ", queue_.DrainEstimateMs(), " ms"));
  } else {
    rb.Error(
        StrCat("TIMEOUT request deadline passed after ", waited_ms, " ms in queue, not executed"));
  }
}

}  // namespace omnibus
