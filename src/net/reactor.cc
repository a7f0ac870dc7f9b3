#include "omnibus/net/reactor.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "omnibus/base/clock.h"
#include "omnibus/base/logging.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/io/socket.h"
#include "omnibus/net/tracking.h"
#include "src/net/fanout.h"

namespace omnibus {

namespace {

constexpr int kMaxEvents = 512;
constexpr size_t kReadChunk = 16 * 1024;      // like Redis's PROTO_IOBUF_LEN
constexpr size_t kMaxReadChunk = 256 * 1024;  // a pipelining client's reads grow up to this
constexpr int kMaxGroupsPerTurn = 16;         // fairness: one client cannot hog a loop iteration
constexpr size_t kMaxGroupCap = size_t{1} << 20;  // pipeline-group-max-commands' maximum

// Redis's text, byte for byte (clientAcceptHandler in Redis 7.0).
constexpr std::string_view kDeniedMessage =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. If you want to connect from external computers to Redis you may adopt "
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "
    "SET protected-mode no' from the loopback interface by connecting to Redis from the same "
    "host the server is running, however MAKE SURE Redis is not publicly accessible from "
    "internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    "you can just disable the protected mode by editing the Redis configuration file, and "
    "setting the protected mode option to 'no', and then restarting the server. 3) If you "
    "started the server manually just for testing, restart it with the '--protected-mode no' "
    "option. 4) Setup a an authentication password for the default user. NOTE: You only need "
    "to do one of the above things in order for the server to start accepting connections from "
    "the outside.\r\n";

// Like Redis, only 127.0.0.1 and ::1 count as local (not all of 127/8).
bool IsLoopbackPeer(const std::string& peer) {
  return peer.rfind("127.0.0.1:", 0) == 0 || peer.rfind("::1:", 0) == 0;
}

}  // namespace

Reactor::Reactor(NetOptions* options, CommandTable* table, ServerApi* api,
                 std::vector<Shard*> shards, std::unique_ptr<IoBackend> io)
    : options_(options),
      table_(table),
      api_(api),
      shards_(std::move(shards)),
      io_(std::move(io)),
      batches_(shards_.size()),
      in_flight_(shards_.size(), 0),
      latency_(table_->all().size(), &options_->latency) {
  for (Shard* sh : shards_) keyspaces_.push_back(sh->keyspace());
  stats_.commands.resize(table_->all().size());
  stats_.max_shard_in_flight.resize(shards_.size());
  stats_.shard_queue_full.resize(shards_.size());
}

Reactor::~Reactor() {
  // First: sends still in the kernel point into the connections' output.
  io_.reset();
  for (int fd : listeners_) close(fd);
  for (auto& [c, owned] : conns_) {
    if (c->fd >= 0) close(c->fd);
    c->tasks.clear();  // their selects close: parts not back are orphaned
  }
  // The server stops every shard before it destroys the reactor: each part still in a batch,
  // a shard's queue or its completion ring comes back now and is freed like any part whose
  // select closed (a parked group with its last part).
  auto back = [this](Work* w) {
    if (w->is_part) Select::PartReturned(this, w);
  };
  for (auto& batch : batches_) {
    for (Work* w : batch) back(w);
    batch.clear();
  }
  for (Shard* s : shards_) {
    s->DrainCompletions(back);
    s->DrainUnexecuted(back);
  }
  for (Work* w : free_works_) delete w;
}

Work* Reactor::NewWork() {
  if (free_works_.empty()) return new Work;
  Work* w = free_works_.back();
  free_works_.pop_back();
  return w;
}

void Reactor::FreeWork(Work* w) {
  // A split EXEC's share whose coroutine ended before handing its ready keys over: they
  // still wake their waiters (at the end of this or the next drain).
  HoldReady(w);
  if (w->reply.capacity() > 64 * 1024) std::string().swap(w->reply);
  if (w->storage.capacity() > 64 * 1024) std::string().swap(w->storage);
  w->result = ReplyValue{};
  w->tx.reset();
  w->ready.clear();
  w->origin = 0;
  w->owner = nullptr;
  if (free_works_.size() >= 1024) {
    delete w;
    return;
  }
  free_works_.push_back(w);
}

bool Reactor::Listen(const std::vector<std::string>& binds, int port, int backlog,
                     std::string* error) {
  for (const std::string& b : binds) {
    bool optional = !b.empty() && b[0] == '-';
    std::string addr = optional ? b.substr(1) : b;
    std::string err;
    int p = port_ != 0 ? port_ : port;  // with --port 0, every address gets the same port
    int fd = ListenTcp(addr, p, backlog, &err);
    if (fd < 0) {
      if (optional) continue;
      // Redis's two lines (main logs each).
      *error = StrCat("Warning: Could not create server TCP listening socket ", addr, ":", p,
                      ": bind: ", err, "\nFailed listening on port ", p, " (TCP), aborting.");
      return false;
    }
    if (port_ == 0) port_ = BoundPort(fd);
    // Listener tags are small integers; connections are real pointers.
    if (!io_->Listen(fd, nullptr)) {
      *error = StrCat("Could not listen on ", addr, ":", p, " with io-backend ", io_->name());
      close(fd);
      return false;
    }
    listeners_.push_back(fd);
  }
  if (listeners_.empty()) {
    *error = "Failed listening on any bind address";
    return false;
  }
  return true;
}

void Reactor::Stop() {
  stop_.store(true);
  io_->Wake();
}

void Reactor::Notify() {
  // Pairs with Run()'s store of sleeping_: either the reactor sees our completions before it
  // sleeps, or we see it asleep and wake it.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_relaxed) && sleeping_.exchange(false)) io_->Wake();
}

void Reactor::Run() {
  IoBackend::Event events[kMaxEvents];
  std::vector<Connection*> ready, flush;  // this iteration's (kept: no allocation per loop)
  while (!stop_.load(std::memory_order_relaxed)) {
    ++stats_.loop_iterations;
    int timeout = 100;
    int64_t due = timers_.NextDue();
    if (due != std::numeric_limits<int64_t>::max()) {
      timeout = static_cast<int>(std::clamp<int64_t>(due - MonotonicMs(), 0, 100));
    }
    sleeping_.store(true, std::memory_order_seq_cst);
    bool busy = !ready_.empty();
    for (Shard* s : shards_) busy |= s->HasCompletions();
    if (busy) timeout = 0;
    int n = io_->Wait(events, kMaxEvents, timeout);
    sleeping_.store(false, std::memory_order_relaxed);
    if (n < 0) {
      if (!wait_failed_) OMNIBUS_LOG(kWarning, "I/O backend ", io_->name(), ": wait failed");
      wait_failed_ = true;
      n = 0;
    }
    loop_ns_ = MonotonicNs();
    for (int i = 0; i < n; ++i) {
      const IoBackend::Event& e = events[i];
      if (e.kind == IoBackend::Event::Kind::kWake) continue;
      if (e.kind == IoBackend::Event::Kind::kAccepted) {
        OnAccepted(e.result);
        continue;
      }
      Connection* c = static_cast<Connection*>(e.data);
      if (e.kind == IoBackend::Event::Kind::kSent) {
        OnSent(c, e.result);
        continue;
      }
      if (c->closing) continue;
      if (e.kind == IoBackend::Event::Kind::kWritable) {
        if (c->blocked_on_write) Flush(c);
        continue;
      }
      if (e.peer_closed) {
        c->peer_closed = true;
        // A blocked client's socket is not read until its pop ends, so its going away is
        // seen here: like Redis, free it now (its pop must not take an element).
        if (c->waiter != nullptr) {
          Close(c);
          continue;
        }
      }
      c->may_read = true;
      ready_.push_back(c);
    }
    ready.clear();
    ready.swap(ready_);
    RefreshBusyShards();
    for (Connection* c : ready) TryProcess(c);
    DrainCompletions();
    timers_.RunDue(MonotonicMs());  // blocking timeouts, wake-ups, select deadlines
    CloseGoneBlockedClients();
    PostBatches();
    flush.clear();
    flush.swap(flush_);
    for (Connection* c : flush) {
      c->in_flush_list = false;
      Flush(c);
    }
    Timers();
  }
}

void Reactor::OnAccepted(int64_t result) {
  if (result < 0) {
    const int err = static_cast<int>(-result);
    ++stats_.accept_errors;
    OMNIBUS_LOG(kWarning, "Accepting client connection: accept: ", strerror(err));
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
      // Out of descriptors: the pending connection stays in the backlog and the backend
      // paused the listener. The timer (or the next closed connection) resumes it, while
      // existing clients are served.
      accept_paused_ = true;
    }
    return;
  }
  const int fd = static_cast<int>(result);
  ++stats_.total_connections_received;
  if (conns_.size() >= static_cast<size_t>(options_->maxclients)) {
    static constexpr char kMsg[] = "-ERR max number of clients reached\r\n";
    ssize_t w = send(fd, kMsg, sizeof(kMsg) - 1, MSG_NOSIGNAL);
    (void)w;
    close(fd);
    ++stats_.rejected_connections;
    return;
  }
  std::string peer, local;
  SocketAddresses(fd, &peer, &local);
  if (options_->protected_mode && options_->requirepass.empty() && !IsLoopbackPeer(peer)) {
    ssize_t w = send(fd, kDeniedMessage.data(), kDeniedMessage.size(), MSG_NOSIGNAL);
    (void)w;
    close(fd);
    ++stats_.rejected_connections;
    return;
  }
  SetTcpNoDelay(fd);
  SetTcpKeepAlive(fd, options_->tcp_keepalive);
  auto conn = std::make_unique<Connection>();
  Connection* c = conn.get();
  c->fd = fd;
  c->session.id = next_client_id_++;
  c->session.fd = fd;
  c->session.addr = std::move(peer);
  c->session.laddr = std::move(local);
  c->session.connection = c;
  c->session.authenticated = options_->requirepass.empty();
  c->session.created_ms = c->last_interaction_ms = MonotonicMs();
  c->session.last_interaction_ms = c->last_interaction_ms;
  conns_.emplace(c, std::move(conn));
  if (!io_->Open(fd, c)) {
    Free(c);
    return;
  }
  ready_.push_back(c);  // data may have arrived with the handshake
}

bool Reactor::ReadSome(Connection* c) {
  // A pipeline that does not fit one read would be split into two groups (two trips through
  // the shards), so a client whose reads fill the buffer gets bigger reads; idle ones shrink
  // back to kReadChunk.
  size_t want = std::max(c->read_size, (c->parser_ptr ? c->parser_ptr->bytes_wanted() : 0));
  // Don't read a whole huge bulk in one go into a tiny buffer: cap a single read.
  want = std::min<size_t>(want, 64 * 1024 * 1024);
  char* dst = c->in.Reserve(want);
  ++stats_.total_reads_processed;
  ssize_t n = io_->Read(c->fd, dst, want);
  if (n > 0) {
    c->in.Commit(static_cast<size_t>(n));
    Recharge(c);
    c->may_read = static_cast<size_t>(n) == want;
    if (c->may_read && c->read_size < kMaxReadChunk) {
      c->read_size *= 2;
    } else if (static_cast<size_t>(n) < c->read_size / 8 && c->read_size > kReadChunk) {
      c->read_size /= 2;
    }
    stats_.net_input_bytes += static_cast<uint64_t>(n);
    c->last_interaction_ms = loop_ns_ / 1'000'000;  // the loop's clock: no read per command
    if (static_cast<int64_t>(c->in.size()) > options_->client_query_buffer_limit) {
      ++stats_.query_buffer_limit_disconnections;
      OMNIBUS_LOG(kWarning,
                  "Closing client that reached max query buffer length: id=", c->session.id,
                  " addr=", c->session.addr, " (qbuf initial bytes: ", c->in.size(), ")");
      Close(c);
      return false;
    }
    return true;
  }
  if (n == 0) {
    Close(c);
    return false;
  }
  if (n == -EAGAIN) {
    c->may_read = false;
    return false;
  }
  if (n == -EINTR) return true;
  Close(c);
  return false;
}

bool Reactor::ParseGroup(Connection* c) {
  ParserLimits limits;
  limits.proto_max_bulk_len = options_->proto_max_bulk_len;
  limits.unauthenticated = !c->session.authenticated;
  std::string_view input = c->in.data();
  RespParser& parser = c->parser();
  size_t off = 0;
  c->group = 0;
  size_t max = static_cast<size_t>(std::max<int64_t>(1, options_->pipeline_group_max_commands));
  max = std::min(max, c->group_cap);
  while (c->group < max) {
    RespParser::Status st = parser.Parse(input.substr(off), limits);
    if (st == RespParser::Status::kNeedMore) break;
    if (st == RespParser::Status::kError && limits.unauthenticated && c->group > 0 &&
        parser.error().find("unauthenticated") != std::string::npos) {
      // An AUTH earlier in this group may lift the unauthenticated limits (Redis runs each
      // command before parsing the next): end the group here and parse this command again,
      // from its start, once the group has run. The parser reset itself on the error.
      break;
    }
    if (st == RespParser::Status::kEmpty) {
      off += parser.consumed();
      continue;
    }
    if (c->works.size() <= c->group) {
      c->works.push_back(std::make_unique<Work>());
      c->works.back()->charged_bytes = sizeof(Work);
      c->works_bytes += sizeof(Work);
    }
    Work* w = c->works[c->group++].get();
    w->owner = c;
    w->is_part = false;
    w->reply_budget = nullptr;
    w->deferred = false;
    w->staged = false;
    w->reply.clear();
    w->args.clear();
    w->park = nullptr;
    w->handler = nullptr;
    w->dispatch_seq = 0;
    w->command_id = kNoStats;
    w->exec_ns = 0;
    w->wait_ns = 0;  // only a shard sets it: 0 for commands answered here
    if (st == RespParser::Status::kError) {
      // Invariant: a protocol error is answered after the commands before it, then the
      // connection is closed, as Redis does.
      ReplyBuilder(&w->reply, 2).Error(StrCat("ERR ", parser.error()));
      ++stats_.total_error_replies;
      ++stats_.errors["ERR"];
      c->close_after_group = true;
      OMNIBUS_LOG(kVerbose, "Protocol error (", parser.error(), ") from client: id=", c->session.id,
                  " addr=", c->session.addr);
      off = input.size();
      break;
    }
    const auto& args = parser.args();
    if (parser.inline_command()) {
      // Inline arguments live in the parser and are overwritten by the next parse: copy them
      // into the slot's own storage.
      w->OwnArgs(args);
    } else {
      w->args.assign(args.begin(), args.end());
    }
    off += parser.consumed();
  }
  c->in_group_bytes = off;
  return c->group > 0;
}

void Reactor::TryProcess(Connection* c) {
  for (int turns = 0; turns < kMaxGroupsPerTurn; ++turns) {
    if (c->closing || c->pending > 0 || c->close_after_group || c->session.close_after_reply)
      return;
    if (c->out.unsent() > static_cast<size_t>(options_->pipeline_pause_output_bytes))
      return;  // resumed by Flush once the client reads its replies
    if (c->continued) {
      // The deferred rest of a group (bursts.cc).
      ResumeGroup(c);
      if (c->pending > 0) return;
      CompleteGroup(c);
      continue;
    }
    if (!ParseGroup(c)) {
      if (c->in_group_bytes > 0) {
        c->in.Consume(c->in_group_bytes);
        c->in_group_bytes = 0;
      }
      // After the peer's FIN the next read returns the end of the stream (then Close).
      if (!(c->may_read || c->peer_closed) || !ReadSome(c)) return;
      continue;
    }
    DispatchGroup(c);
    if (c->pending > 0) return;
    CompleteGroup(c);
  }
  if (!c->closing) ready_.push_back(c);  // more to do: continue next iteration
}

void Reactor::DispatchGroup(Connection* c) {
  stats_.max_group_commands = std::max<uint64_t>(stats_.max_group_commands, c->group);
  // One extra count holds the group open while dispatching, so a command answered on the
  // reactor never completes the group from inside this loop.
  c->pending = c->group + 1;
  c->dispatch_next = 0;
  c->group_write_shards = 0;
  DispatchRest(c);
  BudgetGroup(c);
}

void Reactor::DispatchRest(Connection* c) {
  // Resumed after a barrier: commands of the group before it may still be queued on a shard,
  // and these must not pass them there (§4, ShardQueue).
  const bool resumed = c->dispatch_next > 0;
  while (c->dispatch_next < c->group) {
    size_t i = c->dispatch_next++;
    Work* w = c->works[i].get();
    w->follows_own = resumed;
    if (w->args.empty()) {  // a protocol-error slot, already answered
      --c->pending;
      continue;
    }
    bool barrier = Dispatch(c, w);
    if (c->session.close_after_reply) {
      // QUIT, SHUTDOWN or CLIENT KILL of itself: like Redis, nothing after it runs.
      for (size_t j = i + 1; j < c->group; ++j) {
        c->works[j]->reply.clear();
        c->works[j]->command_id = kNoStats;
        --c->pending;
      }
      c->dispatch_next = c->group;
      break;
    }
    if (barrier) {
      c->barrier = w;  // the rest waits for it; the hold stays
      return;
    }
  }
  --c->pending;
}

void Reactor::Reject(Work* w, std::string_view error, const CommandSpec* spec) {
  ReplyBuilder(&w->reply, w->resp).Error(error);
  if (spec != nullptr) ++stats_.commands[spec->id].rejected;
  ++stats_.total_error_replies;
  ++stats_.errors[std::string(error.substr(0, error.find(' ')))];
}

const CommandSpec* Reactor::Resolve(Work* w, const Session& s) {
  const auto& args = w->args;
  const CommandSpec* spec = table_->Find(args[0]);
  if (spec == nullptr || spec->name.find('|') != std::string_view::npos) {
    std::string rest;
    for (size_t i = 1; i < args.size() && rest.size() < 128; ++i) {
      StrAppend(&rest, "'", args[i].substr(0, 128 - rest.size()), "' ");
    }
    Reject(w,
           StrCat("ERR unknown command '", args[0].substr(0, 128),
                  "', with args beginning with: ", rest),
           nullptr);
    return nullptr;
  }
  if (spec->container && (args.size() >= 2 || spec->reactor == nullptr)) {
    if (args.size() < 2) {
      Reject(w, StrCat("ERR wrong number of arguments for '", spec->name, "' command"), spec);
      return nullptr;
    }
    std::string sub = StrCat(spec->name, "|", args[1]);
    AsciiToLower(&sub);
    const CommandSpec* sub_spec = table_->Find(sub);
    if (sub_spec == nullptr && EqualsIgnoreCase(args[1], "help")) {
      // HELP comes from the table itself.
      ReplyBuilder rb(&w->reply, w->resp);
      auto subs = table_->SubcommandsOf(spec->name);
      std::string upper(spec->name);
      for (char& ch : upper) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
      rb.Array(subs.size() * 2 + 3);
      rb.SimpleString(StrCat(upper, " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"));
      for (const CommandSpec* ss : subs) {
        std::string name(ss->name.substr(ss->name.find('|') + 1));
        for (char& ch : name) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
        rb.SimpleString(name);
        rb.SimpleString(StrCat("    ", ss->doc.summary, "."));
      }
      rb.SimpleString("HELP");
      rb.SimpleString("    Prints this help.");
      return nullptr;
    }
    if (sub_spec == nullptr) {
      std::string upper(spec->name);
      for (char& ch : upper) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
      Reject(w,
             StrCat("ERR unknown subcommand '", args[1].substr(0, 128), "'. Try ", upper, " HELP."),
             spec);
      return nullptr;
    }
    spec = sub_spec;
  }
  int argc = static_cast<int>(args.size());
  if ((spec->arity > 0 && argc != spec->arity) || argc < -spec->arity) {
    Reject(w, StrCat("ERR wrong number of arguments for '", spec->name, "' command"), spec);
    return nullptr;
  }
  // Redis checks, in order: unknown command, arity, then authentication.
  if (!s.authenticated && !(spec->flags & kCmdNoAuth)) {
    Reject(w, "NOAUTH Authentication required.", spec);
    return nullptr;
  }
  if (spec->key_step > 1 && (argc - spec->first_key) % spec->key_step != 0) {
    Reject(w, StrCat("ERR wrong number of arguments for '", spec->name, "' command"), spec);
    return nullptr;
  }
  return spec;
}

bool Reactor::Dispatch(Connection* c, Work* w) {
  Session& s = c->session;
  w->db = static_cast<uint8_t>(s.db);
  w->resp = static_cast<uint8_t>(s.resp);
  w->no_shed = s.no_shed;
  w->deadline_ns = s.deadline_ms > 0 ? loop_ns_ + s.deadline_ms * 1'000'000 : 0;
  // CLIENT REPLY OFF / SKIP: the reply is made (and counted) but not sent.
  w->silent = s.replies_off || s.skip_next_reply;
  s.skip_next_reply = false;
  const CommandSpec* spec = Resolve(w, s);
  if (spec == nullptr && EqualsIgnoreCase(w->args[0], "exec") && w->reply.starts_with("-ERR ")) {
    // Redis's execCommandAbort: a rejected EXEC discards the transaction, in or out of MULTI.
    std::string why = w->reply.substr(5, w->reply.size() - 7);
    w->reply.clear();
    ReplyBuilder(&w->reply, w->resp)
        .Error(StrCat("EXECABORT Transaction discarded because of: ", why));
    s.in_multi = false;
    s.multi_dirty = false;
    s.queued.clear();
    Unwatch(s);
    --c->pending;
    return false;
  }
  if (spec == nullptr) {
    if (s.in_multi && !w->reply.empty()) {
      if (w->reply[0] == '-') {
        s.multi_dirty = true;  // a queuing error: EXEC will abort
      } else {
        // A container's HELP, made from the table: its reply is EXEC's to give.
        s.queued.emplace_back().reply = std::move(w->reply);
        w->reply.clear();
        ReplyBuilder(&w->reply, w->resp).SimpleString("QUEUED");
      }
    }
    --c->pending;  // answered here; DispatchGroup holds the group open
    return false;
  }
  if (s.monitor && (spec->flags & (kCmdWrite | kCmdReadOnly | kCmdMayReplicate))) {
    Reject(w, "ERR Replica can't interact with the keyspace", spec);  // as Redis
    --c->pending;
    return false;
  }
  if (s.resp == 2 && s.subscribed() && !(spec->flags & kCmdSubscribedOk)) {
    // Redis's RESP2 subscribed mode.
    Reject(w,
           StrCat("ERR Can't execute '", spec->name,
                  "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed "
                  "in this context"),
           spec);
    --c->pending;
    return false;
  }
  if (s.in_multi && !(spec->flags & kCmdNotQueued)) {
    Queue(c, w, spec);
    --c->pending;
    return false;
  }
  w->command_id = spec->id;
  s.last_command = spec->name.data();
  if (spec->reactor != nullptr && spec->name == "client|reply") {
    // Its own reply: none for OFF and SKIP, +OK for ON (or an error) unless replies are off.
    s.silence_this = false;
    bool barrier = Run(c, w, spec);
    w->silent = s.silence_this || (w->silent && s.replies_off);
    s.silence_this = false;
    return barrier;
  }
  current_origin_ = s.id;  // its works' key notices name it (NOLOOP)
  w->read_lookups = (spec->flags & kCmdReadOnly) != 0;
  const uint64_t seq_before = dispatch_seq_;
  bool barrier = Run(c, w, spec);
  if (s.tracking.on) {
    // Client tracking: the keys it read, remembered now (a read answered without executing
    // on its own is tracked too). CLIENT CACHING holds for one command (or transaction).
    TrackCommand(c, *spec, w->args, w->dispatch_seq != 0 ? w->dispatch_seq : seq_before + 1);
    if (!s.in_multi && !spec->name.starts_with("client|")) s.tracking.caching = false;
  }
  // After it ran (SELECT shows its new DB); EXEC's own commands were fed as it started them.
  if (!monitors_.empty() && !c->closing) FeedMonitors(c, *spec, w->args);
  return barrier;
}

void Reactor::Queue(Connection* c, Work* w, const CommandSpec* spec) {
  Session& s = c->session;
  if (spec->flags & kCmdNoMulti) {
    Reject(w, "ERR Command not allowed inside a transaction", spec);
    s.multi_dirty = true;
    return;
  }
  if (api_->OutOfMemory()) {
    // Redis refuses to queue anything while out of memory (queuing takes memory too).
    Reject(w, kOomError, spec);
    s.multi_dirty = true;
    return;
  }
  // The queued command owns its arguments (§10.3): the input buffer moves on.
  QueuedCommand& q = s.queued.emplace_back();
  q.spec = spec;
  CopyArgs(w->args, &q.storage, &q.args);
  w->command_id = kNoStats;
  ReplyBuilder(&w->reply, w->resp).SimpleString("QUEUED");
}

bool Reactor::Run(Connection* c, Work* w, const CommandSpec* spec) {
  const auto& args = w->args;
  const int n = static_cast<int>(shards_.size());
  if (busy_any_ && !(spec->flags & kCmdAllowBusy) && NeedsBusyShard(*spec, args)) {
    // A script has run past busy-reply-threshold on a shard this command needs; commands
    // of other shards, and those answered here, are still served.
    Reject(w,
           busy_function_ ? "BUSY Redis is busy running a script. You can only call FUNCTION "
                            "KILL or SHUTDOWN NOSAVE."
                          : "BUSY Redis is busy running a script. You can only call SCRIPT "
                            "KILL or SHUTDOWN NOSAVE.",
           spec);
    --c->pending;
    return false;
  }
  switch (spec->route) {
    case Route::kReactor: {
      int64_t start = MonotonicNs();
      ReplyBuilder rb(&w->reply, w->resp);
      ReactorContext ctx{w->args, &rb, &c->session, api_};
      spec->reactor(ctx);
      w->exec_ns = MonotonicNs() - start;
      --c->pending;
      return false;
    }
    case Route::kKey:
      w->handler = spec->shard;
      StageOnShard(c, w, *spec, ShardForKey(args[static_cast<size_t>(spec->first_key)], n));
      return false;
    case Route::kCustom: {
      ReplyBuilder rb(&w->reply, w->resp);
      int shard = spec->route_fn(w->args, n, &rb);
      if (shard < 0) {
        --c->pending;
        return false;
      }
      w->handler = spec->shard;
      StageOnShard(c, w, *spec, shard);
      return false;
    }
    case Route::kTask:
      // Transactions, scripts and blocking pops may write anywhere.
      c->group_write_shards = ~uint64_t{0};
      switch (spec->task) {
        case ReactorTask::kExec:
          return StartTask(c, w, Exec(c, w), /*barrier=*/true);
        case ReactorTask::kWatch:
          return StartTask(c, w, Watch(c, w), /*barrier=*/true);
        case ReactorTask::kBlockingPop:
          return StartTask(c, w, BlockingPop(c, w, spec), /*barrier=*/true);
        case ReactorTask::kScript:
          return StartTask(c, w, Script(c, w, spec), /*barrier=*/true);
        case ReactorTask::kNone:
          break;
      }
      Reject(w, "ERR internal error: command without a task", spec);
      --c->pending;
      return false;
    case Route::kScatter:
    case Route::kParked:
    case Route::kAllShards:
      break;
  }
  // Keyed commands whose keys may span shards, and all-shard commands: on one shard when
  // they can be, else a fan-out coroutine over a select (§6).
  w->handler = spec->shard;
  std::vector<int>& shard_of = scratch_shard_of_;
  std::vector<int>& key_at = scratch_key_at_;
  shard_of.clear();
  key_at.clear();
  if (spec->route == Route::kAllShards) {
    // Always merged, even from one shard: the merge writes the reply (INFO's text, ...).
    for (int sh = 0; sh < n; ++sh) shard_of.push_back(sh);
  } else {
    KeyPositions(*spec, args, &key_at);
    // A malformed key count (ZUNIONSTORE d 0 ...): no keys, so any shard answers the error.
    if (key_at.empty()) {
      StageOnShard(c, w, *spec, 0);
      return false;
    }
    int first = -1;
    bool single = true;
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
    if (single) {  // the common case: no fan-out at all
      StageOnShard(c, w, *spec, first);
      return false;
    }
  }
  if (!(spec->flags & kCmdReadOnly)) c->group_write_shards = ~uint64_t{0};
  ++stats_.fanouts;
  return StartTask(c, w, FanOut(c, w, spec, shard_of, key_at), /*barrier=*/false);
}

bool Reactor::StartTask(Connection* c, Work* w, Task task, bool barrier) {
  if (task.done()) {  // answered without waiting
    --c->pending;
    return false;
  }
  task.OnDone(&Reactor::TaskDone, this, w);
  c->tasks.emplace_back(w, std::move(task));
  return barrier;
}

void Reactor::TaskDone(void* reactor, void* slot) {
  auto* r = static_cast<Reactor*>(reactor);
  auto* w = static_cast<Work*>(slot);
  auto* c = static_cast<Connection*>(w->owner);
  // Drop the finished frame. We are inside its final suspension, which allows destroying it
  // (Task's final awaiter touches nothing after calling us).
  for (size_t i = 0; i < c->tasks.size(); ++i) {
    if (c->tasks[i].first == w) {
      std::pair<Work*, Task> done = std::move(c->tasks[i]);
      c->tasks[i] = std::move(c->tasks.back());
      c->tasks.pop_back();
      break;
    }
  }
  if (c->barrier == w) {
    c->barrier = nullptr;
    if (!c->closing) r->DispatchRest(c);
  }
  r->OnSlotDone(c);
}

void Reactor::CloseGoneBlockedClients() {
  if (gone_blocked_.empty()) return;
  std::vector<Connection*> gone;
  gone.swap(gone_blocked_);
  for (Connection* c : gone) {
    if (conns_.contains(c) && !c->closing && c->waiter != nullptr) Close(c);
  }
}

void Reactor::EmitBeforeBarrier(Connection* c) {
  // Every slot before the barrier is done when nothing but the barrier, the undispatched
  // commands and the dispatch hold is pending: their replies can go out now, in order, as
  // Redis sends them before it blocks.
  if (c->barrier == nullptr || c->closing) return;
  size_t barrier_at = c->dispatch_next - 1;
  if (c->pending != 1 + (c->group - c->dispatch_next) + 1) return;
  for (size_t i = c->emitted; i < barrier_at; ++i) {
    Work* w = c->works[i].get();
    if (w->silent) continue;
    if (w->chunk) {
      c->out.AppendChunk(w->chunk);  // CompleteGroup drops the slot's reference
    } else {
      c->out.Append(std::string_view(w->reply));
    }
  }
  if (barrier_at > c->emitted) {
    c->emitted = barrier_at;
    if (!c->in_flush_list) {
      c->in_flush_list = true;
      flush_.push_back(c);
    }
  }
}

void Reactor::StageToShard(int shard, Work* w) {
  w->enqueue_ns = loop_ns_;  // its queue wait starts here, backlog included (§4)
  if (w->origin == 0) {
    w->origin = w->is_part || w->owner == nullptr ? current_origin_
                                                  : static_cast<Connection*>(w->owner)->session.id;
  }
  if (w->park == nullptr) {
    if (w->dispatch_seq == 0) w->dispatch_seq = ++dispatch_seq_;  // else set by a split EXEC
  } else {
    if (w->park->dispatch_seq == 0) w->park->dispatch_seq = ++dispatch_seq_;
    w->dispatch_seq = w->park->dispatch_seq;
  }
  batches_[static_cast<size_t>(shard)].push_back(w);
}

void Reactor::PostBatches() {
  for (size_t i = 0; i < shards_.size(); ++i) {
    auto& batch = batches_[i];
    if (batch.empty()) continue;
    Shard* s = shards_[i];
    size_t staged = 0;
    // Invariant 6: never more in flight than the shard's queue holds; the rest waits here,
    // in order, for the next iteration.
    while (!batch.empty() && in_flight_[i] < s->queue_capacity()) {
      s->Stage(batch.front());
      batch.pop_front();
      ++staged;
      ++in_flight_[i];
    }
    if (!batch.empty()) ++stats_.shard_queue_full[i];
    stats_.max_shard_in_flight[i] = std::max(stats_.max_shard_in_flight[i], in_flight_[i]);
    if (staged > 0) {
      ++stats_.shard_batches;
      s->PostToShard();
    }
  }
}

void Reactor::DrainCompletions() {
  // Notices of active expiry first: each follows a Work already in (or drained from) its
  // shard's ring.
  for (Shard* shard : shards_) {
    if (!shard->HasLooseNotices()) continue;
    for (KeyNotice& n : shard->TakeLooseNotices()) notices_.push_back(std::move(n));
  }
  for (size_t i = 0; i < shards_.size(); ++i) {
    size_t n = shards_[i]->DrainCompletions([this](Work* w) { OnWorkDone(w); });
    in_flight_[i] -= n;
  }
  // Notifications are published as the commands ran, before blocked clients are served.
  if (!notices_.empty()) HandleNotices();
  if (ready_keys_.empty()) return;
  // Rings are drained shard by shard, and shards run at the same time. Like Redis, wake
  // waiters in the order their keys became ready in the sequencer's order: by the dispatch of
  // the work that made them ready, then within it (a parked step, a transaction).
  std::sort(ready_keys_.begin(), ready_keys_.end(), [](const ReadyKey& a, const ReadyKey& b) {
    return a.dispatch != b.dispatch ? a.dispatch < b.dispatch : a.seq < b.seq;
  });
  std::vector<ReadyKey> keys;
  keys.swap(ready_keys_);
  for (const ReadyKey& r : keys) OnKeyReady(r.db, r.key);
}

void Reactor::OnWorkDone(Work* w) {
  // Keys that gained elements for blocked clients (§10.5), reported with the work that made
  // them so; handled once the whole drain is done, in the order they became ready. A parked
  // group's keys (each shard reports its own) once every part of it is back.
  for (ReadyKey& r : w->ready) r.dispatch = w->dispatch_seq;
  for (KeyNotice& n : w->notices) {
    n.dispatch = w->dispatch_seq;
    n.origin = w->origin;
    if (w->notice_order.empty()) continue;
    // A scattered part's args are its keys, each with the same number of values after it.
    const size_t keys = w->notice_order.size();
    const size_t step = (w->args.size() - 1) / keys;
    for (size_t i = 0; i < keys; ++i) {
      if (w->args[1 + i * step] == n.key) {
        n.order = w->notice_order[i];
        break;
      }
    }
  }
  if (w->is_part && w->owner != nullptr && w->tx != nullptr && w->tx->split) {
    // One shard's share of a split EXEC: its coroutine hands every share's keys over at once
    // when the last is back, so they are woken in the transaction's order.
  } else if (w->park != nullptr) {
    Work* cmd = w->park->work;
    for (ReadyKey& r : w->ready) cmd->ready.push_back(std::move(r));
    w->ready.clear();
    for (KeyNotice& n : w->notices) cmd->notices.push_back(std::move(n));
    w->notices.clear();
    if (w->park->parts_out == 1) {
      for (ReadyKey& r : cmd->ready) ready_keys_.push_back(std::move(r));
      cmd->ready.clear();
      HoldNotices(cmd);
    }
  } else {
    if (!w->ready.empty()) {
      for (ReadyKey& r : w->ready) ready_keys_.push_back(std::move(r));
      w->ready.clear();
    }
    // A scattered part's notices wait for its siblings (FanOut hands them over together):
    // parts may come back in different drains.
    if (!w->notices.empty() && w->notice_order.empty()) HoldNotices(w);
  }
  if (w->is_part) {
    // The coroutine it resumes may send more parts: they are that client's too.
    current_origin_ = w->origin;
    return Select::PartReturned(this, w);
  }
  if (w->flight.is_open()) {
    // A flight's leader: its waiters get its reply, each in its own slot (a waiter of the
    // leader's own connection keeps that group open until its slot is done too).
    std::vector<Work*> waiters = flights_.Land(w);
    OnSlotDone(static_cast<Connection*>(w->owner));
    for (Work* waiter : waiters) OnSlotDone(static_cast<Connection*>(waiter->owner));
    return;
  }
  OnSlotDone(static_cast<Connection*>(w->owner));
}

void Reactor::StageOnShard(Connection* c, Work* w, const CommandSpec& spec, int shard) {
  if ((spec.flags & kCmdCoalescable) && options_->singleflight) {
    if (JoinOrLead(c, w, shard)) return;  // answered with its flight's reply
  } else if (!(spec.flags & kCmdReadOnly)) {
    c->group_write_shards |= ShardBit(shard);
  }
  w->staged = true;
  w->shard_of = static_cast<int16_t>(shard);
  StageToShard(shard, w);
}

bool Reactor::JoinOrLead(Connection* c, Work* w, int shard) {
  // Read-your-writes: a request never shares a flight that may have been queued before its
  // own group's earlier write to that shard. Transactions (MULTI is never dispatched here)
  // and WATCHing clients keep their own reads.
  FlightTable::NoJoin no_join = FlightTable::NoJoin::kNone;
  if (c->group_write_shards & ShardBit(shard)) {
    no_join = FlightTable::NoJoin::kOwnWrites;
  } else if (!c->session.watched.empty()) {
    no_join = FlightTable::NoJoin::kWatching;
  }
  return flights_.JoinOrLead(w, no_join);
}

void Reactor::OnSlotDone(Connection* c) {
  if (--c->pending > 0) return;
  if (c->closing) return Free(c);
  CompleteGroup(c);
  TryProcess(c);
}

void Reactor::CountReply(const CommandSpec* spec, std::string_view reply, int64_t exec_ns) {
  CommandStats& cs = stats_.commands[spec->id];
  ++cs.calls;
  cs.usec += static_cast<uint64_t>(exec_ns / 1000);
  ++stats_.total_commands_processed;
  if (!reply.empty() && reply[0] == '-') {
    ++cs.failed;
    ++stats_.total_error_replies;
    size_t end = reply.find_first_of(" \r");
    ++stats_.errors[std::string(reply.substr(1, end - 1))];
  }
}

void Reactor::CompleteGroup(Connection* c) {
  // Invariant 3: replies leave in request order, and only once the whole group is done.
  // A budgeted group whose shards deferred its tail (bursts.cc) sends the replies before the
  // first deferred slot; the rest stays as the group.
  const size_t end = c->budgeted ? FirstDeferred(c) : c->group;
  size_t reply_bytes = 0;
  bool over_limit = false;
  for (size_t i = 0; i < end; ++i) {
    Work* w = c->works[i].get();
    std::string_view reply = w->chunk ? std::string_view(*w->chunk) : w->reply;
    if (w->command_id != kNoStats) {
      const CommandSpec& spec = table_->all()[w->command_id];
      CountReply(&spec, reply, w->exec_ns);
      ObserveLatency(c->session, spec, w->args, w->exec_ns, w->wait_ns);
    }
    reply_bytes += reply.size();
    // Past the output limit the client is closed: don't queue replies it will never get.
    // A big reply moves into the queue without a copy; a shared one is queued by reference.
    if (!over_limit && i >= c->emitted && !w->silent) {
      if (w->chunk) {
        c->out.AppendChunk(std::move(w->chunk));
      } else {
        c->out.Append(&w->reply);
      }
      over_limit = OutputOverHardLimit(c);
    }
    w->chunk.reset();
    if (w->reply.capacity() > 64 * 1024) std::string().swap(w->reply);
    ChargeWork(c, w);
  }
  const bool partial = end < c->group;
  // Pub/sub messages that came while the group was in flight follow its replies.
  if (!partial) {
    for (ReplyChunk& chunk : c->deferred_pushes) c->out.AppendChunk(std::move(chunk));
    c->deferred_pushes.clear();
  }
  // Invariant 6: the group's replies are held twice (by their slots and in `out`), so size the
  // next group to what this one produced: big replies make small groups (down to one
  // command), small ones let it grow back to pipeline-group-max-commands.
  size_t budget = static_cast<size_t>(options_->pipeline_pause_output_bytes);
  if (reply_bytes > budget) {
    c->group_cap = std::max<size_t>(1, end * budget / reply_bytes);
  } else if (!partial && c->group >= c->group_cap / 2) {
    c->group_cap = std::min<size_t>(c->group_cap * 2, kMaxGroupCap);
  }
  if (partial) {
    // The deferred rest becomes the group (its arguments still point into `in`).
    std::rotate(c->works.begin(), c->works.begin() + static_cast<ptrdiff_t>(end),
                c->works.begin() + static_cast<ptrdiff_t>(c->group));
    c->group -= end;
    c->continued = true;
    ++stats_.group_cuts;
  } else {
    c->in.Consume(c->in_group_bytes);
    c->in_group_bytes = 0;
    c->in.ShrinkIfIdle();
    c->group = 0;
    c->budgeted = false;
  }
  Recharge(c);
  c->emitted = 0;
  c->last_interaction_ms = loop_ns_ / 1'000'000;
  c->session.last_interaction_ms = c->last_interaction_ms;
  if (OverOutputLimit(c, c->last_interaction_ms)) return;
  if (!c->in_flush_list) {
    c->in_flush_list = true;
    flush_.push_back(c);
  }
}

void Reactor::Flush(Connection* c) {
  if (c->closing || c->send_in_flight > 0) return;  // OnSent goes on
  ++stats_.total_writes_processed;
  const bool later = io_->sends_complete_later();
  iovec iov[IoBackend::kMaxIov];
  for (;;) {
    int n = c->out.Gather(iov, IoBackend::kMaxIov, later);
    if (n == 0) break;
    ssize_t sent = io_->Send(c->fd, c, iov, n);
    if (sent == IoBackend::kPending) {
      for (int i = 0; i < n; ++i) c->send_in_flight += iov[i].iov_len;
      return;
    }
    if (sent == -EAGAIN) {
      Recharge(c);  // sent runs were freed
      if (!c->blocked_on_write) write_blocked_.insert(c);
      c->blocked_on_write = true;
      return;
    }
    if (sent < 0) {
      Close(c);
      return;
    }
    stats_.net_output_bytes += static_cast<uint64_t>(sent);
    c->out.Advance(static_cast<size_t>(sent));
  }
  Recharge(c);
  Flushed(c);
}

void Reactor::OnSent(Connection* c, int64_t result) {
  const size_t asked = c->send_in_flight;
  c->send_in_flight = 0;
  if (c->closing) {
    if (c->pending == 0) Free(c);  // Free waited for this send
    return;
  }
  if (result < 0) {
    if (result == -EAGAIN || result == -EINTR) return Flush(c);
    Close(c);
    return;
  }
  stats_.net_output_bytes += static_cast<uint64_t>(result);
  c->out.Advance(static_cast<size_t>(result));
  Recharge(c);  // sent runs were freed
  if (static_cast<size_t>(result) < asked) {
    // The kernel took part: the client reads slower than we write (soft output limit).
    if (!c->blocked_on_write) write_blocked_.insert(c);
    c->blocked_on_write = true;
  }
  if (!c->out.empty()) return Flush(c);
  Flushed(c);
}

void Reactor::Flushed(Connection* c) {
  if (c->blocked_on_write) write_blocked_.erase(c);
  c->blocked_on_write = false;
  // QUIT (or a protocol error) marks the connection while its group is still in flight;
  // close only once that group's replies have been written, not after an earlier group's.
  if ((c->close_after_group || c->session.close_after_reply) && c->pending == 0) {
    Close(c);
    return;
  }
  // Output was the reason this client paused: resume it.
  if (c->pending == 0 && (c->may_read || c->peer_closed || c->in.size() > 0)) ready_.push_back(c);
}

const OutputBufferLimit& Reactor::LimitFor(const Connection* c) const {
  // client-output-buffer-limit's classes: a subscribed client is "pubsub".
  return c->session.subscribed() ? options_->output_limit_pubsub : options_->output_limit_normal;
}

bool Reactor::OutputOverHardLimit(const Connection* c) const {
  int64_t hard = LimitFor(c).hard;
  return hard > 0 && static_cast<int64_t>(c->out.unsent()) >= hard;
}

bool Reactor::OverOutputLimit(Connection* c, int64_t now_ms) {
  const OutputBufferLimit& limit = LimitFor(c);
  int64_t unsent = static_cast<int64_t>(c->out.unsent());
  bool over = false;
  if (OutputOverHardLimit(c)) {
    over = true;
  } else if (limit.soft > 0 && unsent >= limit.soft) {
    if (c->over_soft_limit_since_ms == 0) {
      c->over_soft_limit_since_ms = now_ms;
    } else if (now_ms - c->over_soft_limit_since_ms > limit.soft_seconds * 1000) {
      over = true;
    }
  } else {
    c->over_soft_limit_since_ms = 0;
  }
  if (!over) return false;
  OMNIBUS_LOG(kWarning, "Client id=", c->session.id, " addr=", c->session.addr,
              " scheduled to be closed ASAP for overcoming of output buffer limits.");
  ++stats_.output_buffer_limit_disconnections;
  Close(c);
  return true;
}

void Reactor::RetryPausedAccepts() {
  if (!accept_paused_) return;
  accept_paused_ = false;
  for (int fd : listeners_) io_->ResumeAccept(fd);
}

void Reactor::Close(Connection* c) {
  if (c->closing) return;
  c->closing = true;
  io_->Close(c->fd);
  c->fd = -1;
  // Its coroutines end now (§10.3): a blocked pop leaves its waiter lists, a select closes
  // (reads not started are cancelled, writes complete; parts own their arguments), and the
  // commands a barrier held back are never dispatched.
  if (c->barrier != nullptr) {
    c->pending -= (c->group - c->dispatch_next) + 1;  // the undispatched ones and the hold
    c->dispatch_next = c->group;
    c->barrier = nullptr;
  }
  while (!c->tasks.empty()) {
    std::pair<Work*, Task> t = std::move(c->tasks.back());
    c->tasks.pop_back();
    t.second.Reset();
    --c->pending;
  }
  Unwatch(c->session);
  c->session.queued.clear();
  c->session.in_multi = false;
  if (c->subs != nullptr) {
    for (PubSubKind kind : {PubSubKind::kChannel, PubSubKind::kPattern, PubSubKind::kShard}) {
      Unsubscribe(c->session, kind, {}, nullptr);
    }
  }
  c->deferred_pushes.clear();
  TrackingClosed(c);
  if (c->session.monitor) {
    auto at = std::find(monitors_.begin(), monitors_.end(), c);
    if (at != monitors_.end()) monitors_.erase(at);
    if (monitors_.empty()) UpdateNoticeListeners();
    c->session.monitor = false;
  }
  if (c->pending == 0) Free(c);
  RetryPausedAccepts();  // a descriptor was just freed
  // Otherwise Free() runs when the last in-flight command of its group returns: shards may
  // still point into its buffers.
}

void Reactor::Free(Connection* c) {
  if (c->fd >= 0) {
    io_->Close(c->fd);
    c->fd = -1;
  }
  write_blocked_.erase(c);
  client_buffer_bytes_ -= c->charged_bytes;
  c->charged_bytes = 0;
  // It may still sit in ready_/flush_ for this iteration: those skip closing connections,
  // so defer the delete to the timer pass.
  c->closing = true;
  if (c->send_in_flight > 0) return;  // its output stays until the send ends (OnSent)
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  graveyard_.push_back(std::move(it->second));
  conns_.erase(it);
}

void Reactor::Timers() {
  int64_t now = MonotonicMs();
  // Connections freed this iteration: drop them from the only list that outlives it.
  if (!graveyard_.empty()) {
    ready_.erase(
        std::remove_if(ready_.begin(), ready_.end(), [](Connection* c) { return c->closing; }),
        ready_.end());
    graveyard_.clear();
  }
  if (now < next_timer_ms_) return;
  next_timer_ms_ = now + 100;
  RetryPausedAccepts();
  ReleaseIdleBuffers(now);  // bursts.cc
  // The soft output limit is a duration: clients that stopped reading must be re-checked.
  // Only those the kernel stopped taking output from can be over it (the rest were flushed
  // whole), so this costs O(such clients), not O(clients).
  std::vector<Connection*> over;
  for (Connection* c : write_blocked_) {
    if (!c->closing && !c->out.empty()) over.push_back(c);
  }
  for (Connection* c : over) OverOutputLimit(c, now);
  if (options_->timeout > 0) {
    std::vector<Connection*> idle;
    for (auto& [c, owned] : conns_) {
      if (!c->closing && c->pending == 0 &&
          now - c->last_interaction_ms > int64_t{options_->timeout} * 1000)
        idle.push_back(c);
    }
    for (Connection* c : idle) {
      OMNIBUS_LOG(kVerbose, "Closing idle client");
      Close(c);
    }
  }
}

}  // namespace omnibus
