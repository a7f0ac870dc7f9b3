// Blocking pops on the reactor (DESIGN §10.5). A blocking pop is a coroutine: it runs the pop
// on the keys' shard (or parked over their shards); if there was nothing to pop, the shard
// registered the keys and the client waits in a list per (db, key), in the order clients
// blocked. A shard reports a registered key that gained elements with the completion of the
// work that filled it; the reactor then wakes the oldest waiter, whose pop is dispatched again
// in sequencer order. So the first blocked client is served first, an element is popped once
// (the pop is one shard step or one parked step), and a waiting client costs nothing.
#include <algorithm>
#include <coroutine>
#include <limits>

#include "omnibus/base/clock.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/net/reactor.h"

namespace omnibus {
namespace {

std::string WaiterKey(int db, std::string_view key) {
  std::string k = std::to_string(db);
  k.push_back('\0');
  k.append(key);
  return k;
}

}  // namespace

// One client in a blocking pop: in the waiter list of each key it waits on, from its first
// attempt until it is served, times out, is unblocked or goes away (the destructor).
struct BlockedClient {
  enum class Reason : uint8_t { kNone, kTimeout, kUnblocked, kUnblockedError };

  Reactor* reactor;
  Connection* conn;
  std::vector<std::string> keys;  // waiter-list keys
  bool sleeping = false;
  bool signaled = false;  // a key became ready while a pop was in flight: try again at once
  bool counted = false;   // in blocked_clients (after the first pop found nothing)
  bool wake_all = false;  // waits for a state (CommandSpec::wait_fn): woken with every other
  std::string woken_by;   // the key whose readiness woke it: its next pop tries it first
  Reason reason = Reason::kNone;
  TimerQueue::Id timeout;
  TimerQueue::Id wake;
  TimerQueue::Id recheck;  // the shard asked to be asked again (Work::wait_hint_ms)
  std::coroutine_handle<> handle;

  BlockedClient(Reactor* r, Connection* c, std::vector<std::string> k)
      : reactor(r), conn(c), keys(std::move(k)) {
    for (const std::string& key : keys) reactor->waiters_[key].push_back(this);
    conn->waiter = this;
  }
  BlockedClient(const BlockedClient&) = delete;
  BlockedClient& operator=(const BlockedClient&) = delete;
  ~BlockedClient() {
    for (const std::string& key : keys) {
      auto it = reactor->waiters_.find(key);
      if (it == reactor->waiters_.end()) continue;
      auto& list = it->second;
      list.erase(std::remove(list.begin(), list.end(), this), list.end());
      if (list.empty()) reactor->waiters_.erase(it);
    }
    reactor->timers_.Cancel(timeout);
    reactor->timers_.Cancel(wake);
    reactor->timers_.Cancel(recheck);
    if (counted) {
      --reactor->blocked_clients_;
      conn->session.blocked = false;
    }
    conn->waiter = nullptr;
  }

  void Count() {
    if (counted) return;
    counted = true;
    ++reactor->blocked_clients_;
    conn->session.blocked = true;
    if (conn->peer_closed) reactor->gone_blocked_.push_back(conn);  // gone before it blocked
    reactor->EmitBeforeBarrier(conn);
  }

  // Resumes the sleeping coroutine from the timer pass, never from inside whatever noticed
  // the reason (a completion being drained, another client's CLIENT UNBLOCK).
  void ScheduleWake() {
    if (!sleeping || wake) return;
    wake = reactor->timers_.Add(0, &BlockedClient::OnWake, this);
  }
  void End(Reason r) {
    if (reason == Reason::kNone) reason = r;
    ScheduleWake();
  }
  static void OnWake(void* arg) {
    auto* b = static_cast<BlockedClient*>(arg);
    b->wake = {};
    if (b->handle) std::exchange(b->handle, {}).resume();  // may destroy *b: last statement
  }
  static void OnTimeout(void* arg) {
    auto* b = static_cast<BlockedClient*>(arg);
    b->timeout = {};
    b->End(Reason::kTimeout);
  }
  // The shard's hint came due (the lease waited on ran out): every waiter of the key asks
  // again, in the order they came, so the first of them may win the lease.
  static void OnRecheck(void* arg) {
    auto* b = static_cast<BlockedClient*>(arg);
    b->recheck = {};
    auto it = b->reactor->waiters_.find(b->keys.front());
    if (it == b->reactor->waiters_.end()) return;
    for (BlockedClient* x : it->second) {
      if (x->sleeping) {
        x->ScheduleWake();
      } else {
        x->signaled = true;
      }
    }
  }

  struct Sleep {
    BlockedClient* b;
    bool await_ready() const { return b->reason != Reason::kNone || b->signaled; }
    void await_suspend(std::coroutine_handle<> h) {
      b->handle = h;
      b->sleeping = true;
    }
    void await_resume() { b->sleeping = false; }
  };
};

void Reactor::OnKeyReady(int db, const std::string& key) {
  auto it = waiters_.find(WaiterKey(db, key));
  if (it == waiters_.end()) return;
  // The oldest waiter that is asleep and not already woken gets the key; waiters whose pop is
  // in flight try again as soon as it returns.
  for (BlockedClient* b : it->second) {
    if (b->sleeping) {
      if (b->wake) continue;  // already woken by another key this iteration
      // Like Redis, a client is served from the key that became ready, not its first key.
      b->woken_by = key;
      b->ScheduleWake();
      if (!b->wake_all) return;
      continue;
    }
    b->signaled = true;
  }
}

bool Reactor::UnblockClient(uint64_t id, bool with_error) {
  for (auto& [c, owned] : conns_) {
    if (c->session.id != id || c->closing) continue;
    if (c->waiter == nullptr || !c->waiter->counted) return false;
    c->waiter->End(with_error ? BlockedClient::Reason::kUnblockedError
                              : BlockedClient::Reason::kUnblocked);
    return true;
  }
  return false;
}

Task Reactor::BlockingPop(Connection* c, Work* slot, const CommandSpec* spec) {
  size_t ti = spec->timeout_arg < 0 ? slot->args.size() - static_cast<size_t>(-spec->timeout_arg)
                                    : static_cast<size_t>(spec->timeout_arg);
  int64_t timeout_ms = 0;
  std::string_view error;
  // A bad timeout is answered by the handler, where Redis checks it among the command's
  // other arguments; the attempt then never blocks.
  const bool may_block = spec->wait_fn != nullptr
                             ? spec->wait_fn(slot->args, &timeout_ms)
                             : ParseBlockingTimeout(slot->args[ti], &timeout_ms, &error);
  const int64_t start_ms = MonotonicMs();
  // A blocked command owns its arguments (§10.3).
  std::string storage;
  std::vector<std::string_view> args;
  CopyArgs(slot->args, &storage, &args);
  const int n = static_cast<int>(shards_.size());
  const int db = slot->db;
  std::vector<int> key_at;
  KeyPositions(*spec, args, &key_at);
  std::vector<int> shards;
  for (int k : key_at) shards.push_back(ShardForKey(args[static_cast<size_t>(k)], n));
  if (shards.empty()) shards.push_back(0);  // a malformed numkeys: the shard replies the error
  std::sort(shards.begin(), shards.end());
  shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
  // BLMOVE/BRPOPLPUSH wait on their source only; the destination is written, not waited on.
  const bool moves = spec->name == "blmove" || spec->name == "brpoplpush";
  std::vector<std::string> wait_keys;
  for (size_t i = 0; i < key_at.size() && !(moves && i > 0); ++i) {
    wait_keys.push_back(WaiterKey(db, args[static_cast<size_t>(key_at[i])]));
  }
  // Filed before the first pop goes out, so a key filled while it is in flight is not missed.
  BlockedClient waiter(this, c, std::move(wait_keys));
  waiter.wake_all = spec->wait_fn != nullptr;
  if (timeout_ms > 0) {
    waiter.timeout = timers_.Add(start_ms + timeout_ms, &BlockedClient::OnTimeout, &waiter);
  }
  for (;;) {
    {
      Select sel(this);
      Select::PartOptions options;
      options.db = slot->db;
      options.resp = slot->resp;
      options.write = true;
      // Woken by one of its keys: that key goes first (the others keep their order).
      std::vector<std::string_view> attempt = args;
      if (!waiter.woken_by.empty() && !key_at.empty()) {
        auto first = attempt.begin() + key_at.front();
        auto last = attempt.begin() + key_at.back() + 1;
        auto at = std::find(first, last, std::string_view(waiter.woken_by));
        if (at != last && !moves) std::rotate(first, at, at + 1);
        waiter.woken_by.clear();
      }
      Work* w = shards.size() == 1 ? sel.Add(shards[0], spec->shard, attempt, options)
                                   : sel.AddParked(shards, spec->shard, attempt, options);
      w->may_block = may_block;
      waiter.signaled = false;
      timers_.Cancel(waiter.recheck);
      waiter.recheck = {};
      co_await sel.Next();
      slot->exec_ns += w->exec_ns;
      slot->wait_ns = std::max(slot->wait_ns, w->wait_ns);
      if (!w->would_block) {  // served, or an error (WRONGTYPE, syntax)
        slot->reply.swap(w->reply);
        co_return;
      }
      // A re-check at the shard's hint, unless the wait ends first anyway.
      const int64_t now = MonotonicMs();
      const int64_t left =
          timeout_ms > 0 ? start_ms + timeout_ms - now : std::numeric_limits<int64_t>::max() - now;
      if (w->wait_hint_ms > 0 && w->wait_hint_ms < left) {
        waiter.recheck = timers_.Add(now + w->wait_hint_ms, &BlockedClient::OnRecheck, &waiter);
      }
    }
    waiter.Count();
    if (waiter.reason != BlockedClient::Reason::kNone) break;
    if (waiter.signaled) continue;
    co_await BlockedClient::Sleep{&waiter};
    if (waiter.reason != BlockedClient::Reason::kNone) break;
  }
  if (spec->wait_fn != nullptr && waiter.reason != BlockedClient::Reason::kUnblockedError) {
    // The wait is over: one more look, without waiting, answers what there is now.
    Select sel(this);
    Select::PartOptions options;
    options.db = slot->db;
    options.resp = slot->resp;
    options.write = true;
    Work* w = sel.Add(shards[0], spec->shard, args, options);
    co_await sel.Next();
    slot->exec_ns += w->exec_ns;
    slot->reply.swap(w->reply);
    co_return;
  }
  ReplyBuilder rb(&slot->reply, slot->resp);
  if (waiter.reason == BlockedClient::Reason::kUnblockedError) {
    rb.Error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
  } else {
    rb.NullArray();  // BLMOVE/BRPOPLPUSH too (Redis 7.0's replyToBlockedClientTimedOut)
  }
}

}  // namespace omnibus
