// RESP parser throughput: pipelined SET commands and a large bulk.
#include <benchmark/benchmark.h>

#include <string>

#include "omnibus/resp/parser.h"
#include "omnibus/resp/reply_builder.h"

namespace omnibus {
namespace {

std::string PipelineOfSets(int n, size_t value_size) {
  std::string value(value_size, 'x');
  std::string out;
  for (int i = 0; i < n; ++i) {
    std::string key = "key:" + std::to_string(i);
    out += "*3\r\n$3\r\nSET\r\n$" + std::to_string(key.size()) + "\r\n" + key + "\r\n$" +
           std::to_string(value.size()) + "\r\n" + value + "\r\n";
  }
  return out;
}

void BM_ParsePipeline(benchmark::State& state) {
  std::string input = PipelineOfSets(1000, static_cast<size_t>(state.range(0)));
  RespParser parser;
  ParserLimits limits;
  for (auto _ : state) {
    std::string_view rest = input;
    int commands = 0;
    while (!rest.empty()) {
      auto st = parser.Parse(rest, limits);
      if (st != RespParser::Status::kCommand) break;
      benchmark::DoNotOptimize(parser.args().data());
      rest.remove_prefix(parser.consumed());
      ++commands;
    }
    benchmark::DoNotOptimize(commands);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
}
BENCHMARK(BM_ParsePipeline)->Arg(3)->Arg(1024);

void BM_ParseInline(benchmark::State& state) {
  std::string input;
  for (int i = 0; i < 1000; ++i) input += "SET key:" + std::to_string(i) + " \"some value\"\r\n";
  RespParser parser;
  ParserLimits limits;
  for (auto _ : state) {
    std::string_view rest = input;
    while (!rest.empty() && parser.Parse(rest, limits) == RespParser::Status::kCommand) {
      rest.remove_prefix(parser.consumed());
    }
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_ParseInline);

// A 1 MB bulk arriving in 16 KB reads: resumable parsing must stay linear.
void BM_ParseBigBulkInChunks(benchmark::State& state) {
  std::string input = PipelineOfSets(1, 1 << 20);
  RespParser parser;
  ParserLimits limits;
  for (auto _ : state) {
    for (size_t have = 16 * 1024;; have += 16 * 1024) {
      if (have > input.size()) have = input.size();
      if (parser.Parse(std::string_view(input).substr(0, have), limits) ==
          RespParser::Status::kCommand)
        break;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(input.size()));
}
BENCHMARK(BM_ParseBigBulkInChunks);

void BM_ReplyBulk(benchmark::State& state) {
  std::string out;
  std::string value(static_cast<size_t>(state.range(0)), 'v');
  for (auto _ : state) {
    out.clear();
    ReplyBuilder rb(&out, 2);
    for (int i = 0; i < 100; ++i) rb.Bulk(value);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_ReplyBulk)->Arg(3)->Arg(1024);

}  // namespace
}  // namespace omnibus
