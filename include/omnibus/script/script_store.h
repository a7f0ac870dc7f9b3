#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace omnibus {

// The script cache as clients see it (SCRIPT LOAD / EXISTS / FLUSH, EVALSHA): the bodies of
// every script loaded or EVALed, by SHA1, shared by every shard's interpreter. Each
// LuaEngine compiles a body the first time it runs it on its thread (an EVALSHA that reaches
// a shard which never saw the script finds it here), so a script loaded through one shard
// runs on all. FLUSH empties it and moves the generation on; every engine drops its compiled
// scripts when it next runs and sees the generation changed.
//
// Only the bodies are shared, under a mutex, and only on a shard's first run of a script
// (or a SCRIPT command): a warm EVALSHA never touches it except for one relaxed load of the
// generation.
// Runs on: any shard thread.
class ScriptStore {
 public:
  // Adds (or keeps) `body` under `sha` (40 lower-case hex digits).
  void Add(std::string_view sha, std::string_view body) {
    std::lock_guard lock(mu_);
    if (bodies_.try_emplace(std::string(sha), std::string(body)).second) {
      bytes_.fetch_add(sha.size() + body.size(), std::memory_order_relaxed);
    }
  }
  // The body of a script, by lower-case sha.
  std::optional<std::string> Find(std::string_view sha) const {
    std::lock_guard lock(mu_);
    auto it = bodies_.find(std::string(sha));
    if (it == bodies_.end()) return std::nullopt;
    return it->second;
  }
  bool Exists(std::string_view sha) const {
    std::lock_guard lock(mu_);
    return bodies_.contains(std::string(sha));
  }
  void Flush() {
    std::lock_guard lock(mu_);
    bodies_.clear();
    bytes_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  size_t Count() const {
    std::lock_guard lock(mu_);
    return bodies_.size();
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Bytes of the shas and bodies kept (Redis's used_memory_scripts_eval counts its dict's).
  size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  // math.random's generator state (Redis's redisLrand48), one per server as Redis has one:
  // scripts draw from one sequence whichever shard's interpreter runs them. SCRIPT FLUSH
  // leaves it alone, as Redis's. The engines step it with a compare-and-swap.
  std::atomic<uint64_t>& rand_state() { return rand_state_; }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> bodies_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<size_t> bytes_{0};
  std::atomic<uint64_t> rand_state_{0x1234ABCD330EULL};  // Redis's rand.c start state
};

}  // namespace omnibus
