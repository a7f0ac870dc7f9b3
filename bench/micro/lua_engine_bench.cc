// The script engine's own cost per call (no server): issue 10's rate-limiter script
// (INCR + PEXPIRE + a comparison) with a callback that answers at once, and the bare cost
// of entering a script. What is left of an EVALSHA is the command table's work.

#include <benchmark/benchmark.h>

#include <string>

#include "omnibus/script/lua_engine.h"

namespace omnibus {
namespace {

constexpr char kRateLimiter[] =
    "local n = redis.call('incr', KEYS[1])\n"
    "if n == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end\n"
    "if n > tonumber(ARGV[2]) then return 0 end\n"
    "return 1\n";

void BM_EvalShaRateLimiter(benchmark::State& state) {
  LuaEngine engine;
  std::string sha, error;
  engine.Load(kRateLimiter, &sha, &error);
  int64_t counter = 0;
  std::string_view keys[] = {"rate:user:42"};
  std::string_view args[] = {"1000", "100"};
  ScriptRunArgs run;
  run.keys = keys;
  run.args = args;
  run.call = [&](std::span<const std::string_view> argv, int) {
    ReplyValue v;
    v.kind = ReplyValue::Kind::kInteger;
    v.integer = argv[0] == "incr" ? ++counter % 200 : 1;
    return v;
  };
  std::string out;
  for (auto _ : state) {
    out.clear();
    ReplyBuilder rb(&out, 2);
    engine.Run(sha, true, run, &rb);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_EvalShaRateLimiter);

void BM_EvalShaReturnOne(benchmark::State& state) {
  LuaEngine engine;
  std::string sha, error;
  engine.Load("return 1", &sha, &error);
  ScriptRunArgs run;
  std::string out;
  for (auto _ : state) {
    out.clear();
    ReplyBuilder rb(&out, 2);
    engine.Run(sha, true, run, &rb);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_EvalShaReturnOne);

// Global lookups go through the read-only proxy of the globals (lua_sandbox.cc).
void BM_GlobalLookups(benchmark::State& state) {
  LuaEngine engine;
  std::string sha, error;
  engine.Load("local n = 0 for i = 1, 1000 do n = n + tonumber('1') end return n", &sha, &error);
  ScriptRunArgs run;
  std::string out;
  for (auto _ : state) {
    out.clear();
    ReplyBuilder rb(&out, 2);
    engine.Run(sha, true, run, &rb);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_GlobalLookups);

}  // namespace
}  // namespace omnibus
