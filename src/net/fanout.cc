// Multi-shard commands on the reactor (DESIGN §6): a coroutine per command sends one part per
// involved shard through a select, all in the same loop batch, and merges the parts' typed
// replies with the command's declarative merge function once the last has arrived. Commands
// where one shard needs another's data park every involved shard instead.
#include "src/net/fanout.h"

#include <algorithm>

#include "omnibus/commands/command_table.h"
#include "omnibus/net/reactor.h"

namespace omnibus {

Task Reactor::FanOut(Connection* c, Work* slot, const CommandSpec* spec, std::vector<int> shard_of,
                     std::vector<int> key_at) {
  const size_t n = shards_.size();
  Select sel(this);
  Select::PartOptions options;
  options.db = slot->db;
  options.resp = slot->resp;
  options.write = (spec->flags & kCmdWrite) != 0;
  options.priority = (spec->flags & kCmdJumpsQueue) != 0;
  if (spec->route == Route::kParked) {
    std::vector<int> shards = shard_of;
    std::sort(shards.begin(), shards.end());
    shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
    Work* cmd = sel.AddParked(shards, spec->shard, slot->args, options);
    cmd->read_lookups = slot->read_lookups;
    co_await sel.Next();
    slot->reply.swap(cmd->reply);
    slot->exec_ns = cmd->exec_ns;
    slot->wait_ns = cmd->wait_ns;
    co_return;
  }
  options.capture = true;
  std::vector<Work*> part_of(n, nullptr);
  std::vector<std::vector<uint32_t>> positions(n);
  if (spec->route == Route::kAllShards) {
    for (int sh : shard_of) {
      part_of[static_cast<size_t>(sh)] = sel.Add(sh, spec->shard, slot->args, options);
      part_of[static_cast<size_t>(sh)]->read_lookups = slot->read_lookups;
    }
  } else {  // kScatter: each shard gets the command over its own keys
    std::vector<std::vector<std::string_view>> args(n);
    for (size_t k = 0; k < key_at.size(); ++k) {
      auto sh = static_cast<size_t>(shard_of[k]);
      if (args[sh].empty()) args[sh].push_back(slot->args[0]);
      for (int j = 0; j < spec->key_step; ++j) {
        args[sh].push_back(slot->args[static_cast<size_t>(key_at[k] + j)]);
      }
      positions[sh].push_back(static_cast<uint32_t>(k));
    }
    // One place in the sequencer for all parts, and each key's place in the command: key
    // notices (DEL k1 k2 k3's "del"s) come out in argument order, as Redis announces them.
    const uint64_t dispatch = NextDispatchSeq();
    for (size_t sh = 0; sh < n; ++sh) {
      if (args[sh].empty()) continue;
      part_of[sh] = sel.Add(static_cast<int>(sh), spec->shard, args[sh], options);
      part_of[sh]->read_lookups = slot->read_lookups;
      part_of[sh]->dispatch_seq = dispatch;
      part_of[sh]->notice_order = positions[sh];
    }
  }
  int64_t exec = 0;
  int64_t wait = 0;  // the parts wait side by side: the longest is the command's
  while (Work* part = co_await sel.Next()) {
    exec += part->exec_ns;
    wait = std::max(wait, part->wait_ns);
  }
  // Every part's key notices at once (this runs inside the drain that brought the last part,
  // which handles them when it ends), so they sort into argument order.
  for (Work* part : part_of) {
    if (part != nullptr) HoldNotices(part);
  }
  std::vector<SubReply> parts;
  for (size_t sh = 0; sh < n; ++sh) {
    if (part_of[sh] != nullptr) parts.push_back(SubReply{&part_of[sh]->result, positions[sh]});
  }
  ReplyBuilder rb(&slot->reply, slot->resp);
  MergeContext ctx{slot->args, parts, &rb, &c->session, api_};
  spec->merge(ctx);
  slot->exec_ns = exec;
  slot->wait_ns = wait;
}

}  // namespace omnibus
