// Client-side caching commands (Redis 6+): CLIENT TRACKING, CLIENT CACHING, CLIENT
// TRACKINGINFO, CLIENT GETREDIR. The tracking itself lives on the reactor (net/tracking.cc).
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"

namespace omnibus {
namespace {

void ClientTracking(ReactorContext& ctx) {
  ctx.server->ClientTracking(*ctx.session, ctx.args, ctx.reply);
}

void ClientCaching(ReactorContext& ctx) {
  Session::Tracking& t = ctx.session->tracking;
  if (!t.on) {
    return ctx.reply->Error(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or "
        "OPTOUT mode enabled");
  }
  if (EqualsIgnoreCase(ctx.args[2], "yes")) {
    if (!t.optin) {
      return ctx.reply->Error(
          "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
    }
  } else if (EqualsIgnoreCase(ctx.args[2], "no")) {
    if (!t.optout) {
      return ctx.reply->Error(
          "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
    }
  } else {
    return ctx.reply->Error("ERR syntax error");
  }
  t.caching = true;  // for the next command (Reactor::Dispatch clears it)
  ctx.reply->Ok();
}

void ClientTrackingInfo(ReactorContext& ctx) {
  const Session::Tracking& t = ctx.session->tracking;
  std::vector<std::string_view> flags;
  flags.push_back(t.on ? "on" : "off");
  if (t.bcast) flags.push_back("bcast");
  if (t.optin) {
    flags.push_back("optin");
    if (t.caching) flags.push_back("caching-yes");
  }
  if (t.optout) {
    flags.push_back("optout");
    if (t.caching) flags.push_back("caching-no");
  }
  if (t.noloop) flags.push_back("noloop");
  if (t.broken_redirect) flags.push_back("broken_redirect");
  ReplyBuilder& rb = *ctx.reply;
  rb.Map(3);
  rb.Bulk("flags");
  rb.Set(flags.size());
  for (std::string_view f : flags) rb.Bulk(f);
  rb.Bulk("redirect");
  rb.Integer(t.on ? static_cast<int64_t>(t.redirect) : -1);
  rb.Bulk("prefixes");
  rb.Array(t.prefixes.size());
  for (const std::string& p : t.prefixes) rb.Bulk(p);
}

void ClientGetRedir(ReactorContext& ctx) {
  const Session::Tracking& t = ctx.session->tracking;
  ctx.reply->Integer(t.on ? static_cast<int64_t>(t.redirect) : -1);
}

CommandDoc Doc(std::string_view summary, std::string_view since, std::string_view complexity,
               std::string_view args) {
  return CommandDoc{summary, since, "connection", complexity, args};
}

constexpr uint32_t kClientFlags = kCmdLoading | kCmdStale | kCmdNoScript;

}  // namespace

std::vector<CommandSpec> TrackingFamily() {
  constexpr auto reactor = ReactorCommand;
  return {
      reactor("client|tracking", -3, kClientFlags, "@slow @connection", ClientTracking,
              Doc("Enable or disable server assisted client side caching support", "6.0.0",
                  "O(1). Some options may introduce additional complexity.",
                  "status:oneof(on:pure-token:ON|off:pure-token:OFF) [client-id:integer:REDIRECT] "
                  "[prefix:string:PREFIX{multiple_token}...] [bcast:pure-token:BCAST] "
                  "[optin:pure-token:OPTIN] [optout:pure-token:OPTOUT] "
                  "[noloop:pure-token:NOLOOP]")),
      reactor("client|caching", 3, kClientFlags, "@slow @connection", ClientCaching,
              Doc("Instruct the server about tracking or not keys in the next request", "6.0.0",
                  "O(1)", "mode:oneof(yes:pure-token:YES|no:pure-token:NO)")),
      reactor("client|trackinginfo", 2, kClientFlags, "@slow @connection", ClientTrackingInfo,
              Doc("Return information about server assisted client side caching for the current "
                  "connection",
                  "6.2.0", "O(1)", "")),
      reactor("client|getredir", 2, kClientFlags, "@slow @connection", ClientGetRedir,
              Doc("Get tracking notifications redirection client ID if any", "6.0.0", "O(1)", "")),
  };
}

}  // namespace omnibus
