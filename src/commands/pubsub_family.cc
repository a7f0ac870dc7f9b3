// Pub/sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE PUBLISH
// SPUBLISH PUBSUB. Runs on: the reactor thread, where subscribers live with their connections
// (net/pubsub.cc); a message is one shared chunk per protocol, whatever the receiver count.
#include "omnibus/base/str_cat.h"
#include "omnibus/commands/command_table.h"

namespace omnibus {
namespace {

using Args = std::span<const std::string_view>;

void Subscribe(ReactorContext& ctx, PubSubKind kind) {
  ctx.server->Subscribe(*ctx.session, kind, ctx.args.subspan(1), ctx.reply);
}
void Unsubscribe(ReactorContext& ctx, PubSubKind kind) {
  ctx.server->Unsubscribe(*ctx.session, kind, ctx.args.subspan(1), ctx.reply);
}

void SubscribeChannels(ReactorContext& ctx) { Subscribe(ctx, PubSubKind::kChannel); }
void SubscribePatterns(ReactorContext& ctx) { Subscribe(ctx, PubSubKind::kPattern); }
void SubscribeShard(ReactorContext& ctx) { Subscribe(ctx, PubSubKind::kShard); }
void UnsubscribeChannels(ReactorContext& ctx) { Unsubscribe(ctx, PubSubKind::kChannel); }
void UnsubscribePatterns(ReactorContext& ctx) { Unsubscribe(ctx, PubSubKind::kPattern); }
void UnsubscribeShard(ReactorContext& ctx) { Unsubscribe(ctx, PubSubKind::kShard); }

void Publish(ReactorContext& ctx) {
  ctx.reply->Integer(ctx.server->Publish(PubSubKind::kChannel, ctx.args[1], ctx.args[2]));
}
void SPublish(ReactorContext& ctx) {
  ctx.reply->Integer(ctx.server->Publish(PubSubKind::kShard, ctx.args[1], ctx.args[2]));
}

// PUBSUB CHANNELS / SHARDCHANNELS [pattern].
void Channels(ReactorContext& ctx, PubSubKind kind, std::string_view sub) {
  if (ctx.args.size() > 3) {
    return ctx.reply->Error(StrCat("ERR unknown subcommand or wrong number of arguments for '", sub,
                                   "'. Try PUBSUB HELP."));
  }
  std::vector<std::string> names =
      ctx.server->PubSubChannels(kind, ctx.args.size() == 3 ? ctx.args[2] : "");
  ctx.reply->Array(names.size());
  for (const std::string& n : names) ctx.reply->Bulk(n);
}
void PubsubChannels(ReactorContext& ctx) { Channels(ctx, PubSubKind::kChannel, "CHANNELS"); }
void PubsubShardChannels(ReactorContext& ctx) {
  Channels(ctx, PubSubKind::kShard, "SHARDCHANNELS");
}

// PUBSUB NUMSUB / SHARDNUMSUB [channel...]: (channel, count) pairs, an array in both protocols.
void NumSub(ReactorContext& ctx, PubSubKind kind) {
  ctx.reply->Array((ctx.args.size() - 2) * 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    ctx.reply->Bulk(ctx.args[i]);
    ctx.reply->Integer(ctx.server->PubSubNumSub(kind, ctx.args[i]));
  }
}
void PubsubNumSub(ReactorContext& ctx) { NumSub(ctx, PubSubKind::kChannel); }
void PubsubShardNumSub(ReactorContext& ctx) { NumSub(ctx, PubSubKind::kShard); }

void PubsubNumPat(ReactorContext& ctx) { ctx.reply->Integer(ctx.server->PubSubNumPat()); }

void PubsubHelp(ReactorContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CHANNELS [<pattern>]",
      "    Return the currently active channels matching a <pattern> (default: '*').",
      "NUMPAT",
      "    Return number of subscriptions to patterns.",
      "NUMSUB [<channel> ...]",
      "    Return the number of subscribers for the specified channels, excluding",
      "    pattern subscriptions(default: no channels).",
      "SHARDCHANNELS [<pattern>]",
      "    Return the currently active shard level channels matching a <pattern> (default: "
      "'*').",
      "SHARDNUMSUB [<shardchannel> ...]",
      "    Return the number of subscribers for the specified shard level channel(s)",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelpLines(ctx.reply, kLines);
}

CommandDoc Doc(std::string_view summary, std::string_view since, std::string_view complexity,
               std::string_view args) {
  return CommandDoc{summary, since, "pubsub", complexity, args};
}

constexpr uint32_t kSub = kCmdPubSub | kCmdNoScript | kCmdLoading | kCmdStale | kCmdSubscribedOk;
constexpr uint32_t kPub = kCmdPubSub | kCmdLoading | kCmdStale | kCmdFast;
constexpr uint32_t kIntrospect = kCmdPubSub | kCmdLoading | kCmdStale;

}  // namespace

std::vector<CommandSpec> PubSubFamily() {
  constexpr auto reactor = ReactorCommand;
  return {
      reactor("subscribe", -2, kSub, "@pubsub @slow", SubscribeChannels,
              Doc("Listen for messages published to the given channels", "2.0.0",
                  "O(N) where N is the number of channels to subscribe to.", "channel:string...")),
      reactor("unsubscribe", -1, kSub, "@pubsub @slow", UnsubscribeChannels,
              Doc("Stop listening for messages posted to the given channels", "2.0.0",
                  "O(N) where N is the number of clients already subscribed to a channel.",
                  "[channel:string...]")),
      reactor("psubscribe", -2, kSub, "@pubsub @slow", SubscribePatterns,
              Doc("Listen for messages published to channels matching the given patterns", "2.0.0",
                  "O(N) where N is the number of patterns the client is already subscribed to.",
                  "pattern:block(pattern:pattern)...")),
      reactor(
          "punsubscribe", -1, kSub, "@pubsub @slow", UnsubscribePatterns,
          Doc("Stop listening for messages posted to channels matching the given patterns", "2.0.0",
              "O(N+M) where N is the number of patterns the client is already subscribed "
              "and M is the number of total patterns subscribed in the system (by any "
              "client).",
              "[pattern:pattern...]")),
      reactor("ssubscribe", -2, kSub, "@pubsub @slow", SubscribeShard,
              Doc("Listen for messages published to the given shard channels", "7.0.0",
                  "O(N) where N is the number of shard channels to subscribe to.",
                  "shardchannel:string...")),
      reactor("sunsubscribe", -1, kSub, "@pubsub @slow", UnsubscribeShard,
              Doc("Stop listening for messages posted to the given shard channels", "7.0.0",
                  "O(N) where N is the number of clients already subscribed to a shard "
                  "channel.",
                  "[shardchannel:string...]")),
      reactor("publish", 3, kPub, "@pubsub @fast", Publish,
              Doc("Post a message to a channel", "2.0.0",
                  "O(N+M) where N is the number of clients subscribed to the receiving channel "
                  "and M is the total number of subscribed patterns (by any client).",
                  "channel:string message:string")),
      reactor("spublish", 3, kPub, "@pubsub @fast", SPublish,
              Doc("Post a message to a shard channel", "7.0.0",
                  "O(N) where N is the number of clients subscribed to the receiving shard "
                  "channel.",
                  "shardchannel:string message:string")),
      reactor("pubsub", -2, 0, "@slow", nullptr,
              Doc("A container for Pub/Sub commands", "2.8.0", "Depends on subcommand.", "")),
      reactor("pubsub|channels", -2, kIntrospect, "@pubsub @slow", PubsubChannels,
              Doc("List active channels", "2.8.0",
                  "O(N) where N is the number of active channels, and assuming constant time "
                  "pattern matching (relatively short channels and patterns)",
                  "[pattern:pattern]")),
      reactor("pubsub|numsub", -2, kIntrospect, "@pubsub @slow", PubsubNumSub,
              Doc("Get the count of subscribers for channels", "2.8.0",
                  "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
                  "[channel:string...]")),
      reactor("pubsub|numpat", 2, kIntrospect, "@pubsub @slow", PubsubNumPat,
              Doc("Get the count of unique patterns pattern subscriptions", "2.8.0", "O(1)", "")),
      reactor("pubsub|shardchannels", -2, kIntrospect, "@pubsub @slow", PubsubShardChannels,
              Doc("List active shard channels", "7.0.0",
                  "O(N) where N is the number of active shard channels, and assuming constant "
                  "time pattern matching (relatively short shard channels).",
                  "[pattern:pattern]")),
      reactor("pubsub|shardnumsub", -2, kIntrospect, "@pubsub @slow", PubsubShardNumSub,
              Doc("Get the count of subscribers for shard channels", "7.0.0",
                  "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested "
                  "shard channels",
                  "[shardchannel:string...]")),
      reactor("pubsub|help", 2, kCmdLoading | kCmdStale, "@slow", PubsubHelp,
              Doc("Show helpful text about the different subcommands", "6.2.0", "O(1)", "")),
  };
}

}  // namespace omnibus
