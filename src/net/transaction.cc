// MULTI/EXEC and WATCH on the reactor (DESIGN §6, §10.3-10.4). EXEC turns the queued commands
// into one Transaction that runs in one shard step, or parked over every shard it touches,
// after checking the WATCHed keys' versions in that same step; replies of keyless commands
// and merges of all-shard ones are made on the reactor when the reply is assembled.
#include <algorithm>

#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/net/reactor.h"
#include "src/net/fanout.h"

namespace omnibus {

Task Reactor::Exec(Connection* c, Work* slot) {
  Session& s = c->session;
  if (!s.in_multi) {
    ReplyBuilder(&slot->reply, slot->resp).Error("ERR EXEC without MULTI");
    co_return;
  }
  s.in_multi = false;
  std::vector<QueuedCommand> queued = std::move(s.queued);
  s.queued.clear();
  auto tx = std::make_unique<Transaction>();
  tx->watches = std::move(s.watched);
  s.watched.clear();
  if (s.multi_dirty) {
    s.multi_dirty = false;
    SendUnwatch(tx->watches);
    ReplyBuilder(&slot->reply, slot->resp)
        .Error("EXECABORT Transaction discarded because of previous errors.");
    co_return;
  }
  if (api_->OutOfMemory() && std::any_of(queued.begin(), queued.end(), [](const QueuedCommand& q) {
        return q.spec != nullptr && (q.spec->flags & kCmdDenyOom);
      })) {
    // Redis rejects an EXEC that would grow memory while out of it, as a whole.
    SendUnwatch(tx->watches);
    ReplyBuilder(&slot->reply, slot->resp)
        .Error(StrCat("EXECABORT Transaction discarded because of: ", kOomError));
    co_return;
  }
  tx->resp = slot->resp;
  // The queue's vector moved its elements as it grew, and a short argument string moves by
  // copy: point each command's views at its own storage again before reading them.
  for (QueuedCommand& q : queued) {
    size_t pos = 0;
    for (std::string_view& a : q.args) {
      a = std::string_view(q.storage.data() + pos, a.size());
      pos += a.size();
    }
  }
  // MONITOR shows the transaction's commands before EXEC, as Redis feeds them when run.
  for (const QueuedCommand& q : queued) {
    if (q.spec != nullptr) FeedMonitors(c, *q.spec, q.args);
    // Client tracking: the transaction's reads, as if dispatched now.
    if (s.tracking.on && q.spec != nullptr) TrackCommand(c, *q.spec, q.args, dispatch_seq_ + 1);
  }
  const int n = static_cast<int>(shards_.size());
  std::vector<bool> involved(static_cast<size_t>(n), false);
  auto involve = [&](int sh) { involved[static_cast<size_t>(sh)] = true; };
  int db = s.db;
  std::vector<int> key_at;
  tx->steps.resize(queued.size());
  // The one shard each step touches: kNoShard for steps answered on the reactor, kSpans for
  // steps over several shards (or all of them).
  constexpr int kNoShard = -2, kSpans = -1;
  std::vector<int> step_shard(queued.size(), kNoShard);
  for (size_t i = 0; i < queued.size(); ++i) {
    QueuedCommand& q = queued[i];
    const CommandSpec* spec = q.spec;
    TxStep& st = tx->steps[i];
    if (spec == nullptr) {
      st.mode = TxStep::Mode::kAnswered;  // step_shard stays kNoShard
      st.command_id = kNoStats;
      st.reply = std::move(q.reply);
      continue;
    }
    st.storage = std::move(q.storage);
    size_t pos = 0;
    for (auto a : q.args) {
      st.args.emplace_back(st.storage.data() + pos, a.size());
      pos += a.size();
    }
    st.db = static_cast<uint8_t>(db);
    st.order = static_cast<uint32_t>(i);
    st.command_id = spec->id;
    st.handler = spec->shard;
    st.read_lookups = (spec->flags & kCmdReadOnly) != 0;
    switch (spec->route) {
      case Route::kReactor: {
        st.mode = TxStep::Mode::kReactor;
        // SELECT runs when the reply is assembled, but the commands after it use its DB.
        int64_t to;
        if (spec->name == "select" && ParseInt64(st.args[1], &to) && to >= 0 &&
            to < keyspaces_[0]->num_dbs()) {
          db = static_cast<int>(to);
        }
        break;
      }
      case Route::kKey:
        st.mode = TxStep::Mode::kOnKeys;
        step_shard[i] = ShardForKey(st.args[static_cast<size_t>(spec->first_key)], n);
        involve(step_shard[i]);
        break;
      case Route::kCustom: {
        ReplyBuilder rb(&st.reply, tx->resp);
        int sh = spec->route_fn(st.args, n, &rb);
        if (sh < 0) {
          st.mode = TxStep::Mode::kAnswered;
        } else {
          st.mode = TxStep::Mode::kOnShard;
          st.shard = sh;
          step_shard[i] = sh;
          involve(sh);
        }
        break;
      }
      case Route::kAllShards:
        st.mode = TxStep::Mode::kEachShard;
        step_shard[i] = kSpans;
        for (int sh = 0; sh < n; ++sh) involve(sh);
        break;
      case Route::kScatter:
      case Route::kParked:
      case Route::kTask:  // blocking pops: inside MULTI they do not block
        st.mode = TxStep::Mode::kOnKeys;
        key_at.clear();
        KeyPositions(*spec, st.args, &key_at);
        if (key_at.empty()) {  // a malformed key count: any shard replies the error
          step_shard[i] = 0;
          involve(0);
        }
        for (int k : key_at) {
          int sh = k == kAllShardsKey ? kSpans : ShardForKey(st.args[static_cast<size_t>(k)], n);
          if (sh == kSpans) {
            for (int all = 0; all < n; ++all) involve(all);
          } else {
            involve(sh);
          }
          step_shard[i] = step_shard[i] == kNoShard || step_shard[i] == sh ? sh : kSpans;
        }
        break;
    }
  }
  for (const WatchedKey& wk : tx->watches) involve(ShardForKey(wk.key, n));
  std::vector<int> shards;
  for (int sh = 0; sh < n; ++sh) {
    if (involved[static_cast<size_t>(sh)]) shards.push_back(sh);
  }
  Transaction* t = tx.get();
  // Where each step's reply ends up: (shard's transaction, index) when split by shard.
  std::vector<std::pair<Transaction*, size_t>> where(t->steps.size(), {t, 0});
  for (size_t i = 0; i < where.size(); ++i) where[i].second = i;
  Select sel(this);
  int64_t tx_wait = 0;  // how long its shards' queues held it (the longest share's wait)
  const bool split = shards.size() > 1 && t->watches.empty() &&
                     std::find(step_shard.begin(), step_shard.end(), kSpans) == step_shard.end();
  if (split) {
    // Every step stays on one shard and nothing is watched: each shard runs its own steps in
    // one step of its queue, all sent in one batch. Like MSET's scatter, the sequencer's
    // global order of fences keeps it atomic for every reader (invariant 2), and no shard
    // waits for another (no parking).
    std::vector<std::unique_ptr<Transaction>> per(static_cast<size_t>(n));
    std::vector<size_t> count(static_cast<size_t>(n), 0);
    for (int sh : step_shard) {
      if (sh >= 0) ++count[static_cast<size_t>(sh)];
    }
    for (int sh : shards) {
      auto& p = per[static_cast<size_t>(sh)];
      p = std::make_unique<Transaction>();
      p->resp = t->resp;
      p->steps.reserve(count[static_cast<size_t>(sh)]);
    }
    for (size_t i = 0; i < t->steps.size(); ++i) {
      if (step_shard[i] < 0) continue;
      Transaction* p = per[static_cast<size_t>(step_shard[i])].get();
      where[i] = {p, p->steps.size()};
      TxStep& moved = p->steps.emplace_back(std::move(t->steps[i]));
      // A short argument string moves by copy: point the views at the step's own copy.
      size_t pos = 0;
      for (std::string_view& a : moved.args) {
        a = std::string_view(moved.storage.data() + pos, a.size());
        pos += a.size();
      }
    }
    const uint64_t dispatch = NextDispatchSeq();  // one place in the sequencer for all parts
    std::vector<Work*> parts;
    for (int sh : shards) {
      Work* w = sel.NewPart();
      w->db = static_cast<uint8_t>(s.db);
      w->resp = slot->resp;
      w->keep = true;
      w->dispatch_seq = dispatch;
      w->tx = std::move(per[static_cast<size_t>(sh)]);
      w->tx->split = true;
      int one[1] = {sh};
      sel.AddPrepared(one, w);
      parts.push_back(w);
    }
    while (co_await sel.Next() != nullptr) {
    }
    // Keys the shares made ready, woken together in the transaction's order (this runs
    // inside the reactor's drain, which wakes them when it ends).
    for (Work* part : parts) {
      HoldReady(part);
      tx_wait = std::max(tx_wait, part->wait_ns);
    }
  } else if (!shards.empty()) {
    // One shard step, or every involved shard parked at one fence (§6): nobody sees the
    // transaction half-applied, and the watch check is atomic with it. Writes always run
    // to the end, even if this client goes away meanwhile (invariant 4).
    Work* w = sel.NewPart();
    w->db = static_cast<uint8_t>(s.db);
    w->resp = slot->resp;
    w->keep = true;
    w->tx = std::move(tx);
    sel.AddPrepared(shards, w);
    co_await sel.Next();
    tx_wait = w->wait_ns;
  }
  slot->wait_ns = tx_wait;
  slot->exec_ns = 0;  // its commands' execution, summed below
  ReplyBuilder rb(&slot->reply, slot->resp);
  if (t->aborted) {
    rb.NullArray();
    co_return;
  }
  rb.Array(where.size());
  std::string out;
  for (auto [owner, index] : where) {
    TxStep& st = owner->steps[index];
    if (st.command_id == kNoStats) {
      slot->reply += st.reply;
      continue;
    }
    const CommandSpec* spec = &table_->all()[st.command_id];
    switch (st.mode) {
      case TxStep::Mode::kReactor: {
        out.clear();
        ReplyBuilder srb(&out, s.resp);
        ReactorContext ctx{st.args, &srb, &s, api_};
        spec->reactor(ctx);
        CountReply(spec, out, 0);
        ObserveLatency(s, *spec, st.args, 0, 0);
        slot->reply += out;
        break;
      }
      case TxStep::Mode::kEachShard: {
        out.clear();
        ReplyBuilder srb(&out, t->resp);
        std::vector<SubReply> parts;
        for (const ReplyValue& v : st.parts) parts.push_back(SubReply{&v, {}});
        MergeContext ctx{st.args, parts, &srb, &s, api_};
        spec->merge(ctx);
        CountReply(spec, out, st.exec_ns);
        ObserveLatency(s, *spec, st.args, st.exec_ns, tx_wait);
        slot->exec_ns += st.exec_ns;
        slot->reply += out;
        break;
      }
      case TxStep::Mode::kOnKeys:
      case TxStep::Mode::kOnShard:
      case TxStep::Mode::kAnswered:
        CountReply(spec, st.reply, st.exec_ns);
        // Each of its commands waited as long as the transaction did (in the slow log
        // beside its own execution; EXEC itself is never logged, as in Redis).
        ObserveLatency(s, *spec, st.args, st.exec_ns, tx_wait);
        slot->exec_ns += st.exec_ns;
        slot->reply += st.reply;
        break;
    }
  }
}

Task Reactor::Watch(Connection* c, Work* slot) {
  Session& s = c->session;
  if (s.in_multi) {
    ReplyBuilder(&slot->reply, slot->resp).Error("ERR WATCH inside MULTI is not allowed");
    co_return;
  }
  const size_t n = shards_.size();
  std::vector<std::vector<std::string_view>> args(n);
  for (size_t i = 1; i < slot->args.size(); ++i) {
    auto sh = static_cast<size_t>(ShardForKey(slot->args[i], static_cast<int>(n)));
    if (args[sh].empty()) args[sh].push_back("watch");
    args[sh].push_back(slot->args[i]);
  }
  Select sel(this);
  Select::PartOptions options;
  options.db = slot->db;
  options.resp = slot->resp;
  options.write = true;  // registrations: never cancelled (undone below instead)
  options.capture = true;
  std::vector<Work*> parts(n, nullptr);
  for (size_t sh = 0; sh < n; ++sh) {
    if (!args[sh].empty())
      parts[sh] = sel.Add(static_cast<int>(sh), WatchKeysOnShard, args[sh], options);
  }
  // If the client goes away before the versions arrive, the registrations still happen on
  // the shards: undo them (sent after them, so applied after them).
  struct Undo {
    Reactor* reactor;
    std::vector<WatchedKey> keys;
    ~Undo() {
      if (!keys.empty()) reactor->SendUnwatch(keys);
    }
  } undo{this, {}};
  for (size_t i = 1; i < slot->args.size(); ++i) {
    undo.keys.push_back(WatchedKey{slot->db, std::string(slot->args[i]), 0});
  }
  while (co_await sel.Next() != nullptr) {
  }
  undo.keys.clear();
  for (size_t sh = 0; sh < n; ++sh) {
    if (parts[sh] == nullptr) continue;
    const ReplyValue& versions = parts[sh]->result;
    for (size_t j = 1; j < args[sh].size(); ++j) {
      uint64_t v = j - 1 < versions.elements.size()
                       ? static_cast<uint64_t>(versions.elements[j - 1].integer)
                       : 0;
      s.watched.push_back(WatchedKey{slot->db, std::string(args[sh][j]), v});
    }
  }
  ReplyBuilder(&slot->reply, slot->resp).Ok();
}

void Reactor::SendUnwatch(const std::vector<WatchedKey>& keys) {
  if (keys.empty()) return;
  const size_t n = shards_.size();
  std::vector<std::string> dbs;
  dbs.reserve(keys.size());
  for (const WatchedKey& k : keys) dbs.push_back(std::to_string(k.db));
  std::vector<std::vector<std::string_view>> args(n);
  for (size_t i = 0; i < keys.size(); ++i) {
    auto sh = static_cast<size_t>(ShardForKey(keys[i].key, static_cast<int>(n)));
    if (args[sh].empty()) args[sh].push_back("unwatch");
    args[sh].push_back(dbs[i]);
    args[sh].push_back(keys[i].key);
  }
  // Fire and forget: the select closes at once and its write parts still run.
  Select sel(this);
  Select::PartOptions options;
  options.write = true;
  for (size_t sh = 0; sh < n; ++sh) {
    if (!args[sh].empty()) sel.Add(static_cast<int>(sh), UnwatchKeysOnShard, args[sh], options);
  }
  sel.Send();
}

void Reactor::Unwatch(Session& s) {
  SendUnwatch(s.watched);
  s.watched.clear();
}

}  // namespace omnibus
