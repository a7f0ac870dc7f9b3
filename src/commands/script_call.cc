// redis.call / redis.pcall for EVAL and FCALL alike: how a script runs one command through
// the command table.
#include "script_call.h"

#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"

namespace omnibus {
namespace {

using Args = std::span<const std::string_view>;

ReplyValue ErrorValue(std::string_view text) {
  ReplyValue v;
  v.kind = ReplyValue::Kind::kError;
  v.str = std::string(text);
  return v;
}

}  // namespace

ReplyValue CallFromScript(const ExecContext& ctx, Args argv, int resp, bool read_only) {
  const CommandTable& table = *ctx.commands;
  const CommandSpec* spec = argv.empty() ? nullptr : table.Find(argv[0]);
  if (spec != nullptr && spec->container && argv.size() >= 2) {
    std::string sub = StrCat(spec->name, "|", argv[1]);
    AsciiToLower(&sub);
    spec = table.Find(sub);
  }
  if (spec == nullptr) return ErrorValue("ERR Unknown Redis command called from script");
  int argc = static_cast<int>(argv.size());
  if ((spec->arity > 0 && argc != spec->arity) || argc < -spec->arity) {
    return ErrorValue("ERR Wrong number of args calling Redis command from script");
  }
  if (spec->flags & kCmdNoScript) {
    return ErrorValue("ERR This Redis command is not allowed from script");
  }
  if (read_only && (spec->flags & kCmdWrite)) {
    return ErrorValue("ERR Write commands are not allowed from read-only scripts.");
  }
  ReplyValue v;
  ReplyBuilder rb(&v, resp);
  ExecContext sub = ctx;
  sub.args = argv;
  sub.reply = &rb;
  sub.may_block = false;  // blocking commands do not block in scripts
  switch (spec->route) {
    case Route::kKey:
    case Route::kScatter:
    case Route::kParked:
    case Route::kTask:
      if (spec->shard == nullptr) break;
      spec->shard(sub);
      return v;
    case Route::kCustom: {
      int shard = spec->route_fn(argv, ctx.num_shards, &rb);
      if (shard < 0) return v;
      if (ctx.all != nullptr) {
        sub.local = ctx.all[shard];
        sub.shard_index = shard;
      }
      spec->shard(sub);
      return v;
    }
    case Route::kAllShards: {
      if (spec->merge == nullptr || spec->name == "info") break;  // INFO needs the reactor
      int n = ctx.all != nullptr ? ctx.num_shards : 1;
      std::vector<ReplyValue> parts(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        ReplyBuilder prb(&parts[static_cast<size_t>(i)], resp);
        ExecContext each = sub;
        each.reply = &prb;
        if (ctx.all != nullptr) {
          each.local = ctx.all[i];
          each.shard_index = i;
        }
        spec->shard(each);
      }
      std::vector<SubReply> subs;
      for (const ReplyValue& p : parts) subs.push_back(SubReply{&p, {}});
      MergeContext merge{argv, subs, &rb, nullptr, nullptr};
      spec->merge(merge);
      return v;
    }
    case Route::kReactor:
      // Connection state lives on the reactor: of the keyless commands only the pure ones
      // run here.
      if (spec->name == "ping") {
        if (argc == 1) {
          rb.SimpleString("PONG");
        } else if (argc == 2) {
          rb.Bulk(argv[1]);
        } else {
          return ErrorValue("ERR Wrong number of args calling Redis command from script");
        }
        return v;
      }
      if (spec->name == "echo") {
        rb.Bulk(argv[1]);
        return v;
      }
      break;
  }
  return ErrorValue("ERR This Redis command is not allowed from script");
}

}  // namespace omnibus
