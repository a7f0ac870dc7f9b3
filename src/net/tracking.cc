// Client tracking (client-side caching, Redis 6+) on the reactor: CLIENT TRACKING's state,
// the table of keys tracked clients may hold, BCAST prefixes, and invalidation messages
// (RESP3 pushes, or __redis__:invalidate messages to a RESP2 client it redirects to). Keys
// are remembered when a tracked client's read-only command is dispatched; invalidations come
// only from key notices (store/key_notice.h), whatever changed the key.
#include "omnibus/net/tracking.h"

#include <algorithm>

#include "omnibus/base/clock.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/net/reactor.h"

namespace omnibus {
namespace {

// Debian's abseil has its own string_view: heterogeneous lookups take that one.
absl::string_view Key(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool PrefixesOverlap(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  return a.substr(0, n) == b.substr(0, n);
}

void AppendBulk(std::string* out, std::string_view s) {
  StrAppend(out, "$", s.size(), "\r\n", s, "\r\n");
}

// Notices compare with reads on one scale: a change made by the work of dispatch d sits at
// 2d (the read of dispatch d that expired the key lazily saw the change), one after the work
// of dispatch d ran (active expiry) at 2d + 1; a read of dispatch r at 2r.
uint64_t ChangeAt(const KeyNotice& n) { return 2 * n.dispatch + (n.after_dispatch ? 1 : 0); }

}  // namespace

size_t Reactor::tracking_clients() const { return tracking_ ? tracking_->clients.size() : 0; }
size_t Reactor::tracking_total_keys() const { return tracking_ ? tracking_->keys.size() : 0; }
size_t Reactor::tracking_total_items() const { return tracking_ ? tracking_->items : 0; }
size_t Reactor::tracking_total_prefixes() const {
  return tracking_ ? tracking_->prefixes.size() : 0;
}

void Reactor::ClientTracking(Session& s, std::span<const std::string_view> args, ReplyBuilder* rb) {
  auto* c = static_cast<Connection*>(s.connection);
  // Options first (as Redis parses them), then ON/OFF and the checks between them.
  uint64_t redirect = 0;
  Connection* target = nullptr;
  bool bcast = false, optin = false, optout = false, noloop = false;
  std::vector<std::string_view> prefixes;
  for (size_t j = 3; j < args.size(); ++j) {
    const bool more = j + 1 < args.size();
    if (EqualsIgnoreCase(args[j], "redirect") && more) {
      ++j;
      if (redirect != 0)
        return rb->Error("ERR A client can only redirect to a single other client");
      int64_t id;
      if (!ParseInt64(args[j], &id))
        return rb->Error("ERR value is not an integer or out of range");
      for (auto& [other, owned] : conns_) {
        if (!other->closing && static_cast<int64_t>(other->session.id) == id) target = other;
      }
      if (target == nullptr) {
        return rb->Error("ERR The client ID you want redirect to does not exist");
      }
      redirect = static_cast<uint64_t>(id);
    } else if (EqualsIgnoreCase(args[j], "bcast")) {
      bcast = true;
    } else if (EqualsIgnoreCase(args[j], "optin")) {
      optin = true;
    } else if (EqualsIgnoreCase(args[j], "optout")) {
      optout = true;
    } else if (EqualsIgnoreCase(args[j], "noloop")) {
      noloop = true;
    } else if (EqualsIgnoreCase(args[j], "prefix") && more) {
      prefixes.push_back(args[++j]);
    } else {
      return rb->Error("ERR syntax error");
    }
  }
  Session::Tracking& t = s.tracking;
  if (EqualsIgnoreCase(args[2], "off")) {
    DisableTracking(c);
    return rb->Ok();
  }
  if (!EqualsIgnoreCase(args[2], "on")) return rb->Error("ERR syntax error");
  if (!bcast && !prefixes.empty()) {
    return rb->Error("ERR PREFIX option requires BCAST mode to be enabled");
  }
  if (t.on && t.bcast != bcast) {
    return rb->Error(
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and "
        "then re-enabling it with a different mode.");
  }
  if (bcast && (optin || optout)) {
    return rb->Error("ERR OPTIN and OPTOUT are not compatible with BCAST");
  }
  if (optin && optout) return rb->Error("ERR You can't specify both OPTIN mode and OPTOUT mode");
  if ((optin && t.optout) || (optout && t.optin)) {
    return rb->Error(
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and "
        "then re-enabling it with a different mode.");
  }
  if (bcast) {
    for (size_t i = 0; i < prefixes.size(); ++i) {
      for (const std::string& mine : t.prefixes) {
        if (PrefixesOverlap(mine, prefixes[i])) {
          return rb->Error(StrCat("ERR Prefix '", prefixes[i],
                                  "' overlaps with an existing prefix '", mine,
                                  "'. Prefixes for a single client must not overlap."));
        }
      }
      for (size_t j = i + 1; j < prefixes.size(); ++j) {
        if (PrefixesOverlap(prefixes[i], prefixes[j])) {
          return rb->Error(StrCat("ERR Prefix '", prefixes[i],
                                  "' overlaps with another provided prefix '", prefixes[j],
                                  "'. Prefixes for a single client must not overlap."));
        }
      }
    }
  }
  if (tracking_ == nullptr) tracking_ = std::make_unique<TrackingState>();
  TrackingState& ts = *tracking_;
  const bool was_on = t.on;
  t.on = true;
  t.broken_redirect = false;
  t.bcast = bcast;
  t.optin = optin;
  t.optout = optout;
  t.noloop = noloop;
  t.redirect = redirect;
  ts.clients[s.id] = c;
  if (target != nullptr) ts.redirect_targets[redirect] = target;
  if (bcast) {
    if (prefixes.empty()) prefixes.push_back("");
    for (std::string_view p : prefixes) {
      TrackingState::Prefix& prefix = ts.prefixes[std::string(p)];
      if (prefix.clients.emplace(s.id, c).second) {
        t.prefixes.insert(std::upper_bound(t.prefixes.begin(), t.prefixes.end(), p),
                          std::string(p));
      }
    }
  }
  if (!was_on) UpdateNoticeListeners();
  rb->Ok();
}

void Reactor::DisableTracking(Connection* c) {
  Session::Tracking& t = c->session.tracking;
  if (tracking_ == nullptr || !t.on) return;
  for (const std::string& p : t.prefixes) {
    auto it = tracking_->prefixes.find(p);
    if (it == tracking_->prefixes.end()) continue;
    it->second.clients.erase(c->session.id);
    if (it->second.clients.empty()) tracking_->prefixes.erase(it);
  }
  // Its entries in the key table go lazily, as in Redis: an invalidation finds it gone.
  tracking_->clients.erase(c->session.id);
  t = Session::Tracking{};
  UpdateNoticeListeners();
}

void Reactor::TrackingClosed(Connection* c) {
  if (tracking_ == nullptr) return;
  DisableTracking(c);
  tracking_->redirect_targets.erase(c->session.id);
}

void Reactor::TrackCommand(Connection* c, const CommandSpec& spec,
                           std::span<const std::string_view> args, uint64_t read_seq) {
  const Session::Tracking& t = c->session.tracking;
  if (!t.on || t.bcast || tracking_ == nullptr) return;
  // Read-only commands only; not the shard channels of SSUBSCRIBE & co, not EVAL_RO/FCALL_RO
  // themselves (Redis tracks what their scripts read).
  if (!(spec.flags & kCmdReadOnly) || (spec.flags & kCmdPubSub) || spec.route == Route::kTask) {
    return;
  }
  if ((t.optin && !t.caching) || (t.optout && t.caching)) return;
  std::vector<int> key_at;
  KeyPositions(spec, args, &key_at);
  if (key_at.empty()) return;
  const uint64_t at = 2 * read_seq;
  for (int i : key_at) {
    if (i == kAllShardsKey) continue;
    auto& ids = tracking_->keys[Key(args[static_cast<size_t>(i)])];
    auto [it, inserted] = ids.try_emplace(c->session.id, TrackingState::Reads{at, at});
    if (inserted) {
      ++tracking_->items;
    } else {
      it->second.newest = std::max(it->second.newest, at);
    }
  }
  TrackingLimit();
}

void Reactor::TrackScriptRead(const KeyNotice& n) {
  auto c = tracking_->clients.find(n.origin);
  if (c == tracking_->clients.end() || c->second->session.tracking.bcast) return;
  // Read while its script ran: on the notices' scale, the script's own changes to the key
  // (at the same dispatch) do not make this read stale.
  const uint64_t at = ChangeAt(n);
  auto& ids = tracking_->keys[n.key];
  auto [it, inserted] = ids.try_emplace(n.origin, TrackingState::Reads{at, at});
  if (inserted) {
    ++tracking_->items;
  } else {
    it->second.newest = std::max(it->second.newest, at);
  }
  TrackingLimit();
}

void Reactor::TrackingLimit() {
  // tracking-table-max-keys: over it, forget keys (telling their clients, as if the keys had
  // changed) until under it again. Redis picks them by a random walk; any key will do.
  const int64_t max_keys = options_->tracking_table_max_keys;
  if (max_keys <= 0) return;
  while (tracking_->keys.size() > static_cast<size_t>(max_keys)) {
    auto it = tracking_->keys.begin();
    std::string key = it->first;
    std::string payload = "*1\r\n";
    AppendBulk(&payload, key);
    for (auto& [id, reads] : it->second) {
      auto c = tracking_->clients.find(id);
      if (c != tracking_->clients.end() && !c->second->session.tracking.bcast) {
        SendTrackingMessage(c->second, payload);
      }
    }
    tracking_->items -= it->second.size();
    tracking_->keys.erase(it);
  }
}

void Reactor::TrackingInvalidate(const KeyNotice& n) {
  TrackingState& ts = *tracking_;
  if (!ts.prefixes.empty()) {
    for (auto& [prefix, state] : ts.prefixes) {
      if (n.key.compare(0, prefix.size(), prefix) != 0) continue;
      state.changed[n.key] = n.origin;
      ts.broadcast_pending = true;
    }
  }
  auto it = ts.keys.find(n.key);
  if (it == ts.keys.end()) return;
  const uint64_t change_at = ChangeAt(n);
  std::string payload;
  auto& ids = it->second;
  for (auto entry = ids.begin(); entry != ids.end();) {
    TrackingState::Reads& reads = entry->second;
    auto next = std::next(entry);
    if (change_at <= reads.oldest) {  // every read it made came after this change
      entry = next;
      continue;
    }
    auto c = ts.clients.find(entry->first);
    Connection* client = c != ts.clients.end() ? c->second : nullptr;
    if (client != nullptr && !client->session.tracking.bcast &&
        !(client->session.tracking.noloop && n.origin == entry->first)) {
      if (payload.empty()) {
        payload = "*1\r\n";
        AppendBulk(&payload, n.key);
      }
      SendTrackingMessage(client, payload);  // may close it (output limit): not `c` after this
    }
    if (reads.newest >= change_at && client != nullptr) {
      reads.oldest = reads.newest;  // it read the key again after the change
    } else {
      ids.erase(entry);
      --ts.items;
    }
    entry = next;
  }
  if (ids.empty()) ts.keys.erase(it);
}

void Reactor::TrackingFlush(const KeyNotice& n) {
  TrackingState& ts = *tracking_;
  // Every tracking client is told every key is gone: a null instead of the keys.
  std::vector<Connection*> to;
  for (auto& [id, c] : ts.clients) to.push_back(c);
  std::sort(to.begin(), to.end(),
            [](const Connection* a, const Connection* b) { return a->session.id < b->session.id; });
  for (Connection* c : to) SendTrackingMessage(c, c->session.resp >= 3 ? "_\r\n" : "$-1\r\n");
  // Reads dispatched after the flush stay tracked (their notices may come later).
  const uint64_t change_at = ChangeAt(n);
  for (auto it = ts.keys.begin(); it != ts.keys.end();) {
    auto& ids = it->second;
    for (auto entry = ids.begin(); entry != ids.end();) {
      auto next = std::next(entry);
      if (entry->second.newest > change_at) {
        entry->second.oldest = entry->second.newest;
      } else {
        ids.erase(entry);
        --ts.items;
      }
      entry = next;
    }
    auto next = std::next(it);
    if (ids.empty()) ts.keys.erase(it);
    it = next;
  }
}

void Reactor::TrackingBroadcast() {
  TrackingState& ts = *tracking_;
  ts.broadcast_pending = false;
  // What to send first, then the sends: a delivery may close a client at its output limit,
  // which takes it (and maybe its prefix) out of the table being walked.
  struct Batch {
    std::map<std::string, uint64_t> changed;
    std::vector<std::pair<uint64_t, Connection*>> clients;
  };
  std::vector<Batch> batches;
  for (auto& [prefix, state] : ts.prefixes) {
    if (state.changed.empty()) continue;
    Batch& b = batches.emplace_back();
    b.changed = std::exchange(state.changed, {});
    b.clients.assign(state.clients.begin(), state.clients.end());
  }
  for (const Batch& b : batches) {
    std::string all = StrCat("*", b.changed.size(), "\r\n");
    for (auto& [key, origin] : b.changed) AppendBulk(&all, key);
    for (auto& [id, c] : b.clients) {
      if (c->closing || !c->session.tracking.on) continue;
      if (!c->session.tracking.noloop) {
        SendTrackingMessage(c, all);
        continue;
      }
      // NOLOOP: without the keys this client changed last.
      size_t count = 0;
      std::string mine;
      for (auto& [key, origin] : b.changed) {
        if (origin == id) continue;
        ++count;
        AppendBulk(&mine, key);
      }
      if (count > 0) SendTrackingMessage(c, StrCat("*", count, "\r\n", mine));
    }
  }
}

void Reactor::SendTrackingMessage(Connection* c, std::string_view payload) {
  Session::Tracking& t = c->session.tracking;
  Connection* to = c;
  bool redirected = false;
  const int64_t now_ms = MonotonicMs();
  if (t.redirect != 0) {
    auto it = tracking_->redirect_targets.find(t.redirect);
    if (it == tracking_->redirect_targets.end() || it->second->closing) {
      // Nobody to send it to: the client learns that (RESP3) and shows flag R.
      t.broken_redirect = true;
      if (c->session.resp >= 3) {
        std::string bytes = StrCat(">2\r\n$21\r\ntracking-redir-broken\r\n:", t.redirect, "\r\n");
        PushChunk(c, std::make_shared<const std::string>(std::move(bytes)), now_ms);
      }
      return;
    }
    to = it->second;
    redirected = true;
  }
  std::string bytes;
  if (to->session.resp >= 3) {
    bytes = StrCat(">2\r\n$10\r\ninvalidate\r\n", payload);
  } else if (redirected && to->session.subscribed()) {
    bytes = StrCat("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n", payload);
  } else {
    return;  // RESP2 has no pushes on the connection itself
  }
  PushChunk(to, std::make_shared<const std::string>(std::move(bytes)), now_ms);
}

}  // namespace omnibus
