// Scripts on the reactor (DESIGN §6): EVAL, EVALSHA and their _RO forms. A script whose
// declared keys are all on one shard (or that declares none) runs there in one shard step;
// if it reaches a key of another shard, the shard stops it, undoes what it changed and
// reports it, and it runs again parked over every shard. A script that declares keys on
// several shards, or one seen reaching out before, runs parked straight away.
//
// The command is a barrier for its connection: the connection's next commands wait until
// the script is done, so a script that runs again parked is still ordered before them.
#include <algorithm>
#include <numeric>

#include "absl/hash/hash.h"
#include "omnibus/base/clock.h"
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
    slot->wait_ns = part->wait_ns;
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
  slot->wait_ns = std::max(slot->wait_ns, cmd->wait_ns);
}

void Reactor::RefreshBusyShards() {
  busy_.assign(shards_.size(), 0);
  busy_any_ = busy_all_ = busy_function_ = false;
  int64_t now = -1;
  for (size_t i = 0; i < shards_.size(); ++i) {
    ScriptActivity& a = shards_[i]->script_activity();
    uint64_t run = a.run.load(std::memory_order_acquire);
    int64_t started = a.started_ms.load(std::memory_order_acquire);
    if (started == 0 || a.run.load(std::memory_order_acquire) != run) continue;
    if (now < 0) now = MonotonicMs();
    if (now - started < options_->busy_reply_threshold) continue;
    busy_[i] = 1;
    busy_any_ = true;
    a.busy_run.store(run, std::memory_order_relaxed);
    busy_all_ |= a.parked.load(std::memory_order_relaxed);
    busy_function_ |= a.function.load(std::memory_order_relaxed);
  }
}

bool Reactor::NeedsBusyShard(const CommandSpec& spec, std::span<const std::string_view> args) {
  const int n = static_cast<int>(shards_.size());
  switch (spec.route) {
    case Route::kReactor:
      return false;
    case Route::kKey:
      return busy_all_ ||
             busy_[static_cast<size_t>(ShardForKey(args[static_cast<size_t>(spec.first_key)], n))];
    case Route::kCustom: {
      std::string ignored;
      ReplyBuilder rb(&ignored, 2);
      int sh = spec.route_fn(args, n, &rb);
      return busy_all_ || (sh >= 0 && busy_[static_cast<size_t>(sh)]);
    }
    case Route::kAllShards:
      return true;
    case Route::kScatter:
    case Route::kParked:
    case Route::kTask:
      break;
  }
  if (busy_all_) return true;
  std::vector<int> key_at;
  KeyPositions(spec, args, &key_at);
  if (key_at.empty()) return true;  // EXEC, a malformed key count: any shard may be needed
  for (int k : key_at) {
    if (k == kAllShardsKey) return true;
    if (busy_[static_cast<size_t>(ShardForKey(args[static_cast<size_t>(k)], n))]) return true;
  }
  return false;
}

bool Reactor::BusyFunction(std::string* name, std::vector<std::string>* command,
                           int64_t* duration_ms) {
  RefreshBusyShards();
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (!busy_[i]) continue;
    ScriptActivity& a = shards_[i]->script_activity();
    uint64_t run = a.run.load(std::memory_order_acquire);
    int64_t started = a.started_ms.load(std::memory_order_acquire);
    const std::string_view* argv = a.argv.load(std::memory_order_relaxed);
    size_t argc = a.argc.load(std::memory_order_relaxed);
    if (started == 0 || !a.function.load(std::memory_order_relaxed) || argv == nullptr) continue;
    // Copied, then checked to still be that run: the Work they point into stays until this
    // thread frees it, but it may carry another command by now.
    std::vector<std::string> copy(argv, argv + argc);
    {
      std::lock_guard lock(a.name_mu);
      *name = a.function_name;
    }
    if (a.run.load(std::memory_order_acquire) != run) continue;
    *command = std::move(copy);
    *duration_ms = MonotonicMs() - started;
    return true;
  }
  return false;
}

std::string Reactor::KillScripts(bool function) {
  RefreshBusyShards();
  std::string error = "NOTBUSY No scripts in execution right now.";
  bool killed = false;
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (!busy_[i]) continue;
    ScriptActivity& a = shards_[i]->script_activity();
    if (a.function.load(std::memory_order_relaxed) != function) {
      // Redis's texts: SCRIPT KILL of a function, FUNCTION KILL of an EVAL.
      error = function ? "BUSY Redis is busy running a script. You can only call SCRIPT KILL "
                         "or SHUTDOWN NOSAVE."
                       : "BUSY Redis is busy running a script. You can only call FUNCTION "
                         "KILL or SHUTDOWN NOSAVE.";
      continue;
    }
    uint32_t state = ScriptActivity::kRunning;
    if (a.state.compare_exchange_strong(state, ScriptActivity::kKill, std::memory_order_acq_rel) ||
        state == ScriptActivity::kKill) {
      killed = true;
    } else {
      error =
          "UNKILLABLE Sorry the script already executed write commands against the dataset. "
          "You can either wait the script termination or kill the server in a hard way using "
          "the SHUTDOWN NOSAVE command.";
    }
  }
  return killed ? std::string() : error;
}

}  // namespace omnibus
