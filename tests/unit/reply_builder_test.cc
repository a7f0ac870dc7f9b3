// ReplyBuilder: the bytes of every reply type in RESP2 and RESP3, as Redis 7.0 writes them.

#include "omnibus/resp/reply_builder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace omnibus {
namespace {

using namespace std::string_literals;

// Runs `fn` on a builder for the given protocol version and returns what it wrote.
template <typename F>
std::string Build(int resp, F fn) {
  std::string out;
  ReplyBuilder rb(&out, resp);
  fn(rb);
  return out;
}

template <typename F>
void ExpectBoth(F fn, const std::string& resp2, const std::string& resp3) {
  EXPECT_EQ(Build(2, fn), resp2);
  EXPECT_EQ(Build(3, fn), resp3);
}

TEST(ReplyBuilderTest, ProtocolVersion) {
  std::string out;
  EXPECT_FALSE(ReplyBuilder(&out, 2).resp3());
  EXPECT_TRUE(ReplyBuilder(&out, 3).resp3());
  EXPECT_FALSE(ReplyBuilder(&out, 0).resp3());
  ReplyBuilder rb(&out, 2);
  EXPECT_EQ(rb.out(), &out);
}

TEST(ReplyBuilderTest, SimpleStringAndOk) {
  ExpectBoth([](ReplyBuilder& rb) { rb.SimpleString("PONG"); }, "+PONG\r\n", "+PONG\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Ok(); }, "+OK\r\n", "+OK\r\n");
}

TEST(ReplyBuilderTest, Error) {
  ExpectBoth([](ReplyBuilder& rb) { rb.Error("ERR syntax error"); }, "-ERR syntax error\r\n",
             "-ERR syntax error\r\n");
  // An error line cannot carry CR or LF: Redis turns them into spaces.
  ExpectBoth([](ReplyBuilder& rb) { rb.Error("ERR bad\r\nthing\nhere\r"); },
             "-ERR bad  thing here \r\n", "-ERR bad  thing here \r\n");
}

TEST(ReplyBuilderTest, ErrorSanitizesOnlyItsOwnBytes) {
  // Earlier replies in the same buffer keep their CRLFs.
  std::string out;
  ReplyBuilder rb(&out, 2);
  rb.Ok();
  rb.Error("ERR a\nb");
  rb.Integer(1);
  EXPECT_EQ(out, "+OK\r\n-ERR a b\r\n:1\r\n");
}

TEST(ReplyBuilderTest, Integer) {
  ExpectBoth([](ReplyBuilder& rb) { rb.Integer(0); }, ":0\r\n", ":0\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Integer(-42); }, ":-42\r\n", ":-42\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Integer(std::numeric_limits<int64_t>::max()); },
             ":9223372036854775807\r\n", ":9223372036854775807\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Integer(std::numeric_limits<int64_t>::min()); },
             ":-9223372036854775808\r\n", ":-9223372036854775808\r\n");
}

TEST(ReplyBuilderTest, Bulk) {
  ExpectBoth([](ReplyBuilder& rb) { rb.Bulk("hello"); }, "$5\r\nhello\r\n", "$5\r\nhello\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Bulk(""); }, "$0\r\n\r\n", "$0\r\n\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Bulk("a\0\r\nb"s); }, "$5\r\na\0\r\nb\r\n"s,
             "$5\r\na\0\r\nb\r\n"s);
}

TEST(ReplyBuilderTest, Nulls) {
  ExpectBoth([](ReplyBuilder& rb) { rb.Null(); }, "$-1\r\n", "_\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.NullArray(); }, "*-1\r\n", "_\r\n");
}

TEST(ReplyBuilderTest, Array) {
  ExpectBoth(
      [](ReplyBuilder& rb) {
        rb.Array(2);
        rb.Bulk("a");
        rb.Integer(1);
      },
      "*2\r\n$1\r\na\r\n:1\r\n", "*2\r\n$1\r\na\r\n:1\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Array(0); }, "*0\r\n", "*0\r\n");
}

TEST(ReplyBuilderTest, MapIsAFlatArrayInResp2) {
  ExpectBoth(
      [](ReplyBuilder& rb) {
        rb.Map(2);
        rb.Bulk("k1");
        rb.Integer(1);
        rb.Bulk("k2");
        rb.Null();
      },
      "*4\r\n$2\r\nk1\r\n:1\r\n$2\r\nk2\r\n$-1\r\n", "%2\r\n$2\r\nk1\r\n:1\r\n$2\r\nk2\r\n_\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Map(0); }, "*0\r\n", "%0\r\n");
}

TEST(ReplyBuilderTest, Set) {
  ExpectBoth(
      [](ReplyBuilder& rb) {
        rb.Set(1);
        rb.Bulk("m");
      },
      "*1\r\n$1\r\nm\r\n", "~1\r\n$1\r\nm\r\n");
}

TEST(ReplyBuilderTest, Double) {
  ExpectBoth([](ReplyBuilder& rb) { rb.Double(1.5); }, "$3\r\n1.5\r\n", ",1.5\r\n");
  // %.17g, exactly like Redis's addReplyDouble.
  ExpectBoth([](ReplyBuilder& rb) { rb.Double(0.1); }, "$19\r\n0.10000000000000001\r\n",
             ",0.10000000000000001\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Double(3.0); }, "$1\r\n3\r\n", ",3\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Double(1e300); }, "$23\r\n1.0000000000000001e+300\r\n",
             ",1.0000000000000001e+300\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Double(-2.5); }, "$4\r\n-2.5\r\n", ",-2.5\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Double(std::numeric_limits<double>::infinity()); },
             "$3\r\ninf\r\n", ",inf\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Double(-std::numeric_limits<double>::infinity()); },
             "$4\r\n-inf\r\n", ",-inf\r\n");
}

TEST(ReplyBuilderTest, FormatDoubleReply) {
  EXPECT_EQ(FormatDoubleReply(0), "0");
  EXPECT_EQ(FormatDoubleReply(10.5), "10.5");
  EXPECT_EQ(FormatDoubleReply(1.0 / 3), "0.33333333333333331");
  EXPECT_EQ(FormatDoubleReply(123456789012345678.0), "1.2345678901234568e+17");
  EXPECT_EQ(FormatDoubleReply(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(FormatDoubleReply(-std::numeric_limits<double>::infinity()), "-inf");
}

TEST(ReplyBuilderTest, Bool) {
  ExpectBoth([](ReplyBuilder& rb) { rb.Bool(true); }, ":1\r\n", "#t\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Bool(false); }, ":0\r\n", "#f\r\n");
}

TEST(ReplyBuilderTest, Verbatim) {
  ExpectBoth([](ReplyBuilder& rb) { rb.Verbatim("txt", "hello\r\nworld"); },
             "$12\r\nhello\r\nworld\r\n", "=16\r\ntxt:hello\r\nworld\r\n");
  ExpectBoth([](ReplyBuilder& rb) { rb.Verbatim("mkd", ""); }, "$0\r\n\r\n", "=4\r\nmkd:\r\n");
}

TEST(ReplyBuilderTest, AppendsToExistingOutput) {
  std::string out = "+EARLIER\r\n";
  ReplyBuilder rb(&out, 3);
  rb.Null();
  rb.Bool(true);
  EXPECT_EQ(out, "+EARLIER\r\n_\r\n#t\r\n");
}

}  // namespace
}  // namespace omnibus

namespace omnibus {
namespace {

// Capture mode records the same calls as a typed value, and Value() writes it back as the
// exact bytes the builder would have produced.
TEST(ReplyBuilderCaptureTest, CapturesNestedRepliesAndReplaysThemByteForByte) {
  for (int resp : {2, 3}) {
    auto build = [](ReplyBuilder& rb) {
      rb.Array(4);
      rb.Integer(-7);
      rb.Map(2);
      rb.Bulk("k");
      rb.Double(1.5);
      rb.Bulk("empty");
      rb.Array(0);
      rb.Null();
      rb.Set(1);
      rb.Ok();
    };
    std::string direct;
    ReplyBuilder d(&direct, resp);
    build(d);
    ReplyValue v;
    ReplyBuilder c(&v, resp);
    build(c);
    ASSERT_EQ(v.kind, ReplyValue::Kind::kArray);
    ASSERT_EQ(v.elements.size(), 4u);
    EXPECT_EQ(v.elements[0].integer, -7);
    EXPECT_EQ(v.elements[1].elements.size(), 4u);
    EXPECT_EQ(v.elements[1].elements[3].elements.size(), 0u);
    EXPECT_EQ(v.elements[3].elements[0].str, "OK");
    std::string replayed;
    ReplyBuilder r(&replayed, resp);
    r.Value(v);
    EXPECT_EQ(replayed, direct) << "RESP" << resp;
    c.Reset();
    c.Error("ERR x");
    EXPECT_TRUE(v.is_error());
  }
}

}  // namespace
}  // namespace omnibus
