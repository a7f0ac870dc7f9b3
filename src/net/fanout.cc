// Multi-shard commands on the reactor: splitting a command into one part per shard (all sent
// in the same loop pass, DESIGN §6) and merging the parts' replies when the last arrives.
#include "src/net/fanout.h"

#include <algorithm>

#include "omnibus/commands/command_table.h"

namespace omnibus {

void Reactor::DispatchFanOut(Connection* c, Work* w, const CommandSpec* spec) {
  const int n = static_cast<int>(shards_.size());
  const auto& args = w->args;
  // Which shards are involved, and which keys each one gets (scratch vectors are members so
  // the common single-shard case allocates nothing).
  std::vector<int>& shard_of = scratch_shard_of_;
  shard_of.clear();
  int first = -1;
  bool single = true;
  std::vector<int>& key_at = scratch_key_at_;
  key_at.clear();
  if (spec->route != Route::kAllShards) {
    KeyPositions(*spec, args, &key_at);
    // A malformed key count (ZUNIONSTORE d 0 ...): no keys, so any shard answers the error.
    if (key_at.empty()) return StageToShard(0, w);
    if (spec->keys_fn != nullptr &&
        std::find(key_at.begin(), key_at.end(), kAllShardsKey) != key_at.end()) {
      // Any key may be read (SORT ... BY/GET patterns): every shard takes part.
      key_at.clear();
      for (int sh = 0; sh < n; ++sh) shard_of.push_back(sh);
      single = n == 1;
      first = 0;
    }
    for (int i : key_at) {
      int sh = ShardForKey(args[static_cast<size_t>(i)], n);
      shard_of.push_back(sh);
      if (first < 0) first = sh;
      single &= sh == first;
    }
    if (single) return StageToShard(first, w);  // the common case: no fan-out at all
  }
  ++stats_.fanouts;
  std::unique_ptr<FanOut> f;
  if (!free_fanouts_.empty()) {
    f = std::move(free_fanouts_.back());
    free_fanouts_.pop_back();
  } else {
    f = std::make_unique<FanOut>();
  }
  f->conn = c;
  f->slot = w;
  f->spec = spec;
  f->used = 0;
  f->park.reset();
  std::vector<int>& part_of_shard = scratch_part_of_shard_;
  part_of_shard.assign(static_cast<size_t>(n), -1);
  auto part_for = [&](int sh) -> Work* {
    int& idx = part_of_shard[static_cast<size_t>(sh)];
    if (idx < 0) {
      idx = static_cast<int>(f->used++);
      if (f->parts.size() < f->used) {
        f->parts.push_back(std::make_unique<Work>());
        f->positions.emplace_back();
      }
      Work* p = f->parts[static_cast<size_t>(idx)].get();
      p->handler = spec->shard;
      p->command_id = kNoStats;
      p->db = w->db;
      p->resp = w->resp;
      p->owner = f.get();
      p->is_part = true;
      p->park = nullptr;
      p->reply.clear();
      p->args.clear();
      p->args.push_back(args[0]);
      f->positions[static_cast<size_t>(idx)].clear();
    }
    return f->parts[static_cast<size_t>(idx)].get();
  };
  if (spec->route == Route::kAllShards) {
    for (int sh = 0; sh < n; ++sh) {
      Work* p = part_for(sh);
      p->args.assign(args.begin(), args.end());
    }
  } else if (spec->route == Route::kScatter) {
    for (size_t k = 0; k < key_at.size(); ++k) {
      int i = key_at[k];
      int sh = shard_of[k];
      Work* p = part_for(sh);
      for (int j = 0; j < spec->key_step; ++j) p->args.push_back(args[static_cast<size_t>(i + j)]);
      f->positions[static_cast<size_t>(part_of_shard[static_cast<size_t>(sh)])].push_back(
          static_cast<uint32_t>(k));
    }
  } else {  // kParked: every involved shard stops at this fence; the last one runs `w`.
    for (int sh : shard_of) part_for(sh);
    f->park = std::make_unique<ParkGroup>();
    f->keyspaces.clear();
    for (Shard* s : shards_) f->keyspaces.push_back(s->keyspace());
    f->park->work = w;
    f->park->all = f->keyspaces.data();
    f->park->num_shards = n;
    f->park->waiting.store(static_cast<int>(f->used));
    for (size_t i = 0; i < f->used; ++i) f->parts[i]->park = f->park.get();
  }
  f->remaining = f->used;
  // In flight, the reactor owns it (so a stop with parts still in shards frees it too).
  FanOut* raw = f.get();
  raw->live_index = live_fanouts_.size();
  live_fanouts_.push_back(std::move(f));
  for (int sh = 0; sh < n; ++sh) {
    int idx = part_of_shard[static_cast<size_t>(sh)];
    if (idx >= 0) StageToShard(sh, raw->parts[static_cast<size_t>(idx)].get());
  }
}

void Reactor::OnFanOutPartDone(Work* w) {
  FanOut* f = static_cast<FanOut*>(w->owner);
  if (--f->remaining > 0) return;
  Work* slot = f->slot;
  if (f->park == nullptr) {
    std::vector<SubReply> parts;
    parts.reserve(f->used);
    for (size_t i = 0; i < f->used; ++i) {
      parts.push_back(SubReply{&f->parts[i]->result, f->positions[i]});
    }
    ReplyBuilder rb(&slot->reply, slot->resp);
    MergeContext ctx{slot->args, parts, &rb, &f->conn->session, api_};
    f->spec->merge(ctx);
  }
  int64_t exec = 0;
  for (size_t i = 0; i < f->used; ++i) exec += f->parts[i]->exec_ns;
  slot->exec_ns = exec;
  Connection* c = f->conn;
  f->park.reset();
  // Back to the pool: swap it with the last live fan-out and pop.
  size_t i = f->live_index;
  std::swap(live_fanouts_[i], live_fanouts_.back());
  live_fanouts_[i]->live_index = i;
  free_fanouts_.push_back(std::move(live_fanouts_.back()));
  live_fanouts_.pop_back();
  OnSlotDone(c);
}

}  // namespace omnibus
