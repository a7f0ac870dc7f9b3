// base/strings.h and base/str_cat.h: Redis's number parsing and formatting rules, glob
// matching (checked case by case against KEYS on redis-server 7.0.15), and the small string
// helpers.

#include "omnibus/base/strings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "omnibus/base/str_cat.h"

namespace omnibus {
namespace {

using ::testing::ElementsAre;
using namespace std::string_literals;

TEST(ParseInt64Test, Accepts) {
  struct Case {
    const char* in;
    int64_t want;
  };
  for (const Case& c : {Case{"0", 0}, Case{"1", 1}, Case{"-1", -1}, Case{"123456", 123456},
                        Case{"9223372036854775807", std::numeric_limits<int64_t>::max()},
                        Case{"-9223372036854775808", std::numeric_limits<int64_t>::min()}}) {
    int64_t v = 12345;
    EXPECT_TRUE(ParseInt64(c.in, &v)) << c.in;
    EXPECT_EQ(v, c.want) << c.in;
  }
}

TEST(ParseInt64Test, RejectsLikeString2ll) {
  for (const std::string& s : {""s,
                               "-"s,
                               "-0"s,
                               "+1"s,
                               " 1"s,
                               "1 "s,
                               "01"s,
                               "00"s,
                               "-01"s,
                               "1a"s,
                               "a1"s,
                               "1.0"s,
                               "1e3"s,
                               "0x10"s,
                               "9223372036854775808"s,
                               "-9223372036854775809"s,
                               "99999999999999999999"s,
                               "000000000000000000001"s,
                               "1\0"s,
                               "\0"s
                               "1"s}) {
    int64_t v = 777;
    EXPECT_FALSE(ParseInt64(s, &v)) << ::testing::PrintToString(s);
    EXPECT_EQ(v, 777) << "output written on failure for " << ::testing::PrintToString(s);
  }
}

TEST(ParseInt64Test, RoundTripsNearTheEdges) {
  for (int64_t v : {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min() + 1,
                    int64_t{-1000000007}, int64_t{-10}, int64_t{-9}, int64_t{9}, int64_t{10},
                    std::numeric_limits<int64_t>::max() - 1, std::numeric_limits<int64_t>::max()}) {
    int64_t back = 0;
    ASSERT_TRUE(ParseInt64(Int64ToString(v), &back)) << v;
    EXPECT_EQ(back, v);
  }
}

TEST(ParseUint64Test, Basics) {
  uint64_t v = 0;
  EXPECT_TRUE(ParseUint64("0", &v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(ParseUint64("18446744073709551615", &v));
  EXPECT_EQ(v, std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(ParseUint64("42", &v));
  EXPECT_EQ(v, 42u);
  for (const char* s :
       {"", "18446744073709551616", "99999999999999999999", "-1", "+1", "01", " 1", "1 ", "1x"}) {
    uint64_t w = 5;
    EXPECT_FALSE(ParseUint64(s, &w)) << s;
    EXPECT_EQ(w, 5u) << s;
  }
}

TEST(ParseLongDoubleTest, Accepts) {
  long double v = 0;
  EXPECT_TRUE(ParseLongDouble("1.5", &v));
  EXPECT_EQ(v, 1.5L);
  EXPECT_TRUE(ParseLongDouble("-0.25", &v));
  EXPECT_EQ(v, -0.25L);
  EXPECT_TRUE(ParseLongDouble("5.0e3", &v));
  EXPECT_EQ(v, 5000.0L);
  EXPECT_TRUE(ParseLongDouble("10", &v));
  EXPECT_EQ(v, 10.0L);
  EXPECT_TRUE(ParseLongDouble(".5", &v));
  EXPECT_EQ(v, 0.5L);
  // strtold's forms are allowed, as in Redis's string2ld (INCRBYFLOAT rejects inf later).
  EXPECT_TRUE(ParseLongDouble("inf", &v));
  EXPECT_TRUE(std::isinf(v));
  EXPECT_TRUE(ParseLongDouble("0x10", &v));
  EXPECT_EQ(v, 16.0L);
}

TEST(ParseLongDoubleTest, Rejects) {
  for (const std::string& s : {""s, " 1"s, "1 "s, "\t1"s, "abc"s, "1.5x"s, "nan"s, "-nan"s,
                               "1e99999"s, "1.5\0"s, std::string(6000, '1')}) {
    long double v = 7;
    EXPECT_FALSE(ParseLongDouble(s, &v)) << ::testing::PrintToString(s.substr(0, 20));
    EXPECT_EQ(v, 7.0L);
  }
}

TEST(ParseDoubleTest, Basics) {
  double v = 0;
  EXPECT_TRUE(ParseDouble("2.5", &v));
  EXPECT_EQ(v, 2.5);
  EXPECT_TRUE(ParseDouble("-inf", &v));
  EXPECT_TRUE(std::isinf(v) && v < 0);
  EXPECT_FALSE(ParseDouble("", &v));
  EXPECT_FALSE(ParseDouble(" 1", &v));
  EXPECT_FALSE(ParseDouble("1 ", &v));
  EXPECT_FALSE(ParseDouble("nan", &v));
  EXPECT_FALSE(ParseDouble("1e999", &v));
}

TEST(LongDoubleToHumanTest, RedisHumanForm) {
  long double sum = 10.5L;
  sum += 0.1L;
  EXPECT_EQ(LongDoubleToHuman(sum), "10.6");
  long double parsed = 0;
  ASSERT_TRUE(ParseLongDouble("5.0e3", &parsed));
  EXPECT_EQ(LongDoubleToHuman(parsed), "5000");
  EXPECT_EQ(LongDoubleToHuman(3.0L), "3");
  EXPECT_EQ(LongDoubleToHuman(0.0L), "0");
  EXPECT_EQ(LongDoubleToHuman(-0.0L), "0");
  EXPECT_EQ(LongDoubleToHuman(-1.5L), "-1.5");
  EXPECT_EQ(LongDoubleToHuman(100.0L), "100");
  EXPECT_EQ(LongDoubleToHuman(1e20L), "100000000000000000000");
  EXPECT_EQ(LongDoubleToHuman(0.1L), "0.1");
  long double third = 1.0L / 3;
  EXPECT_EQ(LongDoubleToHuman(third), "0.33333333333333333");
}

struct GlobCase {
  const char* pattern;
  const char* str;
  bool match;
};

// Each row was checked with `SET str 1; KEYS pattern` on redis-server 7.0.15.
constexpr GlobCase kGlobCases[] = {
    {"*", "abc", true},
    {"a*", "abc", true},
    {"a*c", "abc", true},
    {"a*d", "abc", false},
    {"?", "a", true},
    {"?", "", false},
    {"a?c", "abc", true},
    {"??", "a", false},
    {"[abc]", "b", true},
    {"[abc]", "d", false},
    {"[^a]", "b", true},
    {"[^a]", "a", false},
    {"[a-z]", "m", true},
    {"[a-z]", "M", false},
    {"[z-a]", "m", true},
    {"\\*", "*", true},
    {"\\*", "a", false},
    {"a\\?c", "a?c", true},
    {"a\\?c", "abc", false},
    {"[\\]]", "]", true},
    {"[\\]]", "\\", false},
    {"h*llo", "heeeello", true},
    {"h[ae]llo", "hallo", true},
    {"h[ae]llo", "hillo", false},
    {"[abc", "a", true},
    {"[abc", "abc", false},
    {"[abc", "d", false},
    {"a*", "", false},
    {"", "", true},
    {"", "a", false},
    {"**", "", false},
    {"a**", "a", true},
    {"a*b*", "ab", true},
    {"\\", "\\", true},
    {"a\\", "a\\", true},
    {"a\\", "a", false},
    {"[a-]", "-", false},
    {"[a-]", "b", false},
    {"[]", "]", false},
    {"[]a]", "a", false},
    {"[^]", "a", true},
    {"*b", "aab", true},
    {"[-a]", "-", true},
    {"a[", "a[", false},
    {"a[", "a", false},
    {"x*\\", "x\\", true},
    {"[a\\-z]", "-", true},
    {"[a\\-z]", "b", false},
};

TEST(GlobMatchTest, MatchesRedisStringmatch) {
  for (const GlobCase& c : kGlobCases) {
    EXPECT_EQ(GlobMatch(c.pattern, c.str), c.match)
        << "pattern '" << c.pattern << "' string '" << c.str << "'";
  }
}

TEST(GlobMatchTest, NoCase) {
  EXPECT_FALSE(GlobMatch("HeLLo", "hello"));
  EXPECT_TRUE(GlobMatch("HeLLo", "hello", true));
  EXPECT_TRUE(GlobMatch("[a-z]", "M", true));
  EXPECT_TRUE(GlobMatch("[A-Z]", "m", true));
  EXPECT_TRUE(GlobMatch("[xyz]", "Y", true));
  EXPECT_FALSE(GlobMatch("[xyz]", "Y"));
  EXPECT_TRUE(GlobMatch("maxmemory-*", "MAXMEMORY-policy", true));
  EXPECT_FALSE(GlobMatch("[^a]", "A", true));
}

TEST(GlobMatchTest, BinarySafe) {
  EXPECT_TRUE(GlobMatch("a?b"s, "a\0b"s));
  EXPECT_TRUE(GlobMatch("a\0*"s, "a\0xyz"s));
  EXPECT_FALSE(GlobMatch("a\0*"s, "a"s));
}

TEST(GlobMatchTest, PathologicalPatternIsFast) {
  // Redis 7.0.9+ (CVE-2022-36021) stops retrying earlier stars once the rest of the pattern
  // failed to match anywhere, so redis-server 7.0.15 answers KEYS a*a*...a*b against a long
  // run of 'a's in well under a millisecond. Plain backtracking is exponential in the number
  // of stars: this size takes seconds without the cut-off, and a few more stars take hours.
  const std::string str(40, 'a');
  std::string pattern;
  for (int i = 0; i < 10; ++i) pattern += "a*";
  pattern += "b";
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(GlobMatch(pattern, str));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(secs, 1.0);
}

TEST(FormatInt64Test, Extremes) {
  char buf[24];
  EXPECT_EQ(std::string(buf, FormatInt64(0, buf)), "0");
  EXPECT_EQ(std::string(buf, FormatInt64(-1, buf)), "-1");
  EXPECT_EQ(std::string(buf, FormatInt64(std::numeric_limits<int64_t>::max(), buf)),
            "9223372036854775807");
  EXPECT_EQ(std::string(buf, FormatInt64(std::numeric_limits<int64_t>::min(), buf)),
            "-9223372036854775808");
  EXPECT_EQ(std::string(buf, FormatUint64(std::numeric_limits<uint64_t>::max(), buf)),
            "18446744073709551615");
  EXPECT_EQ(std::string(buf, FormatUint64(0, buf)), "0");
  EXPECT_EQ(Int64ToString(-1234567890123), "-1234567890123");
}

TEST(StrCatTest, MixedPieces) {
  std::string s("str");
  std::string_view sv("view");
  EXPECT_EQ(
      StrCat("a", s, sv, 'c', 42, -7, uint64_t{18446744073709551615u}, int16_t{-3}, uint8_t{200}),
      "astrviewc42-718446744073709551615-3200");
  EXPECT_EQ(StrCat(std::numeric_limits<int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(StrCat(), "");
  std::string out = "x=";
  StrAppend(&out, 1, ",", "y=", 2);
  EXPECT_EQ(out, "x=1,y=2");
  EXPECT_EQ(StrCat("a\0b"s), "a\0b"s);
}

TEST(StrCatTest, StrFormat) {
  EXPECT_EQ(StrFormat("%d-%s", 5, "x"), "5-x");
  std::string long_arg(1000, 'q');
  EXPECT_EQ(StrFormat("<%s>", long_arg.c_str()), std::string("<").append(long_arg).append(">"));
}

TEST(SplitStringTest, Basics) {
  EXPECT_THAT(SplitString("a,b,,c", ','), ElementsAre("a", "b", "", "c"));
  EXPECT_THAT(SplitString("a,b,,c", ',', true), ElementsAre("a", "b", "c"));
  EXPECT_THAT(SplitString("", ','), ElementsAre(""));
  EXPECT_THAT(SplitString("", ',', true), ElementsAre());
  EXPECT_THAT(SplitString(",x,", ','), ElementsAre("", "x", ""));
  EXPECT_THAT(SplitString("abc", ','), ElementsAre("abc"));
}

TEST(JoinStringsTest, Basics) {
  EXPECT_EQ(JoinStrings({}, ", "), "");
  EXPECT_EQ(JoinStrings({"a"}, ", "), "a");
  EXPECT_EQ(JoinStrings({"a", "b", "c"}, ", "), "a, b, c");
}

TEST(AsciiTest, CaseHelpers) {
  EXPECT_TRUE(EqualsIgnoreCase("GeT", "get"));
  EXPECT_FALSE(EqualsIgnoreCase("get", "gets"));
  EXPECT_FALSE(EqualsIgnoreCase("get", "set"));
  std::string s = "MiXeD-123";
  AsciiToLower(&s);
  EXPECT_EQ(s, "mixed-123");
}

}  // namespace
}  // namespace omnibus
