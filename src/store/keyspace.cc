#include "omnibus/store/keyspace.h"

#include "omnibus/base/clock.h"
#include "omnibus/store/lease_table.h"

namespace omnibus {

size_t Keyspace::ActiveExpireCycle(int64_t budget_us) {
  int64_t start = MonotonicNs();
  size_t total = 0, sampled = 0;
  bool capped = false;
  for (size_t n = 0; n < dbs_.size() && !capped; ++n) {
    Db* db = dbs_[next_db_].get();
    next_db_ = (next_db_ + 1) % dbs_.size();
    if (db == nullptr) continue;
    // Expired leases and stale values (LEASE.*): a bounded slice per cycle.
    if (LeaseTable* leases = db->leases_if_any()) leases->Sweep(db->now_ms(), 256);
    if (db->volatile_keys() == 0) continue;
    while (true) {
      auto [examined, expired] = db->ActiveExpireSlice(16);
      total += expired;
      sampled += examined;
      // Redis keeps going while more than ~10-25% of sampled keys were stale.
      if (examined == 0 || expired * 4 < examined) break;
      if ((MonotonicNs() - start) / 1000 > budget_us) {
        capped = true;
        break;
      }
    }
    if ((MonotonicNs() - start) / 1000 > budget_us) capped = true;
  }
  // As Redis's activeExpireCycle: a slow-moving average of the stale share per cycle.
  if (sampled > 0) {
    double current = static_cast<double>(total) / static_cast<double>(sampled);
    expire_stats_.stale_perc = current * 0.05 + expire_stats_.stale_perc * 0.95;
  }
  expire_stats_.time_cap_reached_count += capped;
  expire_stats_.cpu_us += (MonotonicNs() - start) / 1000;
  return total;
}

}  // namespace omnibus
