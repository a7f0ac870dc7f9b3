// Keyspace operations on one shard's DB: lookups, inserts, overwrites, expiry, and the
// allocator footprint per key.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "omnibus/store/db.h"
#include "omnibus/store/keyspace.h"

namespace omnibus {
namespace {

std::vector<std::string> Keys(int n) {
  std::vector<std::string> keys;
  keys.reserve(static_cast<size_t>(n));
  char buf[32];
  for (int i = 0; i < n; ++i) {
    snprintf(buf, sizeof(buf), "key:%012d", i);  // 16 bytes, like KEYSPACE.md's target
    keys.emplace_back(buf);
  }
  return keys;
}

void BM_SetNewKeys(benchmark::State& state) {
  auto keys = Keys(static_cast<int>(state.range(0)));
  const std::string value(16, 'v');
  for (auto _ : state) {
    state.PauseTiming();
    int64_t now = 1;
    auto db = std::make_unique<Db>(&now);
    state.ResumeTiming();
    for (const auto& k : keys) db->SetString(k, value);
    state.PauseTiming();
    db.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_SetNewKeys)->Arg(100000);

void BM_GetHit(benchmark::State& state) {
  auto keys = Keys(static_cast<int>(state.range(0)));
  int64_t now = 1;
  Db db(&now);
  for (const auto& k : keys) db.SetString(k, "value-of-16-byte");
  size_t i = 0;
  for (auto _ : state) {
    Db::Entry e = db.Find(keys[i]);
    benchmark::DoNotOptimize(e.link);
    if (++i == keys.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetHit)->Arg(1000)->Arg(1000000);

void BM_Overwrite(benchmark::State& state) {
  auto keys = Keys(100000);
  int64_t now = 1;
  Db db(&now);
  for (const auto& k : keys) db.SetString(k, "value-of-16-byte");
  size_t i = 0;
  for (auto _ : state) {
    db.SetString(keys[i], "other-value-16-b");
    if (++i == keys.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Overwrite);

void BM_ActiveExpireAllDue(benchmark::State& state) {
  auto keys = Keys(100000);
  for (auto _ : state) {
    state.PauseTiming();
    Keyspace ks(1);
    ks.set_now_ms(1000);
    for (const auto& k : keys) ks.db(0).SetString(k, "v", 2000);
    ks.set_now_ms(3000);
    state.ResumeTiming();
    while (ks.db(0).size() > 0) ks.ActiveExpireCycle(1'000'000);
  }
  state.SetItemsProcessed(state.iterations() * 100000);
}
BENCHMARK(BM_ActiveExpireAllDue);

void BM_FootprintPerKey(benchmark::State& state) {
  auto keys = Keys(1000000);
  int64_t now = 1;
  Db db(&now);
  for (const auto& k : keys) db.SetString(k, "value-of-16-byte");
  size_t bytes = 0;
  for (auto _ : state) {
    bytes = 0;
    for (const auto& k : keys) bytes += RecordFootprint(db.Find(k).get());
  }
  state.counters["record_bytes_per_key"] = static_cast<double>(bytes) / keys.size();
  state.counters["table_bytes_per_key"] =
      static_cast<double>(db.table().bucket_bytes()) / keys.size();
}
BENCHMARK(BM_FootprintPerKey)->Iterations(1);

}  // namespace
}  // namespace omnibus
