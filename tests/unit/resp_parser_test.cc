// RespParser: streaming multibulk and inline requests, fed the way the reactor feeds it (the
// input always starts at the first unparsed byte; after kNeedMore the same bytes come back
// with more appended), plus every protocol error text Redis 7.0 sends.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "omnibus/resp/parser.h"

namespace omnibus {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using namespace std::string_literals;

// What the parser reported, in order: a command's arguments (copied), an empty request, or
// an error's text.
struct Event {
  enum Kind { kCommand, kEmpty, kError } kind;
  std::vector<std::string> args;
  std::string error;

  bool operator==(const Event& o) const {
    return kind == o.kind && args == o.args && error == o.error;
  }
};

void PrintTo(const Event& e, std::ostream* os) {
  switch (e.kind) {
    case Event::kCommand:
      *os << "Command[";
      for (const std::string& a : e.args) *os << ::testing::PrintToString(a) << ",";
      *os << "]";
      break;
    case Event::kEmpty:
      *os << "Empty";
      break;
    case Event::kError:
      *os << "Error(" << e.error << ")";
      break;
  }
}

Event Cmd(std::vector<std::string> args) { return {Event::kCommand, std::move(args), {}}; }
Event Empty() { return {Event::kEmpty, {}, {}}; }
Event Err(std::string text) { return {Event::kError, {}, std::move(text)}; }

// Plays the reactor: keeps the unparsed bytes, appends what arrives and parses until the
// parser wants more. Stops for good after an error (the connection would be closed).
class Feeder {
 public:
  explicit Feeder(ParserLimits limits = {}) : limits_(limits) {}

  void Feed(std::string_view bytes) {
    if (failed_) return;
    pending_.append(bytes);
    while (true) {
      RespParser::Status st = parser_.Parse(pending_, limits_);
      if (st == RespParser::Status::kNeedMore) {
        // Nothing may be consumed while the parser asks for more.
        EXPECT_EQ(parser_.consumed(), 0u);
        return;
      }
      if (st == RespParser::Status::kError) {
        events_.push_back(Err(parser_.error()));
        failed_ = true;
        return;
      }
      EXPECT_GT(parser_.consumed(), 0u);
      EXPECT_LE(parser_.consumed(), pending_.size());
      if (st == RespParser::Status::kCommand) {
        std::vector<std::string> args;
        for (std::string_view a : parser_.args()) args.emplace_back(a);
        events_.push_back(Cmd(std::move(args)));
      } else {
        events_.push_back(Empty());
      }
      EXPECT_FALSE(parser_.mid_command());
      pending_.erase(0, parser_.consumed());
    }
  }

  const std::vector<Event>& events() const { return events_; }
  const std::string& pending() const { return pending_; }
  RespParser& parser() { return parser_; }

 private:
  ParserLimits limits_;
  RespParser parser_;
  std::string pending_;
  std::vector<Event> events_;
  bool failed_ = false;
};

std::vector<Event> ParseAll(std::string_view input, ParserLimits limits = {}) {
  Feeder f(limits);
  f.Feed(input);
  return f.events();
}

std::string Bulk(std::string_view s) {
  std::string out = "$";
  out.append(std::to_string(s.size())).append("\r\n").append(s).append("\r\n");
  return out;
}

std::string Multibulk(const std::vector<std::string>& args) {
  std::string out = "*";
  out.append(std::to_string(args.size())).append("\r\n");
  for (const std::string& a : args) out += Bulk(a);
  return out;
}

// A pipeline mixing everything the parser must handle, with its expected events.
const std::string& MixedInput() {
  static const std::string* input =
      new std::string(Multibulk({"SET", "key", "va\0\r\n"s}) + "PING\r\n" + "\r\n" + "*0\r\n" +
                      "ECHO \"a b\" 'c d'\r\n" + "\n" + Multibulk({""}) + "*-1\r\n" +
                      Multibulk({"ECHO", "\r\n\r\n$3\r\n*1\r\n"}) + "  get   \"\\x41\\n\"  \n" +
                      Multibulk({"MSET", "k1", "v1", "k2", std::string(300, 'z')}));
  return *input;
}

std::vector<Event> MixedEvents() {
  return {Cmd({"SET", "key", "va\0\r\n"s}),
          Cmd({"PING"}),
          Empty(),
          Empty(),
          Cmd({"ECHO", "a b", "c d"}),
          Empty(),
          Cmd({""}),
          Empty(),
          Cmd({"ECHO", "\r\n\r\n$3\r\n*1\r\n"}),
          Cmd({"get", "A\n"}),
          Cmd({"MSET", "k1", "v1", "k2", std::string(300, 'z')})};
}

TEST(RespParserTest, WholeInputAtOnce) {
  Feeder f;
  f.Feed(MixedInput());
  EXPECT_EQ(f.events(), MixedEvents());
  EXPECT_THAT(f.pending(), IsEmpty());
}

TEST(RespParserTest, EverySplitPoint) {
  const std::string& input = MixedInput();
  for (size_t i = 0; i <= input.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "split at " << i);
    Feeder f;
    f.Feed(std::string_view(input).substr(0, i));
    f.Feed(std::string_view(input).substr(i));
    ASSERT_EQ(f.events(), MixedEvents());
    ASSERT_THAT(f.pending(), IsEmpty());
  }
}

TEST(RespParserTest, EveryPairOfSplitPoints) {
  // Three pieces, so a resume can also happen mid-header after a resume mid-body.
  const std::string input = Multibulk({"SET", "k\r\n", "0123456789"}) + "PING x\r\n";
  for (size_t i = 0; i <= input.size(); ++i) {
    for (size_t j = i; j <= input.size(); ++j) {
      Feeder f;
      f.Feed(std::string_view(input).substr(0, i));
      f.Feed(std::string_view(input).substr(i, j - i));
      f.Feed(std::string_view(input).substr(j));
      ASSERT_EQ(f.events(),
                (std::vector<Event>{Cmd({"SET", "k\r\n", "0123456789"}), Cmd({"PING", "x"})}))
          << "splits at " << i << " and " << j;
    }
  }
}

TEST(RespParserTest, ByteAtATime) {
  const std::string& input = MixedInput();
  Feeder f;
  for (char c : input) f.Feed(std::string_view(&c, 1));
  EXPECT_EQ(f.events(), MixedEvents());
  EXPECT_THAT(f.pending(), IsEmpty());
}

TEST(RespParserTest, ArgsAreViewsIntoTheInput) {
  std::string input = Multibulk({"GET", "key"});
  RespParser p;
  ASSERT_EQ(p.Parse(input, {}), RespParser::Status::kCommand);
  ASSERT_EQ(p.args().size(), 2u);
  EXPECT_EQ(p.args()[1].data(), input.data() + input.find("key"));
  EXPECT_FALSE(p.inline_command());
  EXPECT_EQ(p.consumed(), input.size());
}

TEST(RespParserTest, MidCommandAndBytesWanted) {
  RespParser p;
  std::string input = "*2\r\n$3\r\nGET\r\n$10\r\nabc";
  EXPECT_EQ(p.Parse(input, {}), RespParser::Status::kNeedMore);
  EXPECT_TRUE(p.mid_command());
  EXPECT_EQ(p.bytes_wanted(), 10u + 2u - 3u);  // the rest of the body and its CRLF
  input += "defghij\r";
  EXPECT_EQ(p.Parse(input, {}), RespParser::Status::kNeedMore);
  EXPECT_EQ(p.bytes_wanted(), 1u);
  input += "\n";
  ASSERT_EQ(p.Parse(input, {}), RespParser::Status::kCommand);
  EXPECT_THAT(p.args(), ElementsAre("GET", "abcdefghij"));
  EXPECT_FALSE(p.mid_command());
  EXPECT_EQ(p.consumed(), input.size());
}

TEST(RespParserTest, EmptyInputNeedsMore) {
  RespParser p;
  EXPECT_EQ(p.Parse("", {}), RespParser::Status::kNeedMore);
  EXPECT_EQ(p.Parse("*", {}), RespParser::Status::kNeedMore);
  EXPECT_EQ(p.Parse("*1\r", {}), RespParser::Status::kNeedMore);
  EXPECT_EQ(p.Parse("PING", {}), RespParser::Status::kNeedMore);
  EXPECT_EQ(p.Parse("PING\r", {}), RespParser::Status::kNeedMore);
}

TEST(RespParserTest, EmptyRequests) {
  RespParser p;
  EXPECT_EQ(p.Parse("*0\r\nPING\r\n", {}), RespParser::Status::kEmpty);
  EXPECT_EQ(p.consumed(), 4u);
  EXPECT_EQ(p.Parse("*-1\r\n", {}), RespParser::Status::kEmpty);
  EXPECT_EQ(p.consumed(), 5u);
  // Redis treats any count <= 0 as an empty request.
  EXPECT_EQ(p.Parse("*-5\r\n", {}), RespParser::Status::kEmpty);
  EXPECT_EQ(p.consumed(), 5u);
  EXPECT_EQ(p.Parse("\r\n", {}), RespParser::Status::kEmpty);
  EXPECT_EQ(p.consumed(), 2u);
  EXPECT_EQ(p.Parse("\n", {}), RespParser::Status::kEmpty);
  EXPECT_EQ(p.consumed(), 1u);
  EXPECT_EQ(p.Parse("   \t \r\n", {}), RespParser::Status::kEmpty);
  EXPECT_EQ(p.consumed(), 7u);
}

TEST(RespParserTest, TrailingBytesOfABulkAreNotChecked) {
  // Redis skips the two bytes after a bulk without looking at them (checked against 7.0.15).
  EXPECT_EQ(ParseAll("*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n"),
            (std::vector<Event>{Cmd({"PING"}), Cmd({"PING"})}));
}

TEST(RespParserTest, InlineCommands) {
  EXPECT_EQ(ParseAll("SET k v\r\n"), std::vector<Event>{Cmd({"SET", "k", "v"})});
  EXPECT_EQ(ParseAll("SET k v\n"), std::vector<Event>{Cmd({"SET", "k", "v"})});
  EXPECT_EQ(ParseAll("ECHO \"hello world\"\r\n"), std::vector<Event>{Cmd({"ECHO", "hello world"})});
  EXPECT_EQ(ParseAll("ECHO \"\\x41\\x4\"\r\n"), std::vector<Event>{Cmd({"ECHO", "Ax4"})});
  EXPECT_EQ(ParseAll("ECHO 'it\\'s'\r\n"), std::vector<Event>{Cmd({"ECHO", "it's"})});
  EXPECT_EQ(ParseAll("ECHO \"a\\r\\n\\t\\\"b\"\r\n"),
            std::vector<Event>{Cmd({"ECHO", "a\r\n\t\"b"})});
  EXPECT_EQ(ParseAll("ECHO \"\"\r\n"), std::vector<Event>{Cmd({"ECHO", ""})});

  RespParser p;
  ASSERT_EQ(p.Parse("PING\r\n", {}), RespParser::Status::kCommand);
  EXPECT_TRUE(p.inline_command());
  EXPECT_EQ(p.consumed(), 6u);
}

TEST(RespParserTest, InlineUnbalancedQuotes) {
  const std::string kText = "Protocol error: unbalanced quotes in request";
  EXPECT_EQ(ParseAll("ECHO \"abc\r\n"), std::vector<Event>{Err(kText)});
  EXPECT_EQ(ParseAll("ECHO 'abc\r\n"), std::vector<Event>{Err(kText)});
  EXPECT_EQ(ParseAll("ECHO \"a\"b\r\n"), std::vector<Event>{Err(kText)});
  EXPECT_EQ(ParseAll("ECHO 'a'b\r\n"), std::vector<Event>{Err(kText)});
  // The command before the bad line is still delivered.
  EXPECT_EQ(ParseAll("PING\r\nECHO \"x\r\nPING\r\n"),
            (std::vector<Event>{Cmd({"PING"}), Err(kText)}));
}

TEST(RespParserTest, InvalidMultibulkLength) {
  const std::string kText = "Protocol error: invalid multibulk length";
  EXPECT_EQ(ParseAll("*abc\r\n"), std::vector<Event>{Err(kText)});
  EXPECT_EQ(ParseAll("*3000000000\r\n"), std::vector<Event>{Err(kText)});
  EXPECT_EQ(ParseAll("*+1\r\n"), std::vector<Event>{Err(kText)});
  EXPECT_EQ(ParseAll("*\r\n"), std::vector<Event>{Err(kText)});
  EXPECT_EQ(ParseAll("*01\r\n"), std::vector<Event>{Err(kText)});
  // INT_MAX itself is accepted (and then waits for the bulks).
  Feeder f;
  f.Feed("*2147483647\r\n");
  EXPECT_THAT(f.events(), IsEmpty());
  EXPECT_TRUE(f.parser().mid_command());
}

TEST(RespParserTest, InvalidBulkLength) {
  const std::string kText = "Protocol error: invalid bulk length";
  EXPECT_EQ(ParseAll("*1\r\n$-1\r\n"), std::vector<Event>{Err(kText)});
  EXPECT_EQ(ParseAll("*1\r\n$abc\r\n"), std::vector<Event>{Err(kText)});
  EXPECT_EQ(ParseAll("*1\r\n$ 4\r\nPING\r\n"), std::vector<Event>{Err(kText)});
  EXPECT_EQ(ParseAll("*1\r\n$\r\n"), std::vector<Event>{Err(kText)});

  ParserLimits limits;
  limits.proto_max_bulk_len = 100;
  EXPECT_EQ(ParseAll("*1\r\n$101\r\n", limits), std::vector<Event>{Err(kText)});
  EXPECT_EQ(ParseAll(Multibulk({std::string(100, 'x')}), limits),
            std::vector<Event>{Cmd({std::string(100, 'x')})});
  // The default limit is Redis's 512 MB.
  EXPECT_EQ(ParseAll("*1\r\n$536870913\r\n"), std::vector<Event>{Err(kText)});
  Feeder f;
  f.Feed("*1\r\n$536870912\r\n");
  EXPECT_THAT(f.events(), IsEmpty());
}

TEST(RespParserTest, LengthsAroundTheShortHeaderPath) {
  // Headers of up to 9 digits take a short path; longer ones, zeros and signs the general
  // one: both must agree on what they accept.
  for (int digits = 1; digits <= 10; ++digits) {
    std::string len = "1" + std::string(static_cast<size_t>(digits - 1), '0');
    ParserLimits limits;
    limits.proto_max_bulk_len = 1'000'000'000;
    Feeder f(limits);
    f.Feed("*1\r\n$" + len + "\r\n");
    EXPECT_THAT(f.events(), IsEmpty()) << len;
    EXPECT_TRUE(f.parser().mid_command()) << len;
  }
  EXPECT_EQ(ParseAll("*1\r\n$04\r\nPING\r\n"),
            std::vector<Event>{Err("Protocol error: invalid bulk length")});
  EXPECT_EQ(ParseAll("*1\r\n$0\r\n\r\n"), std::vector<Event>{Cmd({""})});
  EXPECT_EQ(ParseAll("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n"),
            (std::vector<Event>{Empty(), Empty(), Cmd({"PING"})}));
  // A header whose '\r' is not followed by '\n' is read as Redis reads it (the byte after
  // the '\r' is skipped unchecked).
  EXPECT_EQ(ParseAll("*1\rX$4\rXPING\r\n"), std::vector<Event>{Cmd({"PING"})});
  EXPECT_EQ(ParseAll("*999999999\r\n").size(), 0u);
}

TEST(RespParserTest, ExpectedDollar) {
  EXPECT_EQ(ParseAll("*1\r\nx\r\n"),
            std::vector<Event>{Err("Protocol error: expected '$', got 'x'")});
  EXPECT_EQ(ParseAll("*2\r\n$3\r\nGET\r\n:1\r\n"),
            (std::vector<Event>{Err("Protocol error: expected '$', got ':'")}));
}

TEST(RespParserTest, TooBigMultibulkCountString) {
  // Redis errs only once more than PROTO_INLINE_MAX_SIZE bytes wait without a CR. The text
  // is "mbulk", not "mult bulk" (checked against redis-server 7.0.15).
  std::string header = std::string("*").append(64 * 1024 - 1, '1');
  ASSERT_EQ(header.size(), 64u * 1024);
  Feeder f;
  f.Feed(header);
  EXPECT_THAT(f.events(), IsEmpty());
  f.Feed("1");
  EXPECT_EQ(f.events(), std::vector<Event>{Err("Protocol error: too big mbulk count string")});
}

TEST(RespParserTest, TooBigBulkCountString) {
  Feeder f;
  f.Feed(std::string("*1\r\n$").append(64 * 1024 - 1, '1'));
  EXPECT_THAT(f.events(), IsEmpty());
  f.Feed("1");
  EXPECT_EQ(f.events(), std::vector<Event>{Err("Protocol error: too big bulk count string")});
}

TEST(RespParserTest, TooBigInlineRequest) {
  Feeder f;
  f.Feed(std::string(64 * 1024, 'a'));
  EXPECT_THAT(f.events(), IsEmpty());
  f.Feed("a");
  EXPECT_EQ(f.events(), std::vector<Event>{Err("Protocol error: too big inline request")});
}

TEST(RespParserTest, UnauthenticatedLimits) {
  ParserLimits limits;
  limits.unauthenticated = true;
  std::vector<std::string> ten(10, "a");
  std::vector<std::string> eleven(11, "a");
  EXPECT_EQ(ParseAll(Multibulk(ten), limits), std::vector<Event>{Cmd(ten)});
  EXPECT_EQ(ParseAll(Multibulk(eleven), limits),
            std::vector<Event>{Err("Protocol error: unauthenticated multibulk length")});
  EXPECT_EQ(ParseAll(Multibulk(eleven)), std::vector<Event>{Cmd(eleven)});

  std::string ok(16384, 'v');
  std::string big(16385, 'v');
  EXPECT_EQ(ParseAll(Multibulk({"AUTH", ok}), limits), std::vector<Event>{Cmd({"AUTH", ok})});
  EXPECT_EQ(ParseAll(Multibulk({"AUTH", big}), limits),
            std::vector<Event>{Err("Protocol error: unauthenticated bulk length")});
  EXPECT_EQ(ParseAll(Multibulk({"AUTH", big})), std::vector<Event>{Cmd({"AUTH", big})});
}

TEST(RespParserTest, ParserRecoversAfterError) {
  // After an error the connection is closed, but the parser object itself must be reusable.
  RespParser p;
  EXPECT_EQ(p.Parse("*1\r\n$-1\r\n", {}), RespParser::Status::kError);
  EXPECT_FALSE(p.mid_command());
  ASSERT_EQ(p.Parse("*1\r\n$4\r\nPING\r\n", {}), RespParser::Status::kCommand);
  EXPECT_THAT(p.args(), ElementsAre("PING"));
}

TEST(RespParserTest, BinaryDataInBulks) {
  std::string blob;
  for (int i = 0; i < 256; ++i) blob.push_back(static_cast<char>(i));
  blob += "\r\n\0\r\n*1\r\n$1\r\n"s;
  std::string input = Multibulk({"SET", blob, "\0"s}) + Multibulk({"GET", "\r\n"});
  std::vector<Event> want = {Cmd({"SET", blob, "\0"s}), Cmd({"GET", "\r\n"})};
  EXPECT_EQ(ParseAll(input), want);
  Feeder f;
  for (size_t i = 0; i < input.size(); i += 7) f.Feed(std::string_view(input).substr(i, 7));
  EXPECT_EQ(f.events(), want);
}

// Feeds one big bulk in `chunk`-byte reads; returns the seconds it took.
double FeedBigBulk(size_t size, size_t chunk) {
  std::string value(size, 'x');
  for (size_t i = 0; i < size; i += 4099) value[i] = '\r';  // CRs must not confuse a rescan
  std::string input = Multibulk({"SET", "big", value});
  Feeder f;
  auto start = std::chrono::steady_clock::now();
  for (size_t off = 0; off < input.size(); off += chunk) {
    f.Feed(std::string_view(input).substr(off, chunk));
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(f.events().size(), 1u);
  if (!f.events().empty()) {
    EXPECT_EQ(f.events()[0].args.size(), 3u);
    EXPECT_TRUE(f.events()[0].args.size() == 3 && f.events()[0].args[2] == value);
  }
  return secs;
}

TEST(RespParserTest, TenMegabyteBulkIn16KChunks) {
  double secs = FeedBigBulk(10 << 20, 16 << 10);
  RecordProperty("seconds", std::to_string(secs));
  EXPECT_LT(secs, 2.0);
}

TEST(RespParserTest, BigBulkInTinyChunksIsLinear) {
  // 16384 resumes over a 4 MB body: a parser that rescanned from the start on every call
  // would touch ~32 GB here.
  double secs = FeedBigBulk(4 << 20, 256);
  RecordProperty("seconds", std::to_string(secs));
  EXPECT_LT(secs, 2.0);
}

TEST(SplitInlineArgsTest, Basics) {
  std::vector<std::string> out;
  ASSERT_TRUE(SplitInlineArgs("  set  key\tvalue  ", &out));
  EXPECT_THAT(out, ElementsAre("set", "key", "value"));

  out.clear();
  ASSERT_TRUE(SplitInlineArgs("", &out));
  EXPECT_THAT(out, IsEmpty());
  ASSERT_TRUE(SplitInlineArgs(" \t \r\n ", &out));
  EXPECT_THAT(out, IsEmpty());
}

TEST(SplitInlineArgsTest, DoubleQuotes) {
  std::vector<std::string> out;
  ASSERT_TRUE(SplitInlineArgs("\"a b\" \"\" \"\\x41\\x62\\x4\" \"\\x4G\"", &out));
  EXPECT_THAT(out, ElementsAre("a b", "", "Abx4", "x4G"));

  out.clear();
  ASSERT_TRUE(SplitInlineArgs("\"\\n\\r\\t\\b\\a\\\\\\\"\\q\"", &out));
  EXPECT_THAT(out, ElementsAre("\n\r\t\b\a\\\"q"));

  out.clear();
  // A quote in the middle of a word opens a quoted section that joins the word.
  ASSERT_TRUE(SplitInlineArgs("a\"b c\"", &out));
  EXPECT_THAT(out, ElementsAre("ab c"));

  out.clear();
  ASSERT_TRUE(SplitInlineArgs("\"\\xff\\x00\"", &out));
  EXPECT_THAT(out, ElementsAre("\xff\0"s));
}

TEST(SplitInlineArgsTest, SingleQuotes) {
  std::vector<std::string> out;
  ASSERT_TRUE(SplitInlineArgs("'a b' 'it\\'s' '\\n' ''", &out));
  EXPECT_THAT(out, ElementsAre("a b", "it's", "\\n", ""));
}

TEST(SplitInlineArgsTest, Unbalanced) {
  std::vector<std::string> out;
  EXPECT_FALSE(SplitInlineArgs("\"abc", &out));
  EXPECT_FALSE(SplitInlineArgs("'abc", &out));
  EXPECT_FALSE(SplitInlineArgs("\"abc\"def", &out));
  EXPECT_FALSE(SplitInlineArgs("'abc'def", &out));
  EXPECT_FALSE(SplitInlineArgs("\"abc\\\"", &out));
  // A closing quote followed by a space or the end is fine.
  out.clear();
  EXPECT_TRUE(SplitInlineArgs("\"abc\" 'def'", &out));
  EXPECT_THAT(out, ElementsAre("abc", "def"));
}

}  // namespace
}  // namespace omnibus
