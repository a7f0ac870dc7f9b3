#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "omnibus/commands/command.h"
#include "omnibus/net/io_buffer.h"
#include "omnibus/net/output_queue.h"
#include "omnibus/net/task.h"
#include "omnibus/resp/parser.h"
#include "omnibus/shard/work.h"

namespace omnibus {

struct BlockedClient;  // net/blocking.h

// What a connection listens to (net/pubsub.cc), by PubSubKind: allocated on its first
// SUBSCRIBE, so other connections pay one pointer.
struct Subscriptions {
  absl::flat_hash_set<std::string> names[3];
  // Patterns in the order they were subscribed: PUNSUBSCRIBE without arguments confirms them
  // in that order, as Redis 7.0 (which keeps a client's patterns in a list) does.
  std::vector<std::string> pattern_order;
};

// One client connection. Its group of in-flight commands (invariant 3) is `works[0..group)`;
// the Work objects and their buffers are reused from group to group.
// Runs on: reactor thread.
struct Connection {
  int fd = -1;
  Session session;
  IoBuffer in;
  size_t read_size = 16 * 1024;  // adapts to the client's pipelining (Reactor::ReadSome)
  size_t in_group_bytes = 0;     // bytes of `in` the current group's arguments point into
  // Made for the first command, freed with the buffers of an idle connection (bursts.cc).
  std::unique_ptr<RespParser> parser_ptr;
  RespParser& parser() {
    if (parser_ptr == nullptr) parser_ptr = std::make_unique<RespParser>();
    return *parser_ptr;
  }
  OutputQueue out;  // replies not yet sent (§10.6)
  std::unique_ptr<Subscriptions> subs;
  // Pub/sub messages that arrived while a group was in flight: sent after its replies.
  std::vector<ReplyChunk> deferred_pushes;

  std::vector<std::unique_ptr<Work>> works;
  size_t group = 0;    // commands in the current group
  size_t pending = 0;  // of those, not yet complete (+1 while the group is being dispatched)
  // Dispatch stops after a command whose effect the next ones depend on and that completes
  // later (EXEC, WATCH, a blocking pop: a barrier); it resumes from here when that completes.
  size_t dispatch_next = 0;
  // Shards (bit shard % 64) that an earlier command of this group may write to: a read there
  // never joins another request's flight (§5, read-your-writes).
  uint64_t group_write_shards = 0;
  Work* barrier = nullptr;
  // Slots answered by a reactor coroutine still running (fan-outs, EXEC, WATCH, blocking pops).
  std::vector<std::pair<Work*, Task>> tasks;
  BlockedClient* waiter = nullptr;  // set while in a blocking pop
  bool peer_closed = false;         // the client sent FIN (seen by the poller)
  size_t emitted = 0;  // replies of works[0..emitted) already in `out` (before a blocked pop)
  // Most commands the next group may hold: starts small and doubles while replies are small,
  // shrinks when they are big (see CompleteGroup), so a pipeline of GETs of a huge value
  // never has more than about pipeline_pause_output_bytes of replies in flight.
  size_t group_cap = 8;
  // Set when the group ends in a protocol error: reply, then close.
  bool close_after_group = false;
  // Bounded bursts (Work::reply_budget): what the current group may still produce in replies
  // before its shards defer the rest; whether its slots share that budget; and whether the
  // group is the deferred rest of one (works[0..group), dispatched again by TryProcess once
  // the replies before it are read).
  std::atomic<int64_t> reply_budget{0};
  bool budgeted = false;
  bool continued = false;
  // Client buffers (Reactor::client_buffer_bytes): what this connection's input buffer,
  // output queue and slots hold, as last counted; and the slots' share of it.
  size_t charged_bytes = 0;
  size_t works_bytes = 0;

  bool may_read = true;  // edge-triggered: the socket may hold unread bytes
  bool closing = false;  // socket closed; object lives until `pending` drops to 0
  bool in_flush_list = false;
  bool blocked_on_write = false;
  // A send the I/O backend completes later is in flight: the output runs it points into stay
  // put, and the connection is not freed until it completes (IoBackend::kPending).
  size_t send_in_flight = 0;  // its bytes
  int64_t last_interaction_ms = 0;
  int64_t over_soft_limit_since_ms = 0;  // client-output-buffer-limit's soft clock
  uint64_t query_bytes_total = 0;
};

}  // namespace omnibus
