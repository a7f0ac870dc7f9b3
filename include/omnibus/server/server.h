#pragma once

#include <memory>
#include <string>
#include <vector>

#include "omnibus/commands/command_table.h"
#include "omnibus/net/reactor.h"
#include "omnibus/script/function_engine.h"
#include "omnibus/script/lua_engine.h"
#include "omnibus/script/script_store.h"
#include "omnibus/server/config.h"
#include "omnibus/shard/shard.h"
#include "omnibus/store/container_limits.h"

namespace omnibus {

// Wires the parts together: config, command table, shards and the reactor. Implements the
// ServerApi that reactor-side commands use. Several servers can live in one process (tests).
// Runs on: the thread that calls Run() is the reactor thread.
class Server final : public ServerApi {
 public:
  explicit Server(Config config);
  ~Server() override;

  bool Start(std::string* error);  // binds and starts the shard threads
  void Run();                      // the reactor loop; returns after Stop()/SHUTDOWN
  void Stop();                     // async-signal-safe
  int port() const { return reactor_->port(); }
  int num_shards() const override { return static_cast<int>(shards_.size()); }
  bool OutOfMemory() const override {
    return config_.maxmemory > 0 && config_.maxmemory_policy == "noeviction" &&
           budget_->Total() > config_.maxmemory;
  }

  // ServerApi
  const CommandTable& commands() const override { return table_; }
  std::vector<std::pair<std::string, std::string>> ConfigGet(std::string_view pattern) override;
  std::string ConfigSet(std::span<const std::string_view> name_value_pairs) override;
  std::string ConfigRewrite() override;
  void ResetStats() override;
  bool RequirePassMatches(std::string_view user, std::string_view pass) const override;
  bool RequiresAuth() const override { return !config_.net.requirepass.empty(); }
  std::string ClientListLine(const Session& s) override { return reactor_->ClientListLine(s); }
  std::string ClientList(std::string_view type, std::span<const uint64_t> ids) override {
    return reactor_->ClientList(type, ids);
  }
  int KillClients(std::string_view addr, std::string_view laddr, uint64_t id, bool skipme,
                  const Session& self) override {
    return reactor_->KillClients(addr, laddr, id, skipme, self);
  }
  bool AppendInfoSection(std::string_view section, const ShardTotals& totals,
                         std::string* out) override;
  void RequestShutdown() override { Stop(); }
  void Unwatch(Session& s) override { reactor_->Unwatch(s); }
  std::string KillScripts(bool function) override { return reactor_->KillScripts(function); }
  void ReplyFunctionStats(ReplyBuilder* rb) override;
  void Subscribe(Session& s, PubSubKind kind, std::span<const std::string_view> names,
                 ReplyBuilder* rb) override {
    reactor_->Subscribe(s, kind, names, rb);
  }
  void Unsubscribe(Session& s, PubSubKind kind, std::span<const std::string_view> names,
                   ReplyBuilder* rb) override {
    reactor_->Unsubscribe(s, kind, names, rb);
  }
  int64_t Publish(PubSubKind kind, std::string_view channel, std::string_view message) override {
    return reactor_->Publish(kind, channel, message);
  }
  std::vector<std::string> PubSubChannels(PubSubKind kind, std::string_view pattern) override {
    return reactor_->PubSubChannels(kind, pattern);
  }
  int64_t PubSubNumSub(PubSubKind kind, std::string_view channel) override {
    return reactor_->PubSubNumSub(kind, channel);
  }
  int64_t PubSubNumPat() override { return reactor_->PubSubNumPat(); }
  void Monitor(Session& s) override { reactor_->Monitor(s); }
  LatencyMonitor& latency() override { return reactor_->latency(); }
  void ClientTracking(Session& s, std::span<const std::string_view> args,
                      ReplyBuilder* rb) override {
    reactor_->ClientTracking(s, args, rb);
  }
  bool UnblockClient(uint64_t id, bool with_error) override {
    return reactor_->UnblockClient(id, with_error);
  }
  size_t blocked_clients() const override { return reactor_->blocked_clients(); }
  MemoryFigures Memory(int64_t store_bytes) override;

  // used_memory_peak: the largest used_memory seen by INFO, MEMORY or a shard's published
  // count. NoteUsedMemory may be called from any thread.
  void NoteUsedMemory(int64_t used);
  int64_t used_memory_peak() const { return used_memory_peak_.load(std::memory_order_relaxed); }

 private:
  struct ReactorNotifier final : Notifier {
    Reactor* target = nullptr;
    void Notify() override { target->Notify(); }
  };

  Config config_;
  // The container-encoding settings as shards read them (copied from config_ on CONFIG SET).
  ContainerLimits limits_;
  QueuePolicyOptions queue_policy_;  // the shards read it live (CONFIG SET)
  EvictionSettings eviction_;        // likewise
  std::unique_ptr<MemoryBudget> budget_;
  void PublishLimits();
  // Who listens for key notices (store/key_notice.h): set by the reactor, read by shards.
  NoticeListeners listeners_;
  CommandTable table_;
  ReactorNotifier notifier_;
  // The script interpreter, used by the shard thread that runs a script (DESIGN §6: a script
  // parks every shard). Destroyed after the shards (declared before them).
  // One interpreter per shard (never shared between threads) over one shared script cache.
  ScriptStore script_store_;
  std::vector<std::unique_ptr<LuaEngine>> scripts_;
  std::vector<std::unique_ptr<FunctionEngine>> functions_;  // one per shard
  std::vector<std::unique_ptr<Shard>> shards_;
  std::unique_ptr<Reactor> reactor_;
  std::atomic<int64_t> used_memory_peak_{0};
  int64_t start_ms_;
  std::string run_id_;
  std::string master_replid_;  // INFO replication: a replication id, as every Redis master has

  // Redis's trackInstantaneousMetric: a reading every 100 ms (a reactor timer), the rate
  // over the last 16 samples (INFO instantaneous_ops_per_sec, instantaneous_*_kbps).
  struct InstantMetric {
    static constexpr int kSamples = 16;
    int64_t last_ms = 0;
    uint64_t last_reading = 0;
    double samples[kSamples] = {};
    int next = 0;
    void Track(uint64_t reading, int64_t now_ms);
    double PerSecond() const;
  };
  InstantMetric ops_metric_, net_input_metric_, net_output_metric_;
  static void SampleMetrics(void* self);
  // AppendInfoSection's Redis sections beyond those it had (server_info.cc).
  // INFO memory: Redis 7.0's fields over the counted memory.
  void AppendMemorySection(const ShardTotals& totals, std::string* out);
  bool AppendRedisInfoSection(std::string_view section, const ShardTotals& totals,
                              std::string* out);
};

}  // namespace omnibus
