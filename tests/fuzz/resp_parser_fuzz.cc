// libFuzzer target for RespParser. The input is a client's byte stream. It is parsed three
// ways, the way the reactor may see it arrive: all at once; in two reads split at a position
// taken from the first byte (the parser is given the first read, then, after kNeedMore, the
// same bytes plus the rest, as Parse()'s contract says); and, for short inputs, one byte per
// read. All three must report the same sequence of commands, empty requests and errors, under
// each of the limits whose checks depend only on header contents (so not on read boundaries).
// A last pass with a tiny inline limit, whose verdict legitimately depends on read
// boundaries, only checks the parser's invariants.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "omnibus/resp/parser.h"

namespace omnibus {
namespace {

// One thing the parser reported, with the arguments copied out of the input.
struct Event {
  RespParser::Status status;
  std::vector<std::string> args;
  std::string error;

  bool operator==(const Event& o) const {
    return status == o.status && args == o.args && error == o.error;
  }
};

[[noreturn]] void Fail(const char* what, std::string_view input) {
  fprintf(stderr, "resp_parser_fuzz: %s (input of %zu bytes)\n", what, input.size());
  __builtin_trap();
}

// Checks what Parse() promised about the call that just returned `st` for `input`.
void CheckInvariants(const RespParser& parser, RespParser::Status st, std::string_view input) {
  switch (st) {
    case RespParser::Status::kNeedMore:
      if (parser.consumed() != 0) Fail("consumed bytes while asking for more", input);
      break;
    case RespParser::Status::kEmpty:
      if (parser.consumed() == 0 || parser.consumed() > input.size())
        Fail("empty request consumed nothing or more than the input", input);
      if (!parser.args().empty()) Fail("empty request with arguments", input);
      break;
    case RespParser::Status::kError:
      if (parser.error().rfind("Protocol error: ", 0) != 0)
        Fail("error text without \"Protocol error: \"", input);
      if (parser.mid_command()) Fail("still mid-command after an error", input);
      break;
    case RespParser::Status::kCommand: {
      if (parser.consumed() == 0 || parser.consumed() > input.size())
        Fail("command consumed nothing or more than the input", input);
      if (parser.args().empty()) Fail("command without arguments", input);
      if (parser.mid_command()) Fail("still mid-command after a command", input);
      if (parser.inline_command()) break;  // its args live in the parser's own storage
      const char* begin = input.data();
      const char* end = input.data() + parser.consumed();
      for (std::string_view a : parser.args()) {
        if (a.data() < begin || a.data() + a.size() > end)
          Fail("multibulk argument outside the consumed input", input);
      }
      break;
    }
  }
}

void Record(const RespParser& parser, RespParser::Status st, std::vector<Event>* events) {
  Event e{st, {}, {}};
  for (std::string_view a : parser.args()) e.args.emplace_back(a);
  if (st == RespParser::Status::kError) e.error = parser.error();
  events->push_back(std::move(e));
}

// Plays the reactor: `reads` are the sizes of successive reads (their sum is the input's
// size). After each read it parses until the parser asks for more; the bytes given always
// start at the first unparsed byte. Stops at the first error, as the connection would close.
// Ends with one kNeedMore event (or the error) so that a missing last reply is a difference.
std::vector<Event> ParseInReads(std::string_view input, const std::vector<size_t>& reads,
                                const ParserLimits& limits) {
  std::vector<Event> events;
  RespParser parser;
  size_t start = 0;     // first unparsed byte
  size_t received = 0;  // bytes read so far
  for (size_t n : reads) {
    received += n;
    while (true) {
      std::string_view window = input.substr(start, received - start);
      RespParser::Status st = parser.Parse(window, limits);
      CheckInvariants(parser, st, window);
      if (st == RespParser::Status::kNeedMore) break;
      Record(parser, st, &events);
      if (st == RespParser::Status::kError) return events;
      start += parser.consumed();
    }
  }
  events.push_back({RespParser::Status::kNeedMore, {}, {}});
  return events;
}

void CompareOrDie(const std::vector<Event>& a, const std::vector<Event>& b, const char* how,
                  std::string_view input) {
  if (a == b) return;
  fprintf(stderr, "resp_parser_fuzz: whole and %s parses differ: %zu vs %zu events\n", how,
          a.size(), b.size());
  for (size_t i = 0; i < a.size() || i < b.size(); ++i) {
    auto show = [](const std::vector<Event>& v, size_t i) {
      if (i >= v.size()) return std::string("(none)");
      std::string s = "status=" + std::to_string(static_cast<int>(v[i].status)) + " args=[";
      for (const std::string& x : v[i].args) s += std::to_string(x.size()) + "B,";
      return s + "] error=" + v[i].error;
    };
    if (i < a.size() && i < b.size() && a[i] == b[i]) continue;
    fprintf(stderr, "  event %zu: whole: %s\n           %s: %s\n", i, show(a, i).c_str(), how,
            show(b, i).c_str());
    break;
  }
  Fail("parses differ", input);
}

}  // namespace
}  // namespace omnibus

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using omnibus::ParserLimits;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  // Limits whose checks look only at a header's contents, so every way of reading agrees.
  // Inputs are far below the 64 KB inline limit (libFuzzer's -max_len is 4 KB by default).
  std::vector<ParserLimits> limit_sets(4);
  limit_sets[1].unauthenticated = true;
  limit_sets[2].proto_max_bulk_len = 8;
  limit_sets[3].unauthenticated = true;
  limit_sets[3].proto_max_bulk_len = 3;

  size_t split = size == 0 ? 0 : data[0] % (size + 1);
  std::vector<size_t> whole = {size};
  std::vector<size_t> two = {split, size - split};
  std::vector<size_t> bytes(size, 1);
  for (const ParserLimits& limits : limit_sets) {
    std::vector<omnibus::Event> reference = omnibus::ParseInReads(input, whole, limits);
    omnibus::CompareOrDie(reference, omnibus::ParseInReads(input, two, limits), "split", input);
    // One byte per read costs a scan of the pending bytes per byte: keep it to short inputs.
    if (size <= 512) {
      omnibus::CompareOrDie(reference, omnibus::ParseInReads(input, bytes, limits), "byte-by-byte",
                            input);
    }
  }

  // A tiny inline limit: "too big" verdicts depend on how much had arrived, so only the
  // invariants are checked here.
  ParserLimits tiny;
  tiny.inline_max_size = 1 + (size == 0 ? 0 : data[size - 1] % 32);
  omnibus::ParseInReads(input, whole, tiny);
  omnibus::ParseInReads(input, two, tiny);
  return 0;
}
