#include "omnibus/store/lease_table.h"

#include <algorithm>

namespace omnibus {

namespace {

// 53 bits: a token survives being a Lua number (a script) or a JavaScript one (node-redis).
constexpr uint64_t kTokenMask = (uint64_t{1} << 53) - 1;

}  // namespace

LeaseTable::LeaseTable(uint64_t seed) : next_token_(seed & kTokenMask) {
  if (next_token_ == 0) next_token_ = 1;
}

bool LeaseTable::Trim(Entry& e, int64_t now_ms) {
  if (e.token != 0 && !e.LeaseLive(now_ms)) e.token = 0;
  if (e.has_stale && !e.StaleLive(now_ms)) {
    e.has_stale = false;
    CountedString().swap(e.stale);  // give the bytes back now
  }
  // Clients waiting on an expired lease need no wake-up: they re-ask when its time is up.
  return e.token != 0 || e.has_stale;
}

void LeaseTable::Schedule(std::string_view key, const Entry& e) {
  due_.emplace(e.DeadAt(), CountedString(key));
}

LeaseTable::Acquired LeaseTable::Acquire(std::string_view key, int64_t lease_ms, int64_t now_ms) {
  auto it = entries_.find(key);
  if (it == entries_.end()) it = entries_.emplace(CountedString(key), Entry{}).first;
  Entry& e = it->second;
  Trim(e, now_ms);
  Acquired a;
  if (e.has_stale) a.stale = std::string_view(e.stale);
  if (e.token != 0) {
    a.remaining_ms = e.lease_until_ms - now_ms;
    return a;
  }
  a.won = true;
  a.token = next_token_;
  next_token_ = (next_token_ + 1) & kTokenMask;
  if (next_token_ == 0) next_token_ = 1;
  a.remaining_ms = lease_ms;
  e.token = a.token;
  // Saturates instead of overflowing: a lease that never ends in practice.
  e.lease_until_ms = lease_ms > INT64_MAX - now_ms ? INT64_MAX : now_ms + lease_ms;
  Schedule(key, e);
  return a;
}

void LeaseTable::AddWaiter(std::string_view key) {
  auto it = entries_.find(key);
  if (it != entries_.end()) it->second.waiters = true;
}

bool LeaseTable::IsLive(std::string_view key, uint64_t token, int64_t now_ms) {
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.token == token && it->second.LeaseLive(now_ms);
}

bool LeaseTable::Release(std::string_view key, uint64_t token, int64_t now_ms, bool* wake) {
  *wake = false;
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  Entry& e = it->second;
  bool live = e.token == token && e.LeaseLive(now_ms);
  if (live) {
    e.token = 0;
    *wake = std::exchange(e.waiters, false);
  }
  if (!Trim(e, now_ms)) entries_.erase(it);
  return live;
}

bool LeaseTable::Invalidate(std::string_view key, std::optional<std::string_view> value,
                            int64_t stale_ms, int64_t now_ms) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (!value || stale_ms <= 0) return false;
    it = entries_.emplace(CountedString(key), Entry{}).first;
  }
  Entry& e = it->second;
  e.token = 0;  // whatever the holder computes may predate the change: its SET must fail
  if (value && stale_ms > 0) {
    e.has_stale = true;
    e.stale.assign(value->data(), value->size());
    e.stale_until_ms = stale_ms > INT64_MAX - now_ms ? INT64_MAX : now_ms + stale_ms;
    Schedule(key, e);
  }
  bool wake = std::exchange(e.waiters, false);
  if (!Trim(e, now_ms)) entries_.erase(it);
  return wake;
}

bool LeaseTable::Forget(std::string_view key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  bool wake = it->second.waiters;
  entries_.erase(it);
  return wake;
}

void LeaseTable::Clear(const std::function<void(std::string_view key)>& wake) {
  for (const auto& [key, e] : entries_) {
    if (e.waiters) wake(key);
  }
  Map().swap(entries_);
  DueQueue().swap(due_);
}

size_t LeaseTable::Sweep(int64_t now_ms, size_t max) {
  size_t dropped = 0;
  for (size_t i = 0; i < max && !due_.empty() && due_.top().first <= now_ms; ++i) {
    auto it = entries_.find(std::string_view(due_.top().second));
    due_.pop();
    if (it == entries_.end()) continue;
    if (!Trim(it->second, now_ms)) {
      entries_.erase(it);
      ++dropped;
    }
  }
  if (entries_.empty() && !due_.empty()) DueQueue().swap(due_);
  return dropped;
}

size_t LeaseTable::live_leases(int64_t now_ms) const {
  return static_cast<size_t>(std::count_if(entries_.begin(), entries_.end(), [&](const auto& kv) {
    return kv.second.LeaseLive(now_ms);
  }));
}

}  // namespace omnibus
