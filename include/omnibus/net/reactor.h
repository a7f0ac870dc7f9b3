#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "omnibus/base/parker.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/commands/latency_monitor.h"
#include "omnibus/io/io_backend.h"
#include "omnibus/net/connection.h"
#include "omnibus/net/select.h"
#include "omnibus/net/singleflight.h"
#include "omnibus/net/task.h"
#include "omnibus/net/timer_queue.h"
#include "omnibus/shard/shard.h"

namespace omnibus {

// Settings the reactor reads on every use, so CONFIG SET takes effect at once. Owned by the
// server; written only on the reactor thread.
// One class of client-output-buffer-limit: disconnect past `hard` bytes of unsent replies,
// or after staying past `soft` bytes for more than `soft_seconds`. 0 disables a bound.
struct OutputBufferLimit {
  int64_t hard = 0;
  int64_t soft = 0;
  int64_t soft_seconds = 0;
};

struct NetOptions {
  int64_t maxclients = 10000;                        // maxclients
  int timeout = 0;                                   // timeout (seconds idle, 0 = never)
  int tcp_keepalive = 300;                           // tcp-keepalive
  int64_t proto_max_bulk_len = 512LL * 1024 * 1024;  // proto-max-bulk-len
  int64_t client_query_buffer_limit = 1LL << 30;     // client-query-buffer-limit
  std::string requirepass;                           // requirepass
  bool protected_mode = true;                        // protected-mode
  int64_t pipeline_group_max_commands = 1024;        // ours: invariant 3's group bound
  int64_t pipeline_pause_output_bytes = 1 << 20;     // ours: stop parsing while this much is unsent
  int64_t busy_reply_threshold = 5000;               // busy-reply-threshold (lua-time-limit), ms
  bool singleflight = true;  // ours: identical in-flight reads share one execution (§5)
  // client-output-buffer-limit, per class (Redis's defaults). Only normal clients exist yet.
  OutputBufferLimit output_limit_normal;
  OutputBufferLimit output_limit_replica{256LL << 20, 64LL << 20, 60};
  OutputBufferLimit output_limit_pubsub{32LL << 20, 8LL << 20, 60};
  // slowlog-*, latency-monitor-threshold, latency-tracking* (commands/latency_monitor.h).
  LatencySettings latency;
  uint32_t notify_keyspace_events = 0;        // notify-keyspace-events (store/key_notice.h)
  int64_t tracking_table_max_keys = 1000000;  // tracking-table-max-keys (0: no limit)
};

struct TrackingState;  // net/tracking.h

// Per-command counters for INFO commandstats.
struct CommandStats {
  uint64_t calls = 0;
  uint64_t usec = 0;
  uint64_t rejected = 0;
  uint64_t failed = 0;
};

struct ReactorStats {
  uint64_t total_connections_received = 0;
  uint64_t total_commands_processed = 0;
  uint64_t rejected_connections = 0;
  uint64_t output_buffer_limit_disconnections = 0;
  uint64_t query_buffer_limit_disconnections = 0;
  uint64_t accept_errors = 0;
  uint64_t net_input_bytes = 0;
  uint64_t net_output_bytes = 0;
  uint64_t total_error_replies = 0;
  uint64_t fanouts = 0;
  uint64_t loop_iterations = 0;
  uint64_t shard_batches = 0;
  uint64_t max_group_commands = 0;          // largest group dispatched (high-water mark)
  uint64_t group_cuts = 0;                  // groups whose replies passed their budget
  std::vector<size_t> max_shard_in_flight;  // per shard, high-water mark of its queue
  std::vector<uint64_t> shard_queue_full;   // per shard, times work waited for room
  std::vector<CommandStats> commands;
  // Redis's total_reads_processed / total_writes_processed: read() calls on client sockets,
  // flushes of a client's output.
  uint64_t total_reads_processed = 0;
  uint64_t total_writes_processed = 0;
  absl::flat_hash_map<std::string, uint64_t> errors;  // errorstats: prefix -> count
};

// The one reactor thread (DESIGN §1): owns every socket; accepts, reads, parses, routes and
// dispatches commands to shards in per-loop batches, assembles replies in request order and
// writes them.
// Runs on: reactor thread (Notify and Stop from any thread).
class Reactor final : public Notifier, public SelectHost {
 public:
  Reactor(NetOptions* options, CommandTable* table, ServerApi* api, std::vector<Shard*> shards,
          std::unique_ptr<IoBackend> io);
  ~Reactor() override;

  // Binds every address; an address with a leading '-' may be unavailable. Returns false
  // with `error` set if none could be bound or a required one failed.
  bool Listen(const std::vector<std::string>& binds, int port, int backlog, std::string* error);
  int port() const { return port_; }

  void Run();
  void Stop();             // async-signal-safe
  void Notify() override;  // a shard published completions

  // For ServerApi (reactor thread only).
  std::string ClientListLine(const Session& s);
  std::string ClientList(std::string_view type, std::span<const uint64_t> ids);
  int KillClients(std::string_view addr, std::string_view laddr, uint64_t id, bool skipme,
                  const Session& self);
  size_t num_clients() const { return conns_.size(); }
  ReactorStats& stats() { return stats_; }
  const char* poller_name() const { return io_->name(); }
  size_t blocked_on_write_clients() const;
  size_t max_input_buffer() const;
  size_t max_output_buffer() const;
  size_t shard_in_flight(size_t shard) const { return in_flight_[shard] + batches_[shard].size(); }
  // Counted memory (§10.8): the bytes the connections' input buffers, output queues (their
  // runs, shared chunks by size) and group slots hold, as of the reactor's last touch of each
  // (a read, a group's completion, a write, the idle-buffer pass); and the receive buffers the
  // I/O backend holds for them, not yet read.
  size_t client_buffer_bytes() const { return client_buffer_bytes_ + io_->buffered_bytes(); }
  // Transactions and blocking pops (ServerApi).
  void Unwatch(Session& s);
  bool UnblockClient(uint64_t id, bool with_error);
  // SCRIPT KILL (function false) / FUNCTION KILL (true): stops the busy scripts that have
  // not written. Returns "" (killed) or the error reply text, as Redis words it.
  std::string KillScripts(bool function);
  // Pub/sub (net/pubsub.cc; ServerApi's methods of the same names).
  void Subscribe(Session& s, PubSubKind kind, std::span<const std::string_view> names,
                 ReplyBuilder* rb);
  void Unsubscribe(Session& s, PubSubKind kind, std::span<const std::string_view> names,
                   ReplyBuilder* rb);
  int64_t Publish(PubSubKind kind, std::string_view channel, std::string_view message);
  std::vector<std::string> PubSubChannels(PubSubKind kind, std::string_view pattern);
  int64_t PubSubNumSub(PubSubKind kind, std::string_view channel);
  int64_t PubSubNumPat() const { return static_cast<int64_t>(pubsub_[1].size()); }
  // Channels (or shard channels) with at least one subscriber (INFO stats).
  int64_t PubSubChannelCount(PubSubKind kind) const {
    return static_cast<int64_t>(pubsub_[static_cast<size_t>(kind)].size());
  }
  void Monitor(Session& s);
  // Key notices (net/notify.cc): who listens, set from notify-keyspace-events and whether a
  // client tracks keys. Call after CONFIG SET.
  void set_notice_listeners(NoticeListeners* listeners) {
    notice_listeners_ = listeners;
    UpdateNoticeListeners();
  }
  void UpdateNoticeListeners();
  // Client tracking (net/tracking.cc).
  void ClientTracking(Session& s, std::span<const std::string_view> args, ReplyBuilder* rb);
  size_t tracking_clients() const;
  size_t tracking_total_keys() const;
  size_t tracking_total_items() const;
  size_t tracking_total_prefixes() const;
  // FUNCTION STATS' running_script: a function running past busy-reply-threshold, its name,
  // its command (FCALL name ...) and how long it has run. False when none is busy.
  bool BusyFunction(std::string* name, std::vector<std::string>* command, int64_t* duration_ms);
  size_t blocked_clients() const { return blocked_clients_; }
  FlightTable& flights() { return flights_; }
  // SLOWLOG, LATENCY, INFO latencystats.
  LatencyMonitor& latency() { return latency_; }

  // SelectHost
  int num_shards() const override { return static_cast<int>(shards_.size()); }
  void StageWork(int shard, Work* w) override { StageToShard(shard, w); }
  Work* NewWork() override;
  void FreeWork(Work* w) override;
  TimerQueue& timers() override { return timers_; }
  Keyspace* const* keyspaces() override { return keyspaces_.data(); }

 private:
  friend struct BlockedClient;

  // A listener's new connection (IoBackend's kAccepted: its fd, or -errno).
  void OnAccepted(int64_t result);
  // A send that completed later (kSent: bytes sent, or -errno).
  void OnSent(Connection* c, int64_t result);
  void TryProcess(Connection* c);
  bool ReadSome(Connection* c);
  bool ParseGroup(Connection* c);
  void DispatchGroup(Connection* c);
  void DispatchRest(Connection* c);
  // Returns true when the command is a barrier still running (see Connection::barrier).
  bool Dispatch(Connection* c, Work* w);
  // Looks the command up and checks arity and authentication; on failure replies the error
  // and returns null.
  const CommandSpec* Resolve(Work* w, const Session& s);
  // The one way to run a resolved command (§10.4), wherever it is routed.
  bool Run(Connection* c, Work* w, const CommandSpec* spec);
  void Queue(Connection* c, Work* w, const CommandSpec* spec);
  void Reject(Work* w, std::string_view error, const CommandSpec* spec);
  void StageToShard(int shard, Work* w);
  bool StartTask(Connection* c, Work* w, Task task, bool barrier);
  static void TaskDone(void* reactor, void* slot);
  void OnWorkDone(Work* w);
  void OnSlotDone(Connection* c);
  // Coroutines (net/fanout.cc, net/transaction.cc, net/blocking.cc).
  Task FanOut(Connection* c, Work* w, const CommandSpec* spec, std::vector<int> shard_of,
              std::vector<int> key_at);
  Task Exec(Connection* c, Work* w);
  Task Watch(Connection* c, Work* w);
  Task BlockingPop(Connection* c, Work* w, const CommandSpec* spec);
  Task Script(Connection* c, Work* w, const CommandSpec* spec);
  // Busy scripts (net/script.cc): which shards run a script past busy-reply-threshold, read
  // once per loop iteration, and whether a command needs one of them.
  void RefreshBusyShards();
  bool NeedsBusyShard(const CommandSpec& spec, std::span<const std::string_view> args);
  void SendUnwatch(const std::vector<WatchedKey>& keys);
  // Queues a pub/sub message for `c` (after its in-flight group's replies, if any).
  // `now_ms`: read once per message, not per receiver (output-limit clock).
  void PushChunk(Connection* c, const ReplyChunk& chunk, int64_t now_ms);
  // MONITOR: one line for `args` run by `c` (its DB now), shared by every monitor.
  void FeedMonitors(const Connection* c, const CommandSpec& spec,
                    std::span<const std::string_view> args);
  void FeedMonitorLine(std::string line);  // one line, shared by every monitor
  void OnKeyReady(int db, const std::string& key);
  // Key notices (net/notify.cc): queued with their work's dispatch, handled at the end of a
  // drain in the sequencer's order.
  void HoldNotices(Work* w) {
    for (KeyNotice& n : w->notices) notices_.push_back(std::move(n));
    w->notices.clear();
  }
  void HandleNotices();
  void PublishNotice(const KeyNotice& n);
  // Client tracking (net/tracking.cc): the keys a tracked client's command reads, remembered
  // when it is dispatched (`read_seq`: the dispatch of the execution that answers it); a
  // change or a flush; BCAST prefixes' pending keys; a client gone.
  void TrackCommand(Connection* c, const CommandSpec& spec, std::span<const std::string_view> args,
                    uint64_t read_seq);
  void TrackingInvalidate(const KeyNotice& n);
  // A script's read for its caller (Db::NoteRead); whether the caller's scripts note theirs
  // (decided when the script is sent: CLIENT CACHING holds for it).
  void TrackScriptRead(const KeyNotice& n);
  static bool TracksScriptReads(const Session& s) {
    const Session::Tracking& t = s.tracking;
    return t.on && !t.bcast && !(t.optin && !t.caching) && !(t.optout && t.caching);
  }
  void TrackingFlush(const KeyNotice& n);
  void TrackingBroadcast();
  void TrackingLimit();
  void DisableTracking(Connection* c);
  void TrackingClosed(Connection* c);
  // Sends `payload` (RESP of the keys array, or a null) as an invalidation for tracking
  // client `c`: to itself (RESP3) or to the client it redirects to.
  void SendTrackingMessage(Connection* c, std::string_view payload);
  void CloseGoneBlockedClients();
  uint64_t NextDispatchSeq() { return ++dispatch_seq_; }
  // Queues a part's ready keys for the end of the current drain.
  void HoldReady(Work* w) {
    for (ReadyKey& r : w->ready) ready_keys_.push_back(std::move(r));
    w->ready.clear();
    HoldNotices(w);
  }
  // A blocked pop's earlier replies in its group leave before it waits (as Redis sends them).
  void EmitBeforeBarrier(Connection* c);
  void CompleteGroup(Connection* c);
  // Bounded bursts (net/bursts.cc): shares the budget among a group's slots when the group
  // can be cut (plain keyed commands and reactor-answered ones only); the first deferred
  // slot of a completed group (`group` if none); dispatches a group's deferred rest.
  void BudgetGroup(Connection* c);
  size_t FirstDeferred(const Connection* c) const;
  void ResumeGroup(Connection* c);
  // Client buffers: counts what a slot holds now, then the whole connection.
  void ChargeWork(Connection* c, Work* w);
  void Recharge(Connection* c);
  // Redis's clientsCron: connections idle for a while give back their buffers.
  void ReleaseIdleBuffers(int64_t now_ms);
  void Flush(Connection* c);
  void Flushed(Connection* c);  // everything it had to send is sent
  void Close(Connection* c);
  void Free(Connection* c);
  void DrainCompletions();
  void PostBatches();
  void Timers();
  std::string ClientLine(const Connection* c);
  bool OverOutputLimit(Connection* c, int64_t now_ms);
  bool OutputOverHardLimit(const Connection* c) const;
  const OutputBufferLimit& LimitFor(const Connection* c) const;
  void RetryPausedAccepts();
  void CountReply(const CommandSpec* spec, std::string_view reply, int64_t exec_ns);
  // Slow log, latency events and histograms for one completed command (cheap when off).
  void ObserveLatency(const Session& s, const CommandSpec& spec,
                      std::span<const std::string_view> args, int64_t exec_ns, int64_t wait_ns) {
    latency_.Observe(spec, args, exec_ns, wait_ns, s.addr, s.name);
  }
  // A command that runs on one shard: staged there, or joined to an identical flight of a
  // coalescable read (§5). Notes the shards the group may write to.
  void StageOnShard(Connection* c, Work* w, const CommandSpec& spec, int shard);
  // Singleflight (§5): true if `w` joined an identical flight (it is not staged).
  bool JoinOrLead(Connection* c, Work* w, int shard);
  static uint64_t ShardBit(int shard) { return uint64_t{1} << (shard & 63); }

  NetOptions* options_;
  CommandTable* table_;
  ServerApi* api_;
  std::vector<Shard*> shards_;
  std::unique_ptr<IoBackend> io_;
  std::vector<int> listeners_;
  int port_ = 0;

  absl::flat_hash_map<Connection*, std::unique_ptr<Connection>> conns_;
  uint64_t next_client_id_ = 1;
  std::vector<Connection*> ready_;                  // connections to process again this iteration
  std::vector<Connection*> flush_;                  // connections with replies to write
  absl::flat_hash_set<Connection*> write_blocked_;  // the kernel took only part of their output
  // Per shard, not yet staged: this iteration's batch, and the backlog when the shard's
  // ring was full (a queue too: its items' waits count from their enqueue_ns, §4).
  std::vector<std::deque<Work*>> batches_;
  std::vector<size_t> in_flight_;                       // per shard, staged but not drained
  std::vector<int> scratch_shard_of_;                   // Run's per-key shards
  std::vector<int> scratch_key_at_;                     // Run's key positions
  std::vector<std::unique_ptr<Connection>> graveyard_;  // freed this iteration
  std::vector<Work*> free_works_;                       // parts for reuse
  std::vector<Keyspace*> keyspaces_;                    // every shard's, for parked groups
  TimerQueue timers_;
  // Blocked clients per (db, key) in the order they blocked (§10.5); the key is
  // "<db>\0<key>".
  absl::flat_hash_map<std::string, std::vector<BlockedClient*>> waiters_;
  size_t blocked_clients_ = 0;
  std::vector<Connection*> gone_blocked_;  // blocked after their FIN was seen: close them
  std::vector<ReadyKey> ready_keys_;       // reported during this drain
  uint64_t dispatch_seq_ = 0;              // Work::dispatch_seq
  // Scripts (hashes of the body or sha argument) that reached beyond their declared keys'
  // shard: run parked over every shard at once from then on (net/script.cc).
  absl::flat_hash_set<uint64_t> scripts_reaching_out_;
  // Pub/sub: subscribers per channel, pattern and shard channel (by PubSubKind), in the
  // order they subscribed.
  absl::flat_hash_map<std::string, std::vector<Connection*>> pubsub_[3];
  std::vector<Connection*> monitors_;  // MONITOR clients, in the order they started
  std::vector<uint8_t> busy_;          // per shard: running a script past the threshold
  bool busy_any_ = false;              // some shard is busy
  bool busy_all_ = false;              // a busy script runs parked over every shard
  bool busy_function_ = false;         // a busy script is a function (FUNCTION KILL's error text)
  FlightTable flights_;                // singleflight front (§5)
  LatencyMonitor latency_;             // SLOWLOG, LATENCY, latencystats
  // Key notices (net/notify.cc) of this drain; who listens; the client whose command is
  // being dispatched or resumed (its works' notices name it, for NOLOOP).
  std::vector<KeyNotice> notices_;
  NoticeListeners* notice_listeners_ = nullptr;
  uint64_t current_origin_ = 0;
  std::unique_ptr<TrackingState> tracking_;  // client tracking (net/tracking.cc)

  std::atomic<bool> stop_{false};
  // Read by every shard per published slice (Notify): kept off the lines the reactor writes
  // per loop iteration.
  alignas(64) std::atomic<bool> sleeping_{false};
  alignas(64) int64_t next_timer_ms_ = 0;
  int64_t loop_ns_ = 0;       // MonotonicNs() read once per loop iteration, after the poller's wait
  bool wait_failed_ = false;  // logged once
  bool accept_paused_ = false;      // accept failed for lack of fds; retried by the timer
  size_t client_buffer_bytes_ = 0;  // client_buffer_bytes()
  int64_t next_idle_release_ms_ = 0;
  ReactorStats stats_;
};

}  // namespace omnibus
