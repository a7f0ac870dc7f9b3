#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "omnibus/resp/reply_builder.h"
#include "omnibus/shard/work.h"

namespace omnibus {

// Flags of a command-table entry. Names follow Redis's COMMAND INFO flags where Redis has them.
enum CommandFlag : uint32_t {
  kCmdWrite = 1 << 0,
  kCmdReadOnly = 1 << 1,
  kCmdDenyOom = 1 << 2,
  kCmdAdmin = 1 << 3,
  kCmdPubSub = 1 << 4,
  kCmdNoScript = 1 << 5,
  kCmdBlocking = 1 << 6,
  kCmdLoading = 1 << 7,
  kCmdStale = 1 << 8,
  kCmdSkipMonitor = 1 << 9,
  kCmdFast = 1 << 10,
  kCmdNoAuth = 1 << 11,
  kCmdMayReplicate = 1 << 12,
  kCmdSkipSlowlog = 1 << 13,
  kCmdAllowBusy = 1 << 14,
  kCmdNoMulti = 1 << 15,
  kCmdNoMandatoryKeys = 1 << 16,
  // Ours: GET-like pure reads whose identical in-flight lookups may share one execution (§5).
  kCmdCoalescable = 1 << 20,
  // Ours: runs at once even inside MULTI (MULTI EXEC DISCARD WATCH QUIT RESET), never queued.
  kCmdNotQueued = 1 << 21,
  // Ours: allowed on a RESP2 connection in subscribed mode ((P|S)(UN)SUBSCRIBE PING QUIT
  // RESET).
  kCmdSubscribedOk = 1 << 22,
  // Ours: its shard parts jump the shard queues (INFO: admin reads never wait behind a
  // backlog, DESIGN §4). Only for reads whose order with other commands does not matter.
  kCmdJumpsQueue = 1 << 23,
};

// Where a command runs (DESIGN §2, §6).
enum class Route : uint8_t {
  kReactor,    // keyless, answered on the reactor without a hop
  kKey,        // its key(s) all hash to one shard (checked); runs there
  kScatter,    // keys grouped by shard; each shard runs the command on its keys; merged
  kParked,     // keys on several shards: park them all and run on one thread (atomic)
  kAllShards,  // runs on every shard; merged (DBSIZE, KEYS, FLUSHALL, INFO keyspace)
  kCustom,     // a route function picks the shard (SCAN's cursor names its shard)
  kTask,       // a coroutine on the reactor (CommandSpec::task): EXEC, WATCH, blocking pops
};

// The reactor coroutines a kTask command runs (net/transaction.cc, net/blocking.cc).
enum class ReactorTask : uint8_t {
  kNone,
  kExec,
  kWatch,
  // BLPOP & co: the shard handler pops like the non-blocking command, or sets
  // ExecContext::would_block; the reactor then files the client as a waiter (§10.5).
  kBlockingPop,
  // EVAL & co: on the declared keys' shard, again parked over every shard if the script
  // reaches another one (net/script.cc).
  kScript,
};

struct CommandSpec;

// A command queued by MULTI: it owns its arguments (§10.3).
struct QueuedCommand {
  const CommandSpec* spec = nullptr;  // null: `reply` was made when queued (CONFIG HELP)
  std::string reply;
  std::string storage;
  std::vector<std::string_view> args;
};

// Per-connection state that commands may read and change. Lives on the reactor.
struct Session {
  uint64_t id = 0;
  int db = 0;
  int resp = 2;
  bool authenticated = false;
  bool close_after_reply = false;
  std::string name;
  std::string addr;
  std::string laddr;
  int fd = -1;
  int64_t created_ms = 0;
  int64_t last_interaction_ms = 0;
  const char* last_command = "NULL";
  // MULTI/EXEC: the queue, whether a queuing error doomed it (EXECABORT), WATCHed keys.
  bool in_multi = false;
  bool multi_dirty = false;
  std::vector<QueuedCommand> queued;
  std::vector<WatchedKey> watched;
  bool blocked = false;  // waiting in a blocking pop (CLIENT LIST flag b)
  // Pub/sub: how many channels, patterns and shard channels it listens to (a RESP2
  // connection with any of the first two is in subscribed mode).
  uint32_t sub_channels = 0;
  uint32_t sub_patterns = 0;
  uint32_t sub_shard_channels = 0;
  bool subscribed() const { return sub_channels + sub_patterns + sub_shard_channels > 0; }
  void* connection = nullptr;  // the reactor's (opaque to commands)
  // CLIENT REPLY: OFF silences every reply from now on, SKIP the next command's; the CLIENT
  // REPLY OFF/SKIP command itself has no reply (silence_this).
  bool replies_off = false;
  bool skip_next_reply = false;
  bool silence_this = false;
  bool monitor = false;  // MONITOR: receives every command; may not touch the keyspace
  // Overload control (§4; ours): CLIENT NO-SHED ON exempts this connection's commands from
  // shedding (an admin connection); CLIENT DEADLINE ms refuses a command that has not started
  // within ms of being read (0: no deadline).
  bool no_shed = false;
  int64_t deadline_ms = 0;
  // CLIENT TRACKING (net/tracking.cc): client-side caching. `caching` is CLIENT CACHING
  // yes|no, which holds for the next command (or the next transaction).
  struct Tracking {
    bool on = false;
    bool bcast = false;
    bool optin = false;
    bool optout = false;
    bool noloop = false;
    bool caching = false;
    bool broken_redirect = false;  // the client it redirects to went away
    uint64_t redirect = 0;
    std::vector<std::string> prefixes;  // BCAST, in byte order
  } tracking;
};

// What a (P|S)SUBSCRIBE / PUBLISH names: a channel, a pattern, or a shard channel.
enum class PubSubKind : uint8_t { kChannel = 0, kPattern = 1, kShard = 2 };

class CommandTable;
class LatencyMonitor;

// Per-shard counters summed for INFO (keyspace and stats sections).
struct ShardTotals {
  int64_t expired_keys = 0;
  std::vector<std::pair<int64_t, int64_t>> dbs;  // (keys, expires) per DB
  size_t table_bytes = 0;
  int64_t store_bytes = 0;  // counted keyspace memory (store/memory.h), all shards
  // Read-only commands' lookups that found the key, and that did not.
  int64_t keyspace_hits = 0;
  int64_t keyspace_misses = 0;
  // Active expiry (store/keyspace.h ExpireCycleStats): the shards' mean stale share, in
  // percent; cycles cut by their budget; milliseconds spent.
  double expired_stale_perc = 0;
  int64_t expired_time_cap_reached_count = 0;
  int64_t expire_cycle_cpu_milliseconds = 0;
};

// Counted memory as MEMORY STATS and MEMORY DOCTOR report it (DESIGN §10.8).
struct MemoryFigures {
  int64_t used = 0;     // used_memory: the shards' counted bytes, plus what the server adds
  int64_t peak = 0;     // used_memory_peak (this call included)
  int64_t startup = 0;  // used_memory at start-up
  int64_t clients_normal = 0;
  int64_t lua_caches = 0;
  int64_t functions_caches = 0;
  int64_t cached_scripts = 0;
  int64_t clients = 0;  // connected clients
};

// What the reactor offers keyless commands (implemented in net/ and server/, so commands/
// never includes them).
class ServerApi {
 public:
  virtual ~ServerApi() = default;
  virtual const CommandTable& commands() const = 0;
  virtual int num_shards() const = 0;
  // CONFIG: returns every (name, value) whose name matches the glob.
  virtual std::vector<std::pair<std::string, std::string>> ConfigGet(std::string_view pattern) = 0;
  // Empty string on success, else the error text (without '-').
  // CONFIG SET name value [name value ...]: all or nothing, like Redis 7.
  virtual std::string ConfigSet(std::span<const std::string_view> name_value_pairs) = 0;
  // CONFIG REWRITE: "" on success, else the error text (without '-').
  virtual std::string ConfigRewrite() = 0;
  virtual void ResetStats() = 0;
  virtual bool RequirePassMatches(std::string_view user, std::string_view pass) const = 0;
  virtual bool RequiresAuth() const = 0;
  // CLIENT LIST / CLIENT INFO lines ("id=... addr=... ").
  virtual std::string ClientListLine(const Session& s) = 0;
  virtual std::string ClientList(std::string_view type_filter, std::span<const uint64_t> ids) = 0;
  // CLIENT KILL: returns how many clients were killed.
  virtual int KillClients(std::string_view addr, std::string_view laddr, uint64_t id,
                          bool skipme_yes, const Session& self) = 0;
  // INFO sections computed on the reactor (server, clients, memory, stats, commandstats,
  // errorstats, ...), appended in Redis's format.
  // Returns false for a section name it does not know.
  virtual bool AppendInfoSection(std::string_view section, const ShardTotals& totals,
                                 std::string* out) = 0;
  virtual void RequestShutdown() = 0;
  // maxmemory: used memory is over it and the policy evicts nothing (MULTI refuses to queue
  // then, as Redis). Under an evicting policy the shards make room as commands arrive.
  virtual bool OutOfMemory() const { return false; }
  // Forgets every key the session WATCHes (UNWATCH, DISCARD, RESET; EXEC does it itself).
  virtual void Unwatch(Session& s) = 0;
  // CLIENT UNBLOCK: true if the client was blocked and is now unblocked (with a null reply,
  // or with an -UNBLOCKED error).
  virtual bool UnblockClient(uint64_t id, bool with_error) = 0;
  virtual size_t blocked_clients() const = 0;
  // SCRIPT KILL / FUNCTION KILL: "" when a busy script was stopped, else the error text.
  virtual std::string KillScripts(bool function) = 0;
  // FUNCTION STATS: running_script (a busy function) and the engines' counts.
  virtual void ReplyFunctionStats(ReplyBuilder* rb) = 0;
  // Pub/sub (net/pubsub.cc). (Un)subscribe writes one confirmation per name to `rb` (none
  // when `rb` is null: RESET); no names unsubscribes from every one of that kind.
  virtual void Subscribe(Session& s, PubSubKind kind, std::span<const std::string_view> names,
                         ReplyBuilder* rb) = 0;
  virtual void Unsubscribe(Session& s, PubSubKind kind, std::span<const std::string_view> names,
                           ReplyBuilder* rb) = 0;
  // Returns how many clients received it.
  virtual int64_t Publish(PubSubKind kind, std::string_view channel, std::string_view message) = 0;
  // PUBSUB CHANNELS / SHARDCHANNELS (kPattern is not asked): active channels matching
  // `pattern` (every one when empty); NUMSUB / SHARDNUMSUB; NUMPAT.
  virtual std::vector<std::string> PubSubChannels(PubSubKind kind, std::string_view pattern) = 0;
  virtual int64_t PubSubNumSub(PubSubKind kind, std::string_view channel) = 0;
  virtual int64_t PubSubNumPat() = 0;
  // MONITOR: the session's connection receives a line for every command from now on.
  virtual void Monitor(Session& s) = 0;
  // SLOWLOG, LATENCY (commands/latency_monitor.h).
  virtual LatencyMonitor& latency() = 0;
  // CLIENT TRACKING ON|OFF [options]: `args` is the whole command. Writes +OK or the error.
  virtual void ClientTracking(Session& s, std::span<const std::string_view> args,
                              ReplyBuilder* rb) = 0;
  // MEMORY STATS / DOCTOR: the figures around `store_bytes` (the shards' summed count, just
  // gathered), which also raises the peak.
  virtual MemoryFigures Memory(int64_t store_bytes) = 0;
};

struct ReactorContext {
  std::span<const std::string_view> args;
  ReplyBuilder* reply;
  Session* session;
  ServerApi* server;
};

// A fan-out's partial replies, handed to the merge function in shard order, as typed values.
struct SubReply {
  const ReplyValue* value;
  std::span<const uint32_t> positions;  // for kScatter: indexes of the keys it handled
};

struct MergeContext {
  std::span<const std::string_view> args;  // the original command
  std::span<const SubReply> parts;
  ReplyBuilder* reply;
  Session* session;
  ServerApi* server;
};

using ReactorHandler = void (*)(ReactorContext& ctx);
// Key positions of commands whose keys are not a first/last/step range (ZUNIONSTORE dst
// numkeys k..., LMPOP numkeys k..., SORT ... STORE dst): appends the argument indexes of the
// keys. A malformed key count appends nothing; the handler then replies the error.
using KeysHandler = void (*)(std::span<const std::string_view> args, std::vector<int>* out);
using MergeHandler = void (*)(MergeContext& ctx);
// Blocking commands that wait for a state rather than pop an element (LEASE.GET): how long
// this call may wait, in ms (> 0), read from its arguments; false: it does not wait (no wait
// asked for, or a bad argument the handler will reply). Every client waiting for such a
// command's key is woken when the key becomes ready (not only the oldest, as for pops), and
// when the wait ends (timeout, CLIENT UNBLOCK) the command runs once more without waiting:
// its reply says what it finds then.
using WaitHandler = bool (*)(std::span<const std::string_view> args, int64_t* wait_ms);
// kCustom: returns the shard, or -1 after writing an error reply.
using RouteHandler = int (*)(std::span<const std::string_view> args, int num_shards,
                             ReplyBuilder* reply);

struct CommandDoc {
  std::string_view summary;
  std::string_view since;
  std::string_view group;
  std::string_view complexity;
  // Argument grammar in a compact form, e.g. "key:key value:string [NX|XX] [GET]"; see
  // command_docs.cc for the syntax. Feeds COMMAND DOCS, which redis-cli turns into hints.
  std::string_view arguments;
  // COMMAND DOCS' history: entries "VERSION TEXT", one per line.
  std::string_view history = {};
  // A deprecated command: since which version, and what replaces it.
  std::string_view deprecated_since = {};
  std::string_view replaced_by = {};
  // The "notes" of the command's key specs (EVAL: "We cannot tell how the keys will be used").
  std::string_view key_notes = {};
};

struct CommandSpec {
  std::string_view name;  // lower case; "config|get" for a subcommand
  int arity;              // Redis's convention: negative means "at least -arity"
  uint32_t flags;
  std::string_view acl_categories;  // space separated, e.g. "@write @string @slow"
  int first_key = 0;
  int last_key = 0;  // negative counts from the end (-1: last argument)
  int key_step = 0;
  Route route = Route::kReactor;
  ShardHandler shard = nullptr;
  ReactorHandler reactor = nullptr;
  MergeHandler merge = nullptr;
  RouteHandler route_fn = nullptr;
  CommandDoc doc;
  KeysHandler keys_fn = nullptr;          // when set, overrides first_key/last_key/key_step
  ReactorTask task = ReactorTask::kNone;  // Route::kTask
  int timeout_arg = 0;     // blocking pops: the timeout's argument index (negative: from the end)
  uint16_t id = 0;         // index in the table, set by CommandTable
  bool container = false;  // has subcommands ("config|get"), set by CommandTable
  WaitHandler wait_fn = nullptr;  // a kBlockingPop that waits for a state (see WaitHandler)
};

}  // namespace omnibus
