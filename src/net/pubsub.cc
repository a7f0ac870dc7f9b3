// Pub/sub on the reactor (DESIGN §10.6): subscribers per channel, pattern and shard channel
// live here with the connections. A message is serialized once per protocol (and pattern)
// into a ReplyChunk that every receiver's output queue references, never copied per client.
// Shard channels (SSUBSCRIBE/SPUBLISH) are a namespace of their own, as in a Redis that is not
// a cluster.
#include <algorithm>

#include "omnibus/base/clock.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/net/reactor.h"

namespace omnibus {
namespace {

constexpr std::string_view kSubscribe[3] = {"subscribe", "psubscribe", "ssubscribe"};
constexpr std::string_view kUnsubscribe[3] = {"unsubscribe", "punsubscribe", "sunsubscribe"};

size_t Index(PubSubKind kind) { return static_cast<size_t>(kind); }

// Debian's abseil has its own string_view: heterogeneous lookups take that one.
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// The count a (un)subscribe confirmation carries: channels and patterns together, shard
// channels on their own (as Redis 7.0).
int64_t Count(const Session& s, PubSubKind kind) {
  if (kind == PubSubKind::kShard) return s.sub_shard_channels;
  return static_cast<int64_t>(s.sub_channels) + s.sub_patterns;
}

uint32_t& Counter(Session& s, PubSubKind kind) {
  switch (kind) {
    case PubSubKind::kChannel:
      return s.sub_channels;
    case PubSubKind::kPattern:
      return s.sub_patterns;
    case PubSubKind::kShard:
      break;
  }
  return s.sub_shard_channels;
}

void Confirm(ReplyBuilder* rb, std::string_view what, const std::string_view* name, int64_t count) {
  if (rb == nullptr) return;
  rb->Push(3);
  rb->Bulk(what);
  if (name != nullptr) {
    rb->Bulk(*name);
  } else {
    rb->Null();
  }
  rb->Integer(count);
}

ReplyChunk MessageChunk(int resp, std::string_view type, const std::string* pattern,
                        std::string_view channel, std::string_view message) {
  std::string bytes;
  ReplyBuilder rb(&bytes, resp);
  rb.Push(pattern != nullptr ? 4 : 3);
  rb.Bulk(type);
  if (pattern != nullptr) rb.Bulk(*pattern);
  rb.Bulk(channel);
  rb.Bulk(message);
  return std::make_shared<const std::string>(std::move(bytes));
}

}  // namespace

void Reactor::Subscribe(Session& s, PubSubKind kind, std::span<const std::string_view> names,
                        ReplyBuilder* rb) {
  auto* c = static_cast<Connection*>(s.connection);
  if (c->subs == nullptr) c->subs = std::make_unique<Subscriptions>();
  auto& mine = c->subs->names[Index(kind)];
  for (const std::string_view& name : names) {
    if (mine.emplace(name).second) {
      if (kind == PubSubKind::kPattern) c->subs->pattern_order.emplace_back(name);
      pubsub_[Index(kind)][Key(name)].push_back(c);
      ++Counter(s, kind);
    }
    Confirm(rb, kSubscribe[Index(kind)], &name, Count(s, kind));
  }
}

void Reactor::Unsubscribe(Session& s, PubSubKind kind, std::span<const std::string_view> names,
                          ReplyBuilder* rb) {
  auto* c = static_cast<Connection*>(s.connection);
  auto drop = [&](std::string_view name) {
    auto it = pubsub_[Index(kind)].find(Key(name));
    if (it == pubsub_[Index(kind)].end()) return;
    std::vector<Connection*>& subscribers = it->second;
    auto at = std::find(subscribers.begin(), subscribers.end(), c);
    if (at != subscribers.end()) subscribers.erase(at);
    if (subscribers.empty()) pubsub_[Index(kind)].erase(it);
  };
  if (names.empty()) {
    // Every one of that kind; nothing to leave still gets one confirmation.
    std::vector<std::string> all;
    if (c->subs != nullptr) {
      if (kind == PubSubKind::kPattern) {
        all.swap(c->subs->pattern_order);
      } else {
        all.assign(c->subs->names[Index(kind)].begin(), c->subs->names[Index(kind)].end());
      }
    }
    if (all.empty()) Confirm(rb, kUnsubscribe[Index(kind)], nullptr, Count(s, kind));
    for (const std::string& name : all) {
      c->subs->names[Index(kind)].erase(name);
      drop(name);
      --Counter(s, kind);
      std::string_view view = name;
      Confirm(rb, kUnsubscribe[Index(kind)], &view, Count(s, kind));
    }
    return;
  }
  for (const std::string_view& name : names) {
    if (c->subs != nullptr && c->subs->names[Index(kind)].erase(Key(name)) > 0) {
      if (kind == PubSubKind::kPattern) {
        auto& order = c->subs->pattern_order;
        order.erase(std::find(order.begin(), order.end(), name));
      }
      drop(name);
      --Counter(s, kind);
    }
    Confirm(rb, kUnsubscribe[Index(kind)], &name, Count(s, kind));
  }
}

int64_t Reactor::Publish(PubSubKind kind, std::string_view channel, std::string_view message) {
  const bool shard = kind == PubSubKind::kShard;
  // The receivers first, then the deliveries: a delivery may close a receiver (its output
  // limit), which unsubscribes it from the very lists this walks. Each receiver names its
  // chunk by index: one chunk per protocol (and pattern), made on first use.
  std::vector<ReplyChunk> chunks;
  std::vector<std::pair<Connection*, uint32_t>> to;
  auto add = [&](const std::vector<Connection*>& subscribers, std::string_view type,
                 const std::string* pattern) {
    int32_t made[2] = {-1, -1};
    for (Connection* c : subscribers) {
      int32_t& at = made[c->session.resp >= 3 ? 1 : 0];
      if (at < 0) {
        at = static_cast<int32_t>(chunks.size());
        chunks.push_back(MessageChunk(c->session.resp, type, pattern, channel, message));
      }
      to.emplace_back(c, static_cast<uint32_t>(at));
    }
  };
  auto& by_channel = pubsub_[Index(shard ? PubSubKind::kShard : PubSubKind::kChannel)];
  if (auto it = by_channel.find(Key(channel)); it != by_channel.end()) {
    add(it->second, shard ? "smessage" : "message", nullptr);
  }
  if (!shard) {
    for (auto& [pattern, subscribers] : pubsub_[Index(PubSubKind::kPattern)]) {
      if (GlobMatch(pattern, channel, /*nocase=*/false)) add(subscribers, "pmessage", &pattern);
    }
  }
  // A closed receiver stays allocated until the timer pass; PushChunk skips it.
  const int64_t now_ms = MonotonicMs();
  for (auto& [c, at] : to) PushChunk(c, chunks[at], now_ms);
  return static_cast<int64_t>(to.size());
}

std::vector<std::string> Reactor::PubSubChannels(PubSubKind kind, std::string_view pattern) {
  std::vector<std::string> out;
  for (const auto& [name, subscribers] : pubsub_[Index(kind)]) {
    if (pattern.empty() || GlobMatch(pattern, name, /*nocase=*/false)) out.push_back(name);
  }
  return out;
}

int64_t Reactor::PubSubNumSub(PubSubKind kind, std::string_view channel) {
  auto it = pubsub_[Index(kind)].find(Key(channel));
  return it == pubsub_[Index(kind)].end() ? 0 : static_cast<int64_t>(it->second.size());
}

void Reactor::PushChunk(Connection* c, const ReplyChunk& chunk, int64_t now_ms) {
  if (c->closing || c->session.replies_off) return;  // CLIENT REPLY OFF drops pushes too
  if (c->group > 0) {
    // Replies of the group in flight go first (they were asked for before).
    c->deferred_pushes.push_back(chunk);
    return;
  }
  c->out.AppendChunk(chunk);
  if (OverOutputLimit(c, now_ms)) return;
  if (!c->in_flush_list) {
    c->in_flush_list = true;
    flush_.push_back(c);
  }
}

void Reactor::Monitor(Session& s) {
  auto* c = static_cast<Connection*>(s.connection);
  if (s.monitor) return;
  s.monitor = true;
  monitors_.push_back(c);
  UpdateNoticeListeners();  // commands run by scripts are shown too (kNoticeMonitor)
}

void Reactor::FeedMonitorLine(std::string line) {
  auto chunk = std::make_shared<const std::string>(std::move(line));
  // A copy: a delivery may close a monitor (its output limit), which leaves monitors_.
  std::vector<Connection*> to = monitors_;
  const int64_t now_ms = MonotonicMs();
  for (Connection* m : to) PushChunk(m, chunk, now_ms);
}

void Reactor::FeedMonitors(const Connection* c, const CommandSpec& spec,
                           std::span<const std::string_view> args) {
  if (monitors_.empty() || (spec.flags & kCmdAdmin)) return;
  // EVAL and FCALL are skip_monitor so that Redis's call() does not show them after they ran;
  // Redis shows them before their script's commands instead, as this does (at dispatch).
  if ((spec.flags & kCmdSkipMonitor) && spec.task != ReactorTask::kScript) return;
  // Passwords never reach a monitor: AUTH's arguments, HELLO's two after AUTH.
  size_t redact_from = SIZE_MAX, redact_to = SIZE_MAX;
  if (spec.name == "auth") redact_from = 1;
  if (spec.name == "hello") {
    for (size_t i = 1; i + 2 < args.size(); ++i) {
      if (EqualsIgnoreCase(args[i], "auth")) {
        redact_from = i + 1;
        redact_to = i + 3;
        break;
      }
    }
  }
  std::string line =
      MonitorLine(UnixTimeUs(), c->session.db, c->session.addr, args, redact_from, redact_to);
  FeedMonitorLine(std::move(line));
}

}  // namespace omnibus
