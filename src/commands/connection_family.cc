// Connection commands: PING ECHO QUIT RESET SELECT HELLO AUTH CLIENT.
// Runs on: the reactor thread (they touch only the connection's Session and server state).
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/commands/version.h"

namespace omnibus {
namespace {

void Ping(ReactorContext& ctx) {
  if (ctx.args.size() > 2) return ReplyArityError(ctx.reply, "ping");
  if (ctx.session != nullptr && ctx.session->resp == 2 && ctx.session->subscribed()) {
    // RESP2 subscribed mode: ["pong", message or ""], as Redis.
    ctx.reply->Array(2);
    ctx.reply->Bulk("pong");
    return ctx.reply->Bulk(ctx.args.size() == 2 ? ctx.args[1] : "");
  }
  if (ctx.args.size() == 2) return ctx.reply->Bulk(ctx.args[1]);
  ctx.reply->SimpleString("PONG");
}

void Echo(ReactorContext& ctx) { ctx.reply->Bulk(ctx.args[1]); }

void Quit(ReactorContext& ctx) {
  ctx.session->close_after_reply = true;
  ctx.reply->Ok();
}

void Reset(ReactorContext& ctx) {
  Session& s = *ctx.session;
  s.db = 0;
  s.resp = 2;
  s.name.clear();
  if (ctx.server->RequiresAuth()) s.authenticated = false;
  s.in_multi = false;
  s.multi_dirty = false;
  s.queued.clear();
  ctx.server->Unwatch(s);
  for (PubSubKind kind : {PubSubKind::kChannel, PubSubKind::kPattern, PubSubKind::kShard}) {
    ctx.server->Unsubscribe(s, kind, {}, nullptr);
  }
  ctx.reply->SimpleString("RESET");
}

void Select(ReactorContext& ctx) {
  int64_t db;
  if (!ArgToInt64(ctx.args[1], &db, ctx.reply)) return;
  std::vector<std::pair<std::string, std::string>> dbs = ctx.server->ConfigGet("databases");
  int64_t num_dbs = dbs.empty() ? 16 : std::stoll(dbs[0].second);
  if (db < 0 || db >= num_dbs) return ctx.reply->Error("ERR DB index is out of range");
  ctx.session->db = static_cast<int>(db);
  ctx.reply->Ok();
}

constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

// Redis's validateClientName: no spaces, newlines or other non-printable characters.
bool ValidClientName(std::string_view name, ReplyBuilder* rb) {
  for (unsigned char c : name) {
    if (c < '!' || c > '~') {
      rb->Error("ERR Client names cannot contain spaces, newlines or special characters.");
      return false;
    }
  }
  return true;
}

void Auth(ReactorContext& ctx) {
  if (ctx.args.size() > 3) return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  std::string_view user = "default";
  std::string_view pass;
  if (ctx.args.size() == 2) {
    if (!ctx.server->RequiresAuth())
      return ctx.reply->Error(
          "ERR AUTH <password> called without any password configured for the default user. "
          "Are you sure your configuration is correct?");
    pass = ctx.args[1];
  } else {
    user = ctx.args[1];
    pass = ctx.args[2];
  }
  if (!ctx.server->RequirePassMatches(user, pass)) return ctx.reply->Error(kWrongPass);
  ctx.session->authenticated = true;
  ctx.reply->Ok();
}

void Hello(ReactorContext& ctx) {
  int64_t ver = 0;
  size_t next = 1;
  if (ctx.args.size() >= 2) {
    if (!ParseInt64(ctx.args[1], &ver))
      return ctx.reply->Error("ERR Protocol version is not an integer or out of range");
    ++next;
    if (ver < 2 || ver > 3) return ctx.reply->Error("NOPROTO unsupported protocol version");
  }
  std::string_view user, pass, name;
  bool has_auth = false, has_name = false;
  for (size_t j = next; j < ctx.args.size(); ++j) {
    size_t more = ctx.args.size() - 1 - j;
    if (EqualsIgnoreCase(ctx.args[j], "AUTH") && more >= 2) {
      user = ctx.args[j + 1];
      pass = ctx.args[j + 2];
      has_auth = true;
      j += 2;
    } else if (EqualsIgnoreCase(ctx.args[j], "SETNAME") && more >= 1) {
      name = ctx.args[++j];
      if (!ValidClientName(name, ctx.reply)) return;
      has_name = true;
    } else {
      return ctx.reply->Error(StrCat("ERR Syntax error in HELLO option '", ctx.args[j], "'"));
    }
  }
  if (has_auth) {
    if (!ctx.server->RequirePassMatches(user, pass)) return ctx.reply->Error(kWrongPass);
    ctx.session->authenticated = true;
  }
  if (!ctx.session->authenticated)
    return ctx.reply->Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time");
  if (has_name) ctx.session->name = std::string(name);
  if (ver != 0) ctx.session->resp = static_cast<int>(ver);
  // The reply speaks the protocol just selected.
  ReplyBuilder rb(ctx.reply->out(), ctx.session->resp);
  rb.Map(7);
  rb.Bulk("server");
  rb.Bulk("redis");
  rb.Bulk("version");
  rb.Bulk(kRedisVersion);
  rb.Bulk("proto");
  rb.Integer(ctx.session->resp);
  rb.Bulk("id");
  rb.Integer(static_cast<int64_t>(ctx.session->id));
  rb.Bulk("mode");
  rb.Bulk("standalone");
  rb.Bulk("role");
  rb.Bulk("master");
  rb.Bulk("modules");
  rb.Array(0);
}

void ClientId(ReactorContext& ctx) { ctx.reply->Integer(static_cast<int64_t>(ctx.session->id)); }

void ClientSetName(ReactorContext& ctx) {
  if (!ValidClientName(ctx.args[2], ctx.reply)) return;
  ctx.session->name = std::string(ctx.args[2]);
  ctx.reply->Ok();
}

void ClientGetName(ReactorContext& ctx) {
  if (ctx.session->name.empty()) return ctx.reply->Null();
  ctx.reply->Bulk(ctx.session->name);
}

void ClientReply(ReactorContext& ctx) {
  Session& s = *ctx.session;
  std::string_view mode = ctx.args[2];
  if (EqualsIgnoreCase(mode, "on")) {
    s.replies_off = false;
    s.skip_next_reply = false;
    return ctx.reply->Ok();
  }
  if (EqualsIgnoreCase(mode, "off")) {
    s.replies_off = true;
  } else if (EqualsIgnoreCase(mode, "skip")) {
    if (!s.replies_off) s.skip_next_reply = true;
  } else {
    return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  }
  s.silence_this = true;
  ctx.reply->Ok();  // never sent
}

// Ours (DESIGN §4): CLIENT NO-SHED ON|OFF.
void ClientNoShed(ReactorContext& ctx) {
  std::string_view mode = ctx.args[2];
  if (EqualsIgnoreCase(mode, "on")) {
    ctx.session->no_shed = true;
  } else if (EqualsIgnoreCase(mode, "off")) {
    ctx.session->no_shed = false;
  } else {
    return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  }
  ctx.reply->Ok();
}

// Ours (DESIGN §4): CLIENT DEADLINE milliseconds (0: none).
void ClientDeadline(ReactorContext& ctx) {
  int64_t ms;
  if (!ParseInt64(ctx.args[2], &ms) || ms < 0) {
    return ctx.reply->Error("ERR deadline is not an integer or out of range");
  }
  ctx.session->deadline_ms = ms;
  ctx.reply->Ok();
}

void ClientInfo(ReactorContext& ctx) {
  ctx.reply->Verbatim("txt", ctx.server->ClientListLine(*ctx.session));
}

void ClientList(ReactorContext& ctx) {
  std::string_view type;
  std::vector<uint64_t> ids;
  for (size_t j = 2; j < ctx.args.size(); ++j) {
    if (EqualsIgnoreCase(ctx.args[j], "TYPE") && j + 1 < ctx.args.size()) {
      type = ctx.args[++j];
      if (!EqualsIgnoreCase(type, "normal") && !EqualsIgnoreCase(type, "master") &&
          !EqualsIgnoreCase(type, "replica") && !EqualsIgnoreCase(type, "slave") &&
          !EqualsIgnoreCase(type, "pubsub"))
        return ctx.reply->Error(StrCat("ERR Unknown client type '", type, "'"));
    } else if (EqualsIgnoreCase(ctx.args[j], "ID") && j + 1 < ctx.args.size()) {
      for (++j; j < ctx.args.size(); ++j) {
        int64_t id;
        // Redis only checks that it is an integer; 0 or -5 simply match nobody.
        if (!ParseInt64(ctx.args[j], &id)) return ctx.reply->Error("ERR Invalid client ID");
        ids.push_back(static_cast<uint64_t>(id));
      }
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  ctx.reply->Verbatim("txt", ctx.server->ClientList(type, ids));
}

void ClientKill(ReactorContext& ctx) {
  if (ctx.args.size() == 3) {  // old form: CLIENT KILL addr:port
    if (ctx.server->KillClients(ctx.args[2], "", 0, false, *ctx.session) == 0)
      return ctx.reply->Error("ERR No such client");
    return ctx.reply->Ok();
  }
  std::string_view addr, laddr;
  uint64_t id = 0;
  bool skipme = true;
  bool match_none = false;  // a filter no connection here can satisfy (e.g. TYPE pubsub)
  if (ctx.args.size() % 2 != 0) return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
  for (size_t j = 2; j + 1 < ctx.args.size(); j += 2) {
    std::string_view opt = ctx.args[j], val = ctx.args[j + 1];
    if (EqualsIgnoreCase(opt, "id")) {
      int64_t v;
      if (!ParseInt64(val, &v) || v <= 0)
        return ctx.reply->Error("ERR client-id should be greater than 0");
      id = static_cast<uint64_t>(v);
    } else if (EqualsIgnoreCase(opt, "addr")) {
      addr = val;
    } else if (EqualsIgnoreCase(opt, "laddr")) {
      laddr = val;
    } else if (EqualsIgnoreCase(opt, "type")) {
      // Every connection is a normal client today (no replicas or pub/sub yet).
      if (EqualsIgnoreCase(val, "master") || EqualsIgnoreCase(val, "slave") ||
          EqualsIgnoreCase(val, "replica") || EqualsIgnoreCase(val, "pubsub")) {
        match_none = true;
      } else if (!EqualsIgnoreCase(val, "normal")) {
        return ctx.reply->Error(StrCat("ERR Unknown client type '", val, "'"));
      }
    } else if (EqualsIgnoreCase(opt, "user")) {
      if (val != "default") return ctx.reply->Error(StrCat("ERR No such user '", val, "'"));
    } else if (EqualsIgnoreCase(opt, "skipme")) {
      if (EqualsIgnoreCase(val, "yes"))
        skipme = true;
      else if (EqualsIgnoreCase(val, "no"))
        skipme = false;
      else
        return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    } else {
      return ReplyStatus(ctx.reply, OpStatus::kSyntaxError);
    }
  }
  if (match_none) return ctx.reply->Integer(0);
  ctx.reply->Integer(ctx.server->KillClients(addr, laddr, id, skipme, *ctx.session));
}

void ClientUnblock(ReactorContext& ctx) {
  if (ctx.args.size() > 4) {
    return ctx.reply->Error(StrCat("ERR unknown subcommand or wrong number of arguments for '",
                                   ctx.args[1], "'. Try CLIENT HELP."));
  }
  int64_t id;
  if (!ArgToInt64(ctx.args[2], &id, ctx.reply)) return;
  bool with_error = false;
  if (ctx.args.size() == 4) {
    if (EqualsIgnoreCase(ctx.args[3], "error")) {
      with_error = true;
    } else if (!EqualsIgnoreCase(ctx.args[3], "timeout")) {
      return ctx.reply->Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
    }
  }
  ctx.reply->Integer(ctx.server->UnblockClient(static_cast<uint64_t>(id), with_error) ? 1 : 0);
}

CommandDoc ConnDoc(std::string_view summary, std::string_view since, std::string_view args) {
  return CommandDoc{summary, since, "connection", "O(1)", args};
}

constexpr uint32_t kLoadingStale = kCmdLoading | kCmdStale;
// AUTH, HELLO, QUIT and RESET must work before authentication and while busy.
constexpr uint32_t kHandshake =
    kCmdAllowBusy | kCmdFast | kLoadingStale | kCmdNoAuth | kCmdNoScript;
// CLIENT subcommands.
constexpr uint32_t kClientFlags = kLoadingStale | kCmdNoScript;

}  // namespace

std::vector<CommandSpec> ConnectionFamily() {
  constexpr auto reactor = ReactorCommand;
  return {
      reactor("ping", -1, kCmdFast | kCmdSubscribedOk, "@fast @connection", Ping,
              ConnDoc("Ping the server", "1.0.0", "[message:string]")),
      reactor("echo", 2, kCmdFast | kLoadingStale, "@fast @connection", Echo,
              ConnDoc("Echo the given string", "1.0.0", "message:string")),
      reactor("quit", -1, kHandshake | kCmdNotQueued | kCmdSubscribedOk, "@fast @connection", Quit,
              ConnDoc("Close the connection", "1.0.0", "")),
      reactor("reset", 1, kHandshake | kCmdNotQueued | kCmdSubscribedOk, "@fast @connection", Reset,
              ConnDoc("Reset the connection", "6.2.0", "")),
      reactor("select", 2, kCmdFast | kLoadingStale, "@fast @connection", Select,
              ConnDoc("Change the selected database for the current connection", "1.0.0",
                      "index:integer")),
      reactor("auth", -2, kHandshake, "@fast @connection", Auth,
              ConnDoc("Authenticate to the server", "1.0.0",
                      "[username:string{since=6.0.0}] password:string")),
      reactor(
          "hello", -1, kHandshake, "@fast @connection", Hello,
          ConnDoc("Handshake with Redis", "6.0.0",
                  "[arguments:block(protover:integer [username_password:block(username:string passw"
                  "ord:string):AUTH] [clientname:string:SETNAME])]")),
      reactor("client", -2, 0, "@slow", nullptr,
              ConnDoc("A container for client connection commands", "2.4.0", "")),
      reactor("client|id", 2, kClientFlags, "@slow @connection", ClientId,
              ConnDoc("Returns the client ID for the current connection", "5.0.0", "")),
      reactor("client|setname", 3, kClientFlags, "@slow @connection", ClientSetName,
              ConnDoc("Set the current connection name", "2.6.9", "connection-name:string")),
      reactor("client|getname", 2, kClientFlags, "@slow @connection", ClientGetName,
              ConnDoc("Get the current connection name", "2.6.9", "")),
      reactor(
          "client|reply", 3, kClientFlags, "@slow @connection", ClientReply,
          ConnDoc("Instruct the server whether to reply to commands", "3.2.0",
                  "on_off_skip:oneof(on:pure-token:ON|off:pure-token:OFF|skip:pure-token:SKIP)")),
      reactor("client|no-shed", 3, kClientFlags, "@slow @connection", ClientNoShed,
              ConnDoc("Omnibus: exempt this connection's commands from overload shedding "
                      "(an admin connection)",
                      "7.0.0", "enabled:oneof(on:pure-token:ON|off:pure-token:OFF)")),
      reactor("client|deadline", 3, kClientFlags, "@slow @connection", ClientDeadline,
              ConnDoc("Omnibus: refuse commands of this connection that have not started "
                      "within a deadline (0: none)",
                      "7.0.0", "milliseconds:integer")),
      reactor("client|info", 2, kClientFlags, "@slow @connection", ClientInfo,
              ConnDoc("Returns information about the current client connection.", "6.2.0", "")),
      reactor(
          "client|list", -2, kCmdAdmin | kClientFlags, "@admin @slow @dangerous @connection",
          ClientList,
          ConnDoc("Get the list of client connections", "2.4.0",
                  "[normal_master_replica_pubsub:oneof(normal:pure-token:NORMAL|master:pure-token:M"
                  "ASTER|replica:pure-token:REPLICA|pubsub:pure-token:PUBSUB):TYPE{since=5.0.0}] [i"
                  "d:block(client-id:integer...):ID{since=6.2.0}]")),
      reactor(
          "client|unblock", -3, kCmdAdmin | kClientFlags, "@admin @slow @dangerous @connection",
          ClientUnblock,
          CommandDoc{"Unblock a client blocked in a blocking command from a different "
                     "connection",
                     "5.0.0", "connection", "O(log N) where N is the number of client connections",
                     "client-id:integer [timeout_error:oneof(timeout:pure-token:TIMEOUT|error:p"
                     "ure-token:ERROR)]"}),
      reactor(
          "client|kill", -3, kCmdAdmin | kClientFlags, "@admin @slow @dangerous @connection",
          ClientKill,
          ConnDoc("Kill the connection of a client", "2.4.0",
                  "filter:oneof(ip:port:string{deprecated_since=2.8.12}|new-format:oneof([client-id"
                  ":integer:ID{since=2.8.12}]|[normal_master_slave_pubsub:oneof(normal:pure-token:N"
                  "ORMAL|master:pure-token:MASTER{since=3.2.0}|slave:pure-token:SLAVE|replica:pure-"
                  "token:REPLICA{since=5.0.0}|pubsub:pure-token:PUBSUB):TYPE{since=2.8.12}]|[userna"
                  "me:string:USER]|[ip:port:string:ADDR]|[ip:port:string:LADDR{since=6.2.0}]|[yes/n"
                  "o:string:SKIPME])...)")),
  };
}

}  // namespace omnibus
