// Bounded bursts and client buffers (DESIGN §10.6, §10.8): a group's replies are bounded by
// pipeline-pause-output-bytes however many commands it holds, the bytes client connections
// hold are counted, and idle connections give their buffers back.
#include <algorithm>
#include <vector>

#include "omnibus/base/clock.h"
#include "omnibus/net/reactor.h"
#include "omnibus/store/memory_release.h"

namespace omnibus {
namespace {

// A connection idle this long gives back its buffers (Redis's clientsCron resizes a query
// buffer idle for more than 2 seconds).
constexpr int64_t kIdleReleaseMs = 2000;
// The idle-buffer pass runs this often; it visits every connection, so not every timer tick.
constexpr int64_t kIdleReleaseEveryMs = 1000;

size_t SlotBytes(const Work* w) {
  return sizeof(Work) + w->reply.capacity() + w->storage.capacity() +
         w->args.capacity() * sizeof(std::string_view);
}

}  // namespace

void Reactor::BudgetGroup(Connection* c) {
  // A group can be cut only if everything after its cut may still run later: plain keyed
  // commands (each shard serves the connection's commands in order, so what a shard defers
  // is the tail of its part) and commands answered here at dispatch (they touch no key).
  // A fan-out, a transaction, a script or a barrier runs as a whole with the group, and so
  // does a tracking client's group (its reads are remembered as of their dispatch).
  c->budgeted = false;
  if (c->group < 2 || !c->tasks.empty() || c->barrier != nullptr || c->close_after_group ||
      c->session.close_after_reply || c->session.tracking.on) {
    return;
  }
  bool first = true;
  for (size_t i = 0; i < c->group; ++i) {
    Work* w = c->works[i].get();
    if (!w->staged) continue;
    // The group's first slot on a shard always runs: every dispatch makes progress.
    if (first) {
      first = false;
      continue;
    }
    w->reply_budget = &c->reply_budget;
    c->budgeted = true;
  }
  // Staged works are still in this iteration's batches: no shard reads the budget yet.
  c->reply_budget.store(options_->pipeline_pause_output_bytes, std::memory_order_relaxed);
}

size_t Reactor::FirstDeferred(const Connection* c) const {
  for (size_t i = 0; i < c->group; ++i) {
    if (c->works[i]->deferred) return i;
  }
  return c->group;
}

void Reactor::ResumeGroup(Connection* c) {
  c->continued = false;
  c->pending = 1;  // holds the group open while staging, as DispatchGroup does
  c->reply_budget.store(options_->pipeline_pause_output_bytes, std::memory_order_relaxed);
  current_origin_ = c->session.id;
  bool first = true;
  for (size_t i = 0; i < c->group; ++i) {
    Work* w = c->works[i].get();
    if (!w->deferred) continue;  // answered in an earlier part of the group
    w->deferred = false;
    w->reply_budget = first ? nullptr : &c->reply_budget;
    first = false;
    w->dispatch_seq = 0;  // a new place in the sequencer's order
    w->follows_own = false;
    ++c->pending;
    const CommandSpec& spec = table_->all()[w->command_id];
    StageOnShard(c, w, spec, w->shard_of);
  }
  --c->pending;
}

void Reactor::ChargeWork(Connection* c, Work* w) {
  size_t now = SlotBytes(w);
  c->works_bytes += now;
  c->works_bytes -= w->charged_bytes;
  w->charged_bytes = now;
}

void Reactor::Recharge(Connection* c) {
  size_t now = c->in.capacity() + c->out.memory() + c->works_bytes;
  client_buffer_bytes_ += now;
  client_buffer_bytes_ -= c->charged_bytes;
  c->charged_bytes = now;
}

void Reactor::ReleaseIdleBuffers(int64_t now_ms) {
  if (now_ms < next_idle_release_ms_) return;
  next_idle_release_ms_ = now_ms + kIdleReleaseEveryMs;
  std::vector<Connection*> idle;
  for (auto& [c, owned] : conns_) {
    if (c->closing || c->pending > 0 || c->continued || c->group > 0 || c->in.size() > 0 ||
        !c->out.empty() || now_ms - c->last_interaction_ms < kIdleReleaseMs) {
      continue;
    }
    if (c->in.capacity() == 0 && c->works.empty() && c->charged_bytes == 0 &&
        c->parser_ptr == nullptr) {
      continue;
    }
    idle.push_back(c);
  }
  if (idle.empty()) {
    // Input buffers and output runs freed since the last pass, once mimalloc's purge delay
    // let them go (shards collect what they allocated, replies included, when idle).
    ReleaseFreeMemory(false);
    return;
  }
  DecommitNow decommit;  // what this pass frees goes back to the OS at once
  io_->ReleaseIdleMemory();
  for (Connection* c : idle) {
    c->in.Release();
    c->out.Release();
    if (c->parser_ptr != nullptr && !c->parser_ptr->mid_command()) c->parser_ptr.reset();
    c->read_size = 16 * 1024;
    c->works.clear();
    c->works.shrink_to_fit();
    c->works_bytes = 0;
    Recharge(c);
  }
  ReleaseFreeMemory(true);
}

}  // namespace omnibus
