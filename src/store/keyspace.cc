#include "omnibus/store/keyspace.h"

#include "omnibus/base/clock.h"
#include "omnibus/store/lease_table.h"

namespace omnibus {

size_t Keyspace::ActiveExpireCycle(int64_t budget_us) {
  int64_t start = MonotonicNs();
  size_t total = 0;
  for (size_t n = 0; n < dbs_.size(); ++n) {
    Db* db = dbs_[next_db_].get();
    next_db_ = (next_db_ + 1) % dbs_.size();
    if (db == nullptr) continue;
    // Expired leases and stale values (LEASE.*): a bounded slice per cycle.
    if (LeaseTable* leases = db->leases_if_any()) leases->Sweep(db->now_ms(), 256);
    if (db->volatile_keys() == 0) continue;
    while (true) {
      auto [examined, expired] = db->ActiveExpireSlice(16);
      total += expired;
      // Redis keeps going while more than ~10-25% of sampled keys were stale.
      if (examined == 0 || expired * 4 < examined) break;
      if ((MonotonicNs() - start) / 1000 > budget_us) return total;
    }
    if ((MonotonicNs() - start) / 1000 > budget_us) break;
  }
  return total;
}

}  // namespace omnibus
