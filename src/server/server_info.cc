// The parts of Server that make INFO and CONFIG look as Redis 7.0's to clients and exporters:
// the instantaneous rates, the sections for what Omnibus does not do (persistence, modules,
// cluster), and CONFIG REWRITE.
#include "omnibus/base/clock.h"
#include "omnibus/base/logging.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/server/server.h"

namespace omnibus {

void Server::InstantMetric::Track(uint64_t reading, int64_t now_ms) {
  if (last_ms != 0 && now_ms > last_ms) {
    uint64_t delta = reading >= last_reading ? reading - last_reading : 0;
    samples[next] = static_cast<double>(delta) * 1000.0 / static_cast<double>(now_ms - last_ms);
    next = (next + 1) % kSamples;
  }
  last_ms = now_ms;
  last_reading = reading;
}

double Server::InstantMetric::PerSecond() const {
  double sum = 0;
  for (double s : samples) sum += s;
  return sum / kSamples;
}

void Server::SampleMetrics(void* arg) {
  auto* self = static_cast<Server*>(arg);
  int64_t now = MonotonicMs();
  const ReactorStats& st = self->reactor_->stats();
  self->ops_metric_.Track(st.total_commands_processed, now);
  self->net_input_metric_.Track(st.net_input_bytes, now);
  self->net_output_metric_.Track(st.net_output_bytes, now);
  // used_memory_peak between INFO calls: the shards' published counts and the client buffers.
  self->NoteUsedMemory(self->budget_->Total() +
                       static_cast<int64_t>(self->reactor_->client_buffer_bytes()));
  self->reactor_->timers().Add(now + 100, &Server::SampleMetrics, self);
}

std::string Server::ConfigRewrite() {
  if (config_.config_file.empty()) return "ERR The server is running without a config file";
  std::string err = RewriteConfigFile(config_.config_file, config_);
  if (!err.empty()) {
    OMNIBUS_LOG(kWarning, "CONFIG REWRITE failed: ", err);
    return StrCat("ERR Rewriting config file: ", err);
  }
  OMNIBUS_LOG(kWarning, "CONFIG REWRITE executed with success.");
  return "";
}

bool Server::AppendRedisInfoSection(std::string_view section, const ShardTotals&,
                                    std::string* out) {
  auto line = [out](std::string_view k, const auto& v) { StrAppend(out, k, ":", v, "\r\n"); };
  if (section == "persistence") {
    // Omnibus keeps nothing on disk: nothing is loading or saving, no save has failed, AOF
    // is off. rdb_last_save_time is the start, as on a Redis that has not saved yet.
    // rdb_changes_since_last_save is left out: Omnibus does not count changes.
    out->append("# Persistence\r\n");
    line("loading", 0);
    line("async_loading", 0);
    line("current_cow_peak", 0);
    line("current_cow_size", 0);
    line("current_cow_size_age", 0);
    line("current_fork_perc", "0.00");
    line("current_save_keys_processed", 0);
    line("current_save_keys_total", 0);
    line("rdb_bgsave_in_progress", 0);
    line("rdb_last_save_time", start_ms_ / 1000);
    line("rdb_last_bgsave_status", "ok");
    line("rdb_last_bgsave_time_sec", -1);
    line("rdb_current_bgsave_time_sec", -1);
    line("rdb_saves", 0);
    line("rdb_last_cow_size", 0);
    line("rdb_last_load_keys_expired", 0);
    line("rdb_last_load_keys_loaded", 0);
    line("aof_enabled", 0);
    line("aof_rewrite_in_progress", 0);
    line("aof_rewrite_scheduled", 0);
    line("aof_last_rewrite_time_sec", -1);
    line("aof_current_rewrite_time_sec", -1);
    line("aof_last_bgrewrite_status", "ok");
    line("aof_rewrites", 0);
    line("aof_rewrites_consecutive_failures", 0);
    line("aof_last_write_status", "ok");
    line("aof_last_cow_size", 0);
    line("module_fork_in_progress", 0);
    line("module_fork_last_cow_size", 0);
    return true;
  }
  if (section == "modules") {
    out->append("# Modules\r\n");  // no modules are loaded (loadmodule is not applied)
    return true;
  }
  if (section == "cluster") {
    out->append("# Cluster\r\n");
    line("cluster_enabled", 0);
    return true;
  }
  return false;
}

}  // namespace omnibus
