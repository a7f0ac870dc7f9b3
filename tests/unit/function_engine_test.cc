// FunctionEngine on its own: libraries, register_function, FCALL's run, DUMP/RESTORE payloads.
// Expected texts were read from redis-server 7.0.15 first (tests/differential/functions.txt
// compares the same through the server).

#include "omnibus/script/function_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace omnibus {
namespace {

using ::testing::ElementsAre;

constexpr char kLib[] =
    "#!lua name=mylib\n"
    "redis.register_function('echo', function(keys, args) return {keys[1], args[1]} end)\n"
    "redis.register_function{function_name='ro', callback=function() return 'ro' end,"
    " flags={'no-writes', 'allow-oom'}, description='read only'}";

std::string Load(FunctionEngine& e, std::string_view code, bool replace = false) {
  std::string name, error;
  if (!e.Load(code, replace, &name, &error)) return "-" + error;
  return name;
}

// Runs FCALL name with the keys and args; returns the RESP2 bytes.
std::string Call(FunctionEngine& e, std::string_view name, std::vector<std::string_view> keys,
                 std::vector<std::string_view> args, ScriptCallFn call = nullptr) {
  const FunctionEngine::Function* f = e.Find(name);
  if (f == nullptr) return "<not found>";
  ScriptRunArgs run;
  run.keys = keys;
  run.args = args;
  run.call = std::move(call);
  std::string out;
  ReplyBuilder rb(&out, 2);
  e.Call(*f, run, &rb);
  return out;
}

std::vector<std::string> Names(const FunctionEngine& e) {
  std::vector<std::string> out;
  for (const auto* lib : e.Libraries()) {
    for (const auto& f : lib->functions) out.push_back(lib->name + "." + f->name);
  }
  return out;
}

TEST(FunctionEngineTest, LoadRegistersAndCalls) {
  FunctionEngine e;
  EXPECT_EQ(Load(e, kLib), "mylib");
  EXPECT_EQ(e.library_count(), 1u);
  EXPECT_EQ(e.function_count(), 2u);
  EXPECT_THAT(Names(e), ElementsAre("mylib.echo", "mylib.ro"));
  const FunctionEngine::Function* ro = e.Find("RO");  // FCALL's lookup ignores case
  ASSERT_NE(ro, nullptr);
  EXPECT_EQ(ro->flags, kScriptNoWrites | kScriptAllowOom);
  EXPECT_EQ(ro->description, "read only");
  EXPECT_THAT(FunctionEngine::FlagNames(ro->flags), ElementsAre("no-writes", "allow-oom"));
  EXPECT_EQ(Call(e, "echo", {"k"}, {"a"}), "*2\r\n$1\r\nk\r\n$1\r\na\r\n");
  EXPECT_EQ(Call(e, "ro", {}, {}), "$2\r\nro\r\n");
}

TEST(FunctionEngineTest, LoadErrorsLeaveNothingBehind) {
  FunctionEngine e;
  ASSERT_EQ(Load(e, kLib), "mylib");
  EXPECT_EQ(Load(e, "return 1"), "-ERR Missing library metadata");
  EXPECT_EQ(Load(e, "#!lua name=x"), "-ERR Invalid library metadata");
  EXPECT_EQ(Load(e, "#!js name=x\n"), "-ERR Engine 'js' not found");
  EXPECT_EQ(Load(e, "#!lua foo=bar\n"), "-ERR Invalid metadata value given: foo=bar");
  EXPECT_EQ(Load(e, "#!lua\n"), "-ERR Library name was not given");
  EXPECT_EQ(Load(e, "#!lua name=a-b\n"),
            "-ERR Library names can only contain letters, numbers, or underscores(_) and must be "
            "at least one character long");
  EXPECT_EQ(Load(e, "#!lua name=mylib\nredis.register_function('z', function() end)"),
            "-ERR Library 'mylib' already exists");
  EXPECT_EQ(Load(e, "#!lua name=other\nredis.register_function('ECHO', function() end)"),
            "-ERR Function ECHO already exists");
  EXPECT_EQ(Load(e, "#!lua name=empty\nlocal x = 1"), "-ERR No functions registered");
  EXPECT_EQ(Load(e, "#!lua name=bad\nredis.call('ping')"),
            "-ERR Error registering functions: ERR user_function:2: Script attempted to access "
            "nonexistent global variable 'call'");
  EXPECT_EQ(Load(e, "#!lua name=bad\nlocal s = string.len('x')"),
            "-ERR Error registering functions: ERR user_function:2: Script attempted to access "
            "nonexistent global variable 'string'");
  EXPECT_EQ(Load(e, "#!lua name=bad\nredis.register_function('f' function() end)"),
            "-ERR Error compiling function: user_function:2: ')' expected near 'function'");
  EXPECT_EQ(Load(e,
                 "#!lua name=bad\nredis.register_function('g', function() end)\n"
                 "redis.register_function('g', function() end)"),
            "-ERR Error registering functions: ERR Function already exists in the library");
  EXPECT_EQ(Load(e,
                 "#!lua name=bad\nredis.register_function{function_name='f',"
                 " callback=function() end, flags={'nope'}}"),
            "-ERR Error registering functions: ERR unknown flag given");
  // None of the failures left a library or a function.
  EXPECT_EQ(e.library_count(), 1u);
  EXPECT_EQ(e.function_count(), 2u);
  EXPECT_EQ(e.Find("g"), nullptr);
}

TEST(FunctionEngineTest, LoadTimesOut) {
  FunctionEngine e;
  EXPECT_EQ(Load(e, "#!lua name=loop\nwhile true do end"),
            "-ERR Error registering functions: ERR FUNCTION LOAD timeout");
  EXPECT_EQ(e.library_count(), 0u);
}

TEST(FunctionEngineTest, ReplaceKeepsTheOldLibraryOnFailure) {
  FunctionEngine e;
  ASSERT_EQ(Load(e, kLib), "mylib");
  ASSERT_EQ(Load(e, "#!lua name=other\nredis.register_function('other', function() end)"), "other");
  EXPECT_EQ(Load(e, "#!lua name=mylib\nredis.register_function('other', function() end)", true),
            "-ERR Function other already exists");
  EXPECT_EQ(Call(e, "echo", {"k"}, {"a"}), "*2\r\n$1\r\nk\r\n$1\r\na\r\n");
  EXPECT_EQ(
      Load(e, "#!lua name=mylib\nredis.register_function('new', function() return 7 end)", true),
      "mylib");
  EXPECT_EQ(e.Find("echo"), nullptr);
  EXPECT_EQ(Call(e, "new", {}, {}), ":7\r\n");
  EXPECT_EQ(e.function_count(), 2u);
  EXPECT_TRUE(e.Delete("mylib"));
  EXPECT_FALSE(e.Delete("mylib"));
  EXPECT_FALSE(e.Delete("OTHER"));  // library names are case-sensitive
  EXPECT_EQ(e.function_count(), 1u);
  e.Flush();
  EXPECT_EQ(e.library_count(), 0u);
  EXPECT_EQ(e.Find("other"), nullptr);
}

TEST(FunctionEngineTest, FunctionsSeeParametersNotEvalGlobals) {
  FunctionEngine e;
  ASSERT_EQ(Load(e,
                 "#!lua name=g\n"
                 "redis.register_function('keys', function() return KEYS end)\n"
                 "redis.register_function('setg', function() x = 1 end)\n"
                 "redis.register_function('call', function(keys) "
                 "return redis.call('get', keys[1]) end)\n"
                 "redis.register_function('reg', function() "
                 "return type(redis.register_function) end)"),
            "g");
  EXPECT_EQ(Call(e, "keys", {"a"}, {}),
            "-ERR user_function:2: Script attempted to access nonexistent global variable 'KEYS' "
            "script: keys, on @user_function:2.\r\n");
  EXPECT_EQ(Call(e, "setg", {}, {}),
            "-ERR user_function:3: Attempt to modify a readonly table script: setg, on "
            "@user_function:3.\r\n");
  EXPECT_EQ(Call(e, "reg", {}, {}), "$3\r\nnil\r\n");
  std::vector<std::string> seen;
  auto call = [&seen](std::span<const std::string_view> argv, int resp) {
    for (auto a : argv) seen.emplace_back(a);
    ReplyValue v;
    ReplyBuilder(&v, resp).Bulk("value");
    return v;
  };
  EXPECT_EQ(Call(e, "call", {"k1"}, {}, call), "$5\r\nvalue\r\n");
  EXPECT_THAT(seen, ElementsAre("get", "k1"));
  // Without a command callback: EVAL's own error.
  EXPECT_EQ(Call(e, "call", {"k1"}, {}),
            "-ERR Unknown Redis command called from script script: call, on "
            "@user_function:4.\r\n");
}

TEST(FunctionEngineTest, Crc64IsRedis) {
  // Redis's crc64.c test vector.
  EXPECT_EQ(FunctionEngine::Crc64(0, "123456789"), 0xe9c6d914c4b8d9caULL);
}

TEST(FunctionEngineTest, DumpOfNothingIsRedisBytes) {
  FunctionEngine e;
  // redis-server 7.0.15's FUNCTION DUMP with no libraries.
  EXPECT_EQ(e.Dump(), std::string("\x0a\x00\x5d\x9b\x5c\x40\x0f\x7f\xa2\xda", 10));
}

TEST(FunctionEngineTest, DumpRestoreRoundTrip) {
  FunctionEngine a;
  ASSERT_EQ(Load(a, kLib), "mylib");
  // Over 64 bytes of code: a two-byte RDB length.
  std::string big = "#!lua name=big\n";
  for (int i = 0; i < 30; ++i) {
    big += "redis.register_function('big" + std::to_string(i) + "', function() return " +
           std::to_string(i) + " end)\n";
  }
  ASSERT_EQ(Load(a, big), "big");
  std::string payload = a.Dump();

  FunctionEngine b;
  std::string error;
  ASSERT_TRUE(b.Restore(payload, FunctionEngine::RestorePolicy::kAppend, &error)) << error;
  EXPECT_EQ(b.library_count(), 2u);
  EXPECT_EQ(b.function_count(), 32u);
  EXPECT_EQ(Call(b, "big29", {}, {}), ":29\r\n");
  EXPECT_EQ(b.Dump(), payload);
  // APPEND collides; REPLACE does not; FLUSH first drops what is there.
  EXPECT_FALSE(b.Restore(payload, FunctionEngine::RestorePolicy::kAppend, &error));
  EXPECT_EQ(error, "ERR Library big already exists");
  EXPECT_TRUE(b.Restore(payload, FunctionEngine::RestorePolicy::kReplace, &error)) << error;
  ASSERT_EQ(Load(b, "#!lua name=extra\nredis.register_function('extra', function() end)"), "extra");
  EXPECT_TRUE(b.Restore(payload, FunctionEngine::RestorePolicy::kFlush, &error)) << error;
  EXPECT_EQ(b.Find("extra"), nullptr);
  EXPECT_EQ(b.library_count(), 2u);

  // A flipped bit anywhere fails the checksum.
  std::string bad = payload;
  bad[3] ^= 1;
  EXPECT_FALSE(b.Restore(bad, FunctionEngine::RestorePolicy::kFlush, &error));
  EXPECT_EQ(error, "ERR DUMP payload version or checksum are wrong");
  EXPECT_EQ(b.library_count(), 2u);
}

TEST(FunctionEngineTest, RestoresRedisLzfPayload) {
  // FUNCTION DUMP of redis-server 7.0.15 after
  // FUNCTION LOAD "#!lua name=mylib\nredis.register_function('f1', function(keys, args)
  // return {keys, args} end)": the code is LZF-compressed.
  static const char kPayload[] =
      "\xf5\xc3\x40\x53\x40\x5c\x1f#!lua name=mylib\nredis.register_\x0e"
      "function('f1', \xe0\x00\x0e\x13keys, args) return {\xe0\x01\x13\x05} end)"
      "\x0a\x00";
  const std::string payload(kPayload, sizeof(kPayload) - 1);
  std::string with_crc = payload;
  uint64_t crc = FunctionEngine::Crc64(0, payload);
  for (int i = 0; i < 8; ++i) with_crc.push_back(static_cast<char>(crc >> (8 * i)));
  FunctionEngine e;
  std::string error;
  ASSERT_TRUE(e.Restore(with_crc, FunctionEngine::RestorePolicy::kAppend, &error)) << error;
  ASSERT_EQ(e.Libraries().size(), 1u);
  EXPECT_EQ(e.Libraries()[0]->code,
            "#!lua name=mylib\nredis.register_function('f1', function(keys, args) return {keys, "
            "args} end)");
}

}  // namespace
}  // namespace omnibus
