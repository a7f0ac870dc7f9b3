// Scripts on the reactor (DESIGN §6): EVAL, EVALSHA and their _RO forms. A script whose
// declared keys are all on one shard (or that declares none) runs there in one shard step;
// if it reaches a key of another shard, the shard stops it, undoes what it changed and
// reports it, and it runs again parked over every shard. A script that declares keys on
// several shards, or one seen reaching out before, runs parked straight away.
//
// The command is a barrier for its connection: the connection's next commands wait until
// the script is done, so a script that runs again parked is still ordered before them.
#include <numeric>

#include "absl/hash/hash.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/net/reactor.h"

namespace omnibus {

Task Reactor::Script(Connection* c, Work* slot, const CommandSpec* spec) {
  const int n = static_cast<int>(shards_.size());
  std::vector<int> key_at;
  KeyPositions(*spec, slot->args, &key_at);
  int shard = -1;
  bool single = true;
  for (int k : key_at) {
    if (k == kAllShardsKey) continue;  // how MULTI/EXEC sees a script: any key
    int sh = ShardForKey(slot->args[static_cast<size_t>(k)], n);
    if (shard < 0) shard = sh;
    single &= sh == shard;
  }
  // No declared keys: any shard will do; spread by the script.
  if (shard < 0) shard = ShardForKey(slot->args[1], n);
  const uint64_t script_hash = absl::HashOf(slot->args[1]);
  Select::PartOptions options;
  options.db = slot->db;
  options.resp = slot->resp;
  options.write = true;  // a script may write: it completes even if the client leaves
  if (single && !scripts_reaching_out_.contains(script_hash)) {
    Select sel(this);
    Work* part = sel.Add(shard, spec->shard, slot->args, options);
    co_await sel.Next();
    slot->exec_ns = part->exec_ns;
    if (part->escalate || part->reached_out) {
      // Bounded memory: forgetting means one more run that stops and goes parked.
      if (scripts_reaching_out_.size() >= 4096) scripts_reaching_out_.clear();
      scripts_reaching_out_.insert(script_hash);
    }
    if (!part->escalate) {
      slot->reply.swap(part->reply);
      co_return;
    }
  }
  std::vector<int> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  Select sel(this);
  Work* cmd = sel.AddParked(all, spec->shard, slot->args, options);
  co_await sel.Next();
  slot->reply.swap(cmd->reply);
  slot->exec_ns += cmd->exec_ns;
}

}  // namespace omnibus
