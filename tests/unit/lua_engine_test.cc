// The script engine on its own (issue 10's groundwork): sandbox, conversions, cache, the
// bundled libraries. Every expected text below was first read from redis-server 7.0.15
// (`redis-cli eval ...`, raw RESP where the bytes matter).

#include "omnibus/script/lua_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "omnibus/commands/version.h"
#include "omnibus/script/script_store.h"

namespace omnibus {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A stand-in for the command table: a few commands over a map, replying through a capturing
// ReplyBuilder in the protocol the script asked for (as the real wiring will).
class FakeServer {
 public:
  ReplyValue Call(std::span<const std::string_view> argv, int resp) {
    calls.emplace_back(argv.begin(), argv.end());
    ReplyValue v;
    ReplyBuilder rb(&v, resp);
    std::string name(argv[0]);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "get" && argv.size() == 2) {
      auto it = strings.find(std::string(argv[1]));
      if (it == strings.end()) {
        rb.Null();
      } else {
        rb.Bulk(it->second);
      }
    } else if (name == "set" && argv.size() == 3) {
      strings[std::string(argv[1])] = std::string(argv[2]);
      rb.Ok();
    } else if (name == "echo" && argv.size() == 2) {
      rb.Bulk(argv[1]);
    } else if (name == "ping") {
      rb.SimpleString("PONG");
    } else if (name == "incr" && argv.size() == 2) {
      rb.Error("ERR value is not an integer or out of range");
    } else if (name == "hgetall") {
      rb.Map(1);
      rb.Bulk("f");
      rb.Bulk("v");
    } else if (name == "smembers") {
      rb.Set(2);
      rb.Bulk("a");
      rb.Bulk("b");
    } else if (name == "zscore") {
      rb.Double(1.5);
    } else if (name == "bool") {
      rb.Bool(true);
    } else if (name == "lpush") {
      rb.Error("WRONGTYPE Operation against a key holding the wrong kind of value");
    } else if (name == "deep") {
      // 2000 nested one-element arrays around an integer.
      ReplyValue* cur = &v;
      for (int i = 0; i < 2000; ++i) {
        cur->kind = ReplyValue::Kind::kArray;
        cur->elements.resize(1);
        cur = &cur->elements[0];
      }
      cur->kind = ReplyValue::Kind::kInteger;
      cur->integer = 7;
    } else if (name == "mixed") {
      rb.Array(4);
      rb.Integer(7);
      rb.Null();
      rb.Bulk("x");
      rb.Array(0);
    } else {
      rb.Error("ERR Unknown Redis command called from script");
    }
    return v;
  }

  std::map<std::string, std::string> strings;
  std::vector<std::vector<std::string>> calls;
};

class LuaEngineTest : public ::testing::Test {
 protected:
  LuaEngineTest() {
    engine_.SetLogSink([](LogLevel, std::string_view) {});  // scripts' redis.log lines
  }

  // EVAL body with KEYS/ARGV from a client speaking `resp`; returns the RESP bytes.
  std::string Eval(std::string_view body, int resp = 2, std::vector<std::string_view> keys = {},
                   std::vector<std::string_view> args = {}) {
    return Run(body, false, resp, keys, args);
  }
  std::string EvalSha(std::string_view sha, int resp = 2) { return Run(sha, true, resp, {}, {}); }

  std::string Run(std::string_view s, bool is_sha, int resp, std::vector<std::string_view> keys,
                  std::vector<std::string_view> args) {
    ScriptRunArgs run;
    run.keys = keys;
    run.args = args;
    run.call = [this](std::span<const std::string_view> argv, int r) {
      return server_.Call(argv, r);
    };
    std::string out;
    ReplyBuilder rb(&out, resp);
    engine_.Run(s, is_sha, run, &rb);
    EXPECT_EQ(engine_.TEST_StackTop(), 0) << s;
    return out;
  }

  // "-<text> script: <sha of body>, on @user_script:<line>.\r\n"
  static std::string ScriptError(std::string_view text, std::string_view body, int line = 1) {
    return "-" + std::string(text) + " script: " + LuaEngine::Sha1Hex(body) +
           ", on @user_script:" + std::to_string(line) + ".\r\n";
  }

  FakeServer server_;
  LuaEngine engine_;
};

// ---- redis.sha1hex and the cache ----

TEST_F(LuaEngineTest, Sha1HexMatchesRedis) {
  EXPECT_EQ(Eval("return redis.sha1hex('x')"),
            "$40\r\n11f6ad8ec52a2984abaafd7c3b516503785c2072\r\n");
  EXPECT_EQ(Eval("return redis.sha1hex('')"),
            "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n");
  EXPECT_EQ(Eval("return redis.sha1hex(1)"), "$40\r\n356a192b7913b04c54574d18c28d46e6395428ab\r\n");
  // nil and tables hash as the empty string.
  EXPECT_EQ(Eval("return redis.sha1hex({})"),
            "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n");
  EXPECT_EQ(Eval("return redis.sha1hex()"),
            ScriptError("ERR wrong number of arguments", "return redis.sha1hex()"));
  // Block boundaries (55, 56, 64 bytes) and a long input, against Python's hashlib.
  EXPECT_EQ(LuaEngine::Sha1Hex(std::string(55, 'x')), "cef734ba81a024479e09eb5a75b6ddae62e6abf1");
  EXPECT_EQ(LuaEngine::Sha1Hex(std::string(56, 'x')), "901305367c259952f4e7af8323f480d59f81335b");
  EXPECT_EQ(LuaEngine::Sha1Hex(std::string(64, 'x')), "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163");
  EXPECT_EQ(LuaEngine::Sha1Hex(std::string(1000, 'a')), "291e9a6c66994949b57ba5e650361e98fc36b1ba");
}

TEST_F(LuaEngineTest, ScriptCacheLoadExistsFlush) {
  std::string sha, error;
  ASSERT_TRUE(engine_.Load("return 1", &sha, &error));
  EXPECT_EQ(sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  EXPECT_TRUE(engine_.Exists(sha));
  EXPECT_TRUE(engine_.Exists("E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"));
  EXPECT_EQ(EvalSha("E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"), ":1\r\n");
  EXPECT_EQ(engine_.ScriptCount(), 1u);
  EXPECT_EQ(EvalSha("nosuch"), "-NOSCRIPT No matching script. Please use EVAL.\r\n");
  // EVAL caches what it runs.
  EXPECT_EQ(Eval("return 2"), ":2\r\n");
  EXPECT_TRUE(engine_.Exists(LuaEngine::Sha1Hex("return 2")));
  engine_.Flush();
  EXPECT_FALSE(engine_.Exists(sha));
  EXPECT_EQ(engine_.ScriptCount(), 0u);
  EXPECT_EQ(EvalSha(sha), "-NOSCRIPT No matching script. Please use EVAL.\r\n");
  EXPECT_EQ(Eval("return 1"), ":1\r\n");  // the fresh interpreter works
}

// One engine per shard over one store: a script loaded or EVALed through one runs on
// another, and a flush through one reaches the other at its next run.
TEST(LuaEngineStoreTest, EnginesShareTheScriptCache) {
  ScriptStore store;
  LuaEngine a, b;
  a.SetStore(&store);
  b.SetStore(&store);
  auto run = [](LuaEngine& e, std::string_view s, bool is_sha) {
    ScriptRunArgs args;
    std::string out;
    ReplyBuilder rb(&out, 2);
    EXPECT_TRUE(e.Run(s, is_sha, args, &rb));
    return out;
  };
  std::string sha, error;
  ASSERT_TRUE(a.Load("return 7", &sha, &error));
  EXPECT_TRUE(b.Exists(sha));
  EXPECT_EQ(run(b, sha, true), ":7\r\n");
  EXPECT_EQ(run(a, "return 8", false), ":8\r\n");
  EXPECT_EQ(b.Flags(LuaEngine::Sha1Hex("return 8")), kScriptEvalCompat);
  EXPECT_EQ(store.Count(), 2u);
  b.Flush();
  EXPECT_FALSE(a.Exists(sha));
  EXPECT_EQ(run(a, sha, true), "-NOSCRIPT No matching script. Please use EVAL.\r\n");
  EXPECT_EQ(a.ScriptCount(), 0u);  // a's interpreter was replaced when it saw the flush
  EXPECT_EQ(run(a, "return 7", false), ":7\r\n");
  EXPECT_EQ(run(b, sha, true), ":7\r\n");
}

// math.random over a store: the shards' engines draw one sequence, Redis's (a fresh
// redis-server's first two draws), and randomseed through one engine reseeds them all.
TEST(LuaEngineStoreTest, EnginesShareOneRandomGenerator) {
  ScriptStore store;
  LuaEngine a, b;
  a.SetStore(&store);
  b.SetStore(&store);
  auto run = [](LuaEngine& e, std::string_view s) {
    ScriptRunArgs args;
    std::string out;
    ReplyBuilder rb(&out, 2);
    EXPECT_TRUE(e.Run(s, false, args, &rb));
    return out;
  };
  EXPECT_EQ(run(a, "return tostring(math.random())"), "$16\r\n0.39646477363839\r\n");
  EXPECT_EQ(run(b, "return tostring(math.random())"), "$16\r\n0.84048536971234\r\n");
  EXPECT_EQ(run(a, "math.randomseed(5) return 1"), ":1\r\n");
  EXPECT_EQ(run(b, "return math.random(1000)"), ":525\r\n");
}

// AbortRun from the command callback: nothing is replied, pcall cannot catch it, and no
// later command of the script runs.
TEST_F(LuaEngineTest, AbortRunStopsTheScriptUncatchably) {
  int calls = 0;
  ScriptRunArgs run;
  run.call = [&](std::span<const std::string_view>, int) {
    if (++calls == 1) engine_.AbortRun();
    ReplyValue v;
    v.kind = ReplyValue::Kind::kError;
    v.str = "ERR aborted";
    return v;
  };
  std::string out;
  ReplyBuilder rb(&out, 2);
  EXPECT_FALSE(
      engine_.Run("pcall(redis.call, 'get', 'a')\n"
                  "redis.pcall('set', 'b', '1')\n"
                  "return 1",
                  false, run, &rb));
  EXPECT_EQ(out, "");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(engine_.TEST_StackTop(), 0);
  EXPECT_EQ(Eval("return 2"), ":2\r\n");  // the next run is not affected
}

TEST_F(LuaEngineTest, CompileErrorsAreNotCached) {
  std::string sha, error;
  EXPECT_FALSE(engine_.Load("return 'a' .. ", &sha, &error));
  EXPECT_EQ(error,
            "ERR Error compiling script (new function): user_script:1: unexpected symbol near "
            "'<eof>'");
  EXPECT_FALSE(engine_.Exists(sha));
  EXPECT_EQ(Eval("retur 1"),
            "-ERR Error compiling script (new function): user_script:1: '=' expected near "
            "'1'\r\n");
}

TEST_F(LuaEngineTest, ShebangFlags) {
  EXPECT_EQ(Eval("#!lua\nreturn 1"), ":1\r\n");
  EXPECT_EQ(Eval("#!lua flags=no-writes,allow-oom\nreturn 2"), ":2\r\n");
  EXPECT_EQ(engine_.Flags(LuaEngine::Sha1Hex("#!lua flags=no-writes,allow-oom\nreturn 2")),
            kScriptNoWrites | kScriptAllowOom);
  EXPECT_EQ(engine_.Flags(LuaEngine::Sha1Hex("#!lua\nreturn 1")), 0u);
  EXPECT_EQ(Eval("return 1"), ":1\r\n");
  EXPECT_EQ(engine_.Flags(LuaEngine::Sha1Hex("return 1")), kScriptEvalCompat);
  EXPECT_EQ(engine_.Flags("0000000000000000000000000000000000000000"), std::nullopt);
  EXPECT_EQ(Eval("#!lua flags=\nreturn 3"), ":3\r\n");
  EXPECT_EQ(Eval("#!lua flags=bad\nreturn 2"), "-ERR Unexpected flag in script shebang: bad\r\n");
  EXPECT_EQ(Eval("#!luax\nreturn 2"), "-ERR Unexpected engine in script shebang: #!luax\r\n");
  EXPECT_EQ(Eval("#! lua\nreturn 3"), "-ERR Unexpected engine in script shebang: #!\r\n");
  EXPECT_EQ(Eval("#!lua name=x\nreturn 2"), "-ERR Unknown lua shebang option: name=x\r\n");
  EXPECT_EQ(Eval("#!lua"), "-ERR Invalid script shebang\r\n");
  // The shebang still counts as line 1.
  EXPECT_EQ(Eval("#!lua\nerror(\"x\")"),
            "-ERR user_script:2: x script: 23ade40b599317f18975e8cce62f1fabc797480f, on "
            "@user_script:2.\r\n");
  std::string sha, error;
  EXPECT_FALSE(engine_.Load("#!lua flags=bad\nreturn 2", &sha, &error));
  EXPECT_EQ(error, "ERR Unexpected flag in script shebang: bad");
  EXPECT_FALSE(engine_.Exists(sha));
}

// ---- the sandbox ----

TEST_F(LuaEngineTest, GlobalsAsRedisHasThem) {
  for (const char* name : {"print", "dofile", "loadfile", "require", "os", "io", "setfenv",
                           "getfenv", "debug", "module", "newproxy", "package"}) {
    std::string body = std::string("return type(") + name + ")";
    EXPECT_EQ(Eval(body),
              ScriptError(std::string("ERR user_script:1: Script attempted to access nonexistent "
                                      "global variable '") +
                              name + "'",
                          body))
        << name;
  }
  for (const char* name : {"loadstring", "collectgarbage", "gcinfo", "unpack", "rawset",
                           "setmetatable", "xpcall", "load", "select", "tonumber"}) {
    EXPECT_EQ(Eval(std::string("return type(") + name + ")"), "$8\r\nfunction\r\n") << name;
  }
  for (const char* name : {"coroutine", "_G", "bit", "struct", "cjson", "cmsgpack", "string",
                           "math", "table", "redis"}) {
    EXPECT_EQ(Eval(std::string("return type(") + name + ")"), "$5\r\ntable\r\n") << name;
  }
  EXPECT_EQ(Eval("return _VERSION"), "$7\r\nLua 5.1\r\n");
  // The exact global names redis-server lists (35 with KEYS and ARGV).
  EXPECT_EQ(Eval("local n=0; for k,v in pairs(_G) do n=n+1 end return n"), ":35\r\n");
  EXPECT_EQ(Eval("local n=0; for k,v in pairs(string) do n=n+1 end return n"), ":15\r\n");
  EXPECT_EQ(Eval("return ('abc'):upper()"), "$3\r\nABC\r\n");
  EXPECT_EQ(Eval("return loadstring('return 1 + 1')()"), ":2\r\n");
}

TEST_F(LuaEngineTest, ReadonlyTablesWithRedisTexts) {
  // Checked against redis-server: the script's sha appears as Redis prints it.
  EXPECT_EQ(Eval("x = 1"),
            "-ERR user_script:1: Attempt to modify a readonly table script: "
            "34bce5f775de97f557a34088509c8bfe1ea17e52, on @user_script:1.\r\n");
  EXPECT_EQ(Eval("return y"),
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'y' "
            "script: e278681ed961e2fb52881313e5c90fdd93749940, on @user_script:1.\r\n");
  EXPECT_EQ(Eval("string.foo = 1"),
            "-ERR user_script:1: Attempt to modify a readonly table script: "
            "46f9bf166bc7e1ab2ed3b9de7b99c4e1e7dc1f7d, on @user_script:1.\r\n");
  for (const char* body : {"string.len = 1", "_G.x = 1", "redis.call = nil", "redis.foo = 1",
                           "KEYS = 1", "getmetatable('').__index.foo = 1"}) {
    EXPECT_EQ(Eval(body),
              ScriptError("ERR user_script:1: Attempt to modify a readonly table", body))
        << body;
  }
  // Raised inside a C function: no "user_script:1:" prefix, as Redis.
  EXPECT_EQ(Eval("rawset(string,'foo',1)"),
            "-ERR Attempt to modify a readonly table script: "
            "9d3fed6cb2666f9dbe64fe0a95a4d76a346462f7, on @user_script:1.\r\n");
  EXPECT_EQ(Eval("rawset(_G,'foo',1)"),
            "-ERR Attempt to modify a readonly table script: "
            "354f79f8134a0ce5d375a07b81f30bd279d60b41, on @user_script:1.\r\n");
  EXPECT_EQ(Eval("setmetatable(_G, nil)"),
            "-ERR Attempt to modify a readonly table script: "
            "22fdd3b51da2d4bc6703d71d651cd782d8e5a35f, on @user_script:1.\r\n");
  EXPECT_EQ(Eval("table.insert(redis, 1)"),
            ScriptError("ERR Attempt to modify a readonly table", "table.insert(redis, 1)"));
  EXPECT_EQ(Eval("local t = getmetatable(_G); return type(t)"), "$5\r\ntable\r\n");
  // KEYS itself is an ordinary table.
  EXPECT_EQ(Eval("KEYS[1] = 'a'; return KEYS[1]"), "$1\r\na\r\n");
  // Nothing leaked into the next run.
  EXPECT_EQ(Eval("return rawget(string, 'foo') == nil and rawget(redis, 1) == nil"), ":1\r\n");
}

TEST_F(LuaEngineTest, ScriptErrorTexts) {
  EXPECT_EQ(Eval("return error('boom')"),
            ScriptError("ERR user_script:1: boom", "return error('boom')"));
  EXPECT_EQ(Eval("error({err='x'})"), ScriptError("x", "error({err='x'})"));
  EXPECT_EQ(Eval("return nil + 1"),
            ScriptError("ERR user_script:1: attempt to perform arithmetic on a nil value",
                        "return nil + 1"));
  EXPECT_EQ(Eval("error('x', 0)"), ScriptError("ERR x", "error('x', 0)"));
  EXPECT_EQ(Eval("error(123)"), ScriptError("ERR user_script:1: 123", "error(123)"));
  EXPECT_EQ(Eval("error()"), ScriptError("ERR nil", "error()"));
  EXPECT_EQ(Eval("error(true)"), ScriptError("ERR true", "error(true)"));
  // redis-server 7.0.15 crashes on this one; we answer.
  EXPECT_THAT(Eval("error({})"), StartsWith("-ERR unknown error script: "));
}

// ---- redis.call / redis.pcall ----

TEST_F(LuaEngineTest, CallErrorsRaiseWithTheScriptLine) {
  EXPECT_EQ(Eval("return redis.call('nosuch')"),
            "-ERR Unknown Redis command called from script script: "
            "206396248e12c6e742fd7296250433c8d7343b74, on @user_script:1.\r\n");
  EXPECT_EQ(Eval("\nlocal a = 1\nreturn redis.call('nosuch')"),
            "-ERR Unknown Redis command called from script script: "
            "8d6aa3cc43c347bfd9ebe8872ca6669188bff973, on @user_script:3.\r\n");
  EXPECT_EQ(Eval("return redis.call('incr','s')"),
            "-ERR value is not an integer or out of range script: "
            "c243b9f46db13ba8f69da41b45a77708832babed, on @user_script:1.\r\n");
  EXPECT_EQ(Eval("return redis.call('lpush','s','a')"),
            "-WRONGTYPE Operation against a key holding the wrong kind of value script: "
            "9a3e09c1ea8ae5a07defe6161592b5ae121a4da7, on @user_script:1.\r\n");
  EXPECT_EQ(Eval("return redis.call()"),
            ScriptError("ERR Please specify at least one argument for this redis lib call",
                        "return redis.call()"));
  EXPECT_EQ(Eval("return redis.call('get', {})"),
            ScriptError("ERR Lua redis lib command arguments must be strings or integers",
                        "return redis.call('get', {})"));
}

TEST_F(LuaEngineTest, PcallReturnsErrorTables) {
  EXPECT_EQ(Eval("return redis.pcall('nosuch')"),
            "-ERR Unknown Redis command called from script\r\n");
  EXPECT_EQ(Eval("return redis.pcall('get', {})"),
            "-ERR Lua redis lib command arguments must be strings or integers\r\n");
  EXPECT_EQ(Eval("return redis.pcall('incr','s')['err']"),
            "$43\r\nERR value is not an integer or out of range\r\n");
  // Lua's pcall, as Redis replaces it: the {err=...} table comes back as its string.
  EXPECT_EQ(Eval("local ok, e = pcall(redis.call, 'nosuch') return e"),
            "$44\r\nERR Unknown Redis command called from script\r\n");
  EXPECT_EQ(Eval("local ok, e = pcall(error, {err='x'}) return type(e)"), "$6\r\nstring\r\n");
  EXPECT_EQ(Eval("return {pcall(error, 'x')}"), "*2\r\n$-1\r\n$1\r\nx\r\n");
}

TEST_F(LuaEngineTest, CallArgumentsAsRedisFormatsThem) {
  EXPECT_EQ(Eval("return redis.call('echo', 3.0)"), "$1\r\n3\r\n");
  EXPECT_EQ(Eval("return redis.call('echo', 0.1)"), "$19\r\n0.10000000000000001\r\n");
  EXPECT_EQ(Eval("return redis.call('echo', 1e20)"), "$5\r\n1e+20\r\n");
  EXPECT_EQ(Eval("return redis.call('set', KEYS[1], ARGV[1])['ok']", 2, {"k"}, {"v"}),
            "$2\r\nOK\r\n");
  EXPECT_EQ(server_.strings["k"], "v");
  EXPECT_EQ(Eval("return redis.call('get', KEYS[1])", 2, {"k"}), "$1\r\nv\r\n");
}

// ---- reply -> Lua ----

TEST_F(LuaEngineTest, RepliesAsLuaSeesThemInResp2) {
  EXPECT_EQ(Eval("return redis.call('hgetall','h')"), "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
  EXPECT_EQ(Eval("return type(redis.call('get','nokey'))"), "$7\r\nboolean\r\n");
  EXPECT_EQ(Eval("return type(redis.call('ping'))"), "$5\r\ntable\r\n");
  EXPECT_EQ(Eval("return redis.call('ping')"), "+PONG\r\n");
  EXPECT_EQ(Eval("return redis.call('zscore','z','m')"), "$3\r\n1.5\r\n");
  EXPECT_EQ(Eval("return redis.call('bool')"), ":1\r\n");
  EXPECT_EQ(Eval("return redis.call('smembers','s')"), "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
  // A null is false, which does not end an array (only nil does).
  EXPECT_EQ(Eval("return redis.call('mixed')"), "*4\r\n:7\r\n$-1\r\n$1\r\nx\r\n*0\r\n");
  EXPECT_EQ(Eval("local r = redis.call('mixed') return {type(r[2]), r[3], #r[4]}"),
            "*3\r\n$7\r\nboolean\r\n$1\r\nx\r\n:0\r\n");
}

TEST_F(LuaEngineTest, RepliesAsLuaSeesThemInResp3) {
  EXPECT_EQ(Eval("redis.setresp(3) return redis.call('hgetall','h')"),
            "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return redis.call('hgetall','h').map.f"), "$1\r\nv\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return redis.call('hgetall','h')", 3),
            "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return tostring(redis.call('zscore','z','m').double)"),
            "$3\r\n1.5\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return type(redis.call('get','nokey'))"), "$3\r\nnil\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return type(redis.call('bool'))"), "$7\r\nboolean\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) local s = redis.call('smembers','s').set return {s.a, s.b}"),
            "*2\r\n:1\r\n:1\r\n");
  // The commands saw the protocol the script chose.
  EXPECT_EQ(Eval("redis.setresp(3) return redis.call('smembers','s')", 3),
            "~2\r\n$1\r\na\r\n$1\r\nb\r\n");
}

TEST_F(LuaEngineTest, RepliesNestedBeyondAnyCommandBecomeFalse) {
  EXPECT_EQ(Eval("local r = redis.call('deep') local d = 0\n"
                 "while type(r) == 'table' do r = r[1] d = d + 1 end\n"
                 "return {d, type(r)}"),
            "*2\r\n:1001\r\n$7\r\nboolean\r\n");
}

// ---- Lua -> reply ----

TEST_F(LuaEngineTest, LuaToResp2) {
  EXPECT_EQ(Eval("return {1,2,nil,4}"), "*2\r\n:1\r\n:2\r\n");
  EXPECT_EQ(Eval("return {1,'a',{2,3},true,false,3.9,-3.9}"),
            "*7\r\n:1\r\n$1\r\na\r\n*2\r\n:2\r\n:3\r\n:1\r\n$-1\r\n:3\r\n:-3\r\n");
  EXPECT_EQ(Eval("return 3.99"), ":3\r\n");
  EXPECT_EQ(Eval("return -0.5"), ":0\r\n");
  EXPECT_EQ(Eval("return 1/0"), ":-9223372036854775808\r\n");
  EXPECT_EQ(Eval("return 0/0"), ":-9223372036854775808\r\n");
  EXPECT_EQ(Eval("return 2^63"), ":-9223372036854775808\r\n");
  EXPECT_EQ(Eval("return true"), ":1\r\n");
  EXPECT_EQ(Eval("return false"), "$-1\r\n");
  EXPECT_EQ(Eval("return nil"), "$-1\r\n");
  EXPECT_EQ(Eval("return function() end"), "$-1\r\n");
  EXPECT_EQ(Eval("return {foo='bar'}"), "*0\r\n");
  EXPECT_EQ(Eval("return {1,2,foo='bar'}"), "*2\r\n:1\r\n:2\r\n");
  EXPECT_EQ(Eval("return 'a\\0b'"), std::string("$3\r\na\0b\r\n", 9));
  EXPECT_EQ(Eval("return {double=3.5}"), "$3\r\n3.5\r\n");
  EXPECT_EQ(Eval("return {double=0.1}"), "$19\r\n0.10000000000000001\r\n");
  EXPECT_EQ(Eval("return {double=1/0}"), "$3\r\ninf\r\n");
  EXPECT_EQ(Eval("return {double=0/0}"), "$4\r\n-nan\r\n");
  EXPECT_EQ(Eval("return {double='x'}"), "*0\r\n");
  EXPECT_EQ(Eval("return {map={a=1}}"), "*2\r\n$1\r\na\r\n:1\r\n");
  EXPECT_EQ(Eval("return {set={a=true}}"), "*1\r\n$1\r\na\r\n");
  EXPECT_EQ(Eval("return {big_number='12\\r\\n3'}"), "$5\r\n12  3\r\n");
  EXPECT_EQ(Eval("return {verbatim_string={format='txt',string='hi'}}"), "$2\r\nhi\r\n");
  EXPECT_EQ(Eval("return {err='-Foo bar'}"), "--Foo bar\r\n");
  EXPECT_EQ(Eval("return {err='My Error'}"), "-My Error\r\n");
  EXPECT_EQ(Eval("return {ok='x', err='y'}"), "-y\r\n");
  EXPECT_EQ(Eval("return {ok='a\\r\\nb'}"), "+a  b\r\n");
  EXPECT_EQ(Eval("return {err=1}"), "*0\r\n");
  // Metatables are ignored when converting (redis-server 7.0.15).
  EXPECT_EQ(Eval("return setmetatable({}, {__index=function(t,k) error('boom') end})"), "*0\r\n");
  EXPECT_EQ(Eval("return setmetatable({}, {__index={ok='Y'}})"), "*0\r\n");
  EXPECT_EQ(Eval("return setmetatable({}, {__index={'a','b'}})"), "*0\r\n");
  EXPECT_EQ(Eval("return redis.status_reply('FINE')"), "+FINE\r\n");
  EXPECT_EQ(Eval("return redis.error_reply('My Error')"), "-My Error\r\n");
  EXPECT_EQ(Eval("return redis.error_reply('-My Error')"), "-My Error\r\n");
  EXPECT_EQ(Eval("return redis.error_reply('Foo')"), "-ERR Foo\r\n");
  EXPECT_EQ(Eval("return redis.error_reply('')"), "-ERR \r\n");
  EXPECT_EQ(Eval("return redis.error_reply(1)"), "-ERR wrong number or type of arguments\r\n");
  EXPECT_EQ(Eval("return redis.status_reply()"), "-ERR wrong number or type of arguments\r\n");
  // The script's setresp(3) changes booleans even for a RESP2 client.
  EXPECT_EQ(Eval("redis.setresp(3) return true"), ":1\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return false"), ":0\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return {1,false}"), "*2\r\n:1\r\n:0\r\n");
}

TEST_F(LuaEngineTest, LuaToResp3) {
  EXPECT_EQ(Eval("return {double=0/0}", 3), ",-nan\r\n");
  EXPECT_EQ(Eval("return {double=3.5}", 3), ",3.5\r\n");
  EXPECT_EQ(Eval("return {double=3}", 3), ",3\r\n");
  EXPECT_EQ(Eval("return {double=1/0}", 3), ",inf\r\n");
  EXPECT_EQ(Eval("return {double=-1/0}", 3), ",-inf\r\n");
  EXPECT_EQ(Eval("return {double=1e300}", 3), ",1.0000000000000001e+300\r\n");
  EXPECT_EQ(Eval("return true", 3), ":1\r\n");
  EXPECT_EQ(Eval("return false", 3), "_\r\n");
  EXPECT_EQ(Eval("return nil", 3), "_\r\n");
  EXPECT_EQ(Eval("return {1,false,3}", 3), "*3\r\n:1\r\n_\r\n:3\r\n");
  EXPECT_EQ(Eval("return {map={a=1}}", 3), "%1\r\n$1\r\na\r\n:1\r\n");
  EXPECT_EQ(Eval("return {set={a=true}}", 3), "~1\r\n$1\r\na\r\n");
  EXPECT_EQ(Eval("return {big_number='12\\r\\n3'}", 3), "(12  3\r\n");
  EXPECT_EQ(Eval("return {verbatim_string={format='txt',string='hi'}}", 3), "=6\r\ntxt:hi\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return true", 3), "#t\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return false", 3), "#f\r\n");
  EXPECT_EQ(Eval("redis.setresp(3) return {1,false}", 3), "*2\r\n:1\r\n#f\r\n");
}

TEST_F(LuaEngineTest, CapturingBuilderGetsTheSameReply) {
  ReplyValue v;
  ReplyBuilder rb(&v, 3);
  ScriptRunArgs run;
  engine_.Run("return {map={a={1,'x'}}}", false, run, &rb);
  ASSERT_EQ(v.kind, ReplyValue::Kind::kArray);
  EXPECT_EQ(v.aggregate, '%');
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_EQ(v.elements[0].str, "a");
  EXPECT_EQ(v.elements[1].elements.size(), 2u);
}

// ---- the rest of the redis table ----

TEST_F(LuaEngineTest, RedisApiMisc) {
  EXPECT_EQ(Eval("return redis.REDIS_VERSION"), "$6\r\n7.0.15\r\n");
  EXPECT_EQ(std::string_view("7.0.15"), kRedisVersion);
  EXPECT_EQ(Eval("return redis.REDIS_VERSION_NUM"), ":458767\r\n");
  EXPECT_EQ(Eval("return {redis.LOG_DEBUG,redis.LOG_VERBOSE,redis.LOG_NOTICE,redis.LOG_WARNING}"),
            "*4\r\n:0\r\n:1\r\n:2\r\n:3\r\n");
  EXPECT_EQ(Eval("return {redis.REPL_NONE,redis.REPL_AOF,redis.REPL_SLAVE,redis.REPL_REPLICA,"
                 "redis.REPL_ALL}"),
            "*5\r\n:0\r\n:1\r\n:2\r\n:2\r\n:3\r\n");
  EXPECT_EQ(Eval("redis.set_repl(redis.REPL_ALL) return 1"), ":1\r\n");
  EXPECT_EQ(Eval("redis.set_repl(9) return 1"),
            ScriptError("ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or "
                        "REPL_NONE.",
                        "redis.set_repl(9) return 1"));
  EXPECT_EQ(
      Eval("redis.set_repl() return 1"),
      ScriptError("ERR redis.set_repl() requires two arguments.", "redis.set_repl() return 1"));
  EXPECT_EQ(Eval("return redis.replicate_commands()"), ":1\r\n");
  EXPECT_EQ(Eval("return redis.breakpoint()"), "$-1\r\n");
  EXPECT_EQ(Eval("return redis.debug('x')"), "$-1\r\n");
  EXPECT_EQ(Eval("return redis.setresp(4)"),
            ScriptError("ERR RESP version must be 2 or 3.", "return redis.setresp(4)"));
  EXPECT_EQ(Eval("return redis.setresp()"),
            ScriptError("ERR redis.setresp() requires one argument.", "return redis.setresp()"));
  EXPECT_EQ(Eval("redis.log(9, 'x')"),
            ScriptError("ERR Invalid debug level.", "redis.log(9, 'x')"));
  EXPECT_EQ(Eval("redis.log('a', 'x')"),
            ScriptError("ERR First argument must be a number (log level).", "redis.log('a', 'x')"));
  EXPECT_EQ(Eval("redis.log(1)"),
            ScriptError("ERR redis.log() requires two arguments or more.", "redis.log(1)"));
  std::vector<std::pair<LogLevel, std::string>> lines;
  engine_.SetLogSink([&](LogLevel l, std::string_view s) { lines.emplace_back(l, s); });
  EXPECT_EQ(Eval("redis.log(redis.LOG_WARNING, 'hello', {}, 'w', 3) return 1"), ":1\r\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].first, LogLevel::kWarning);
  EXPECT_EQ(lines[0].second, "hello w 3");
}

TEST_F(LuaEngineTest, MathRandomFollowsRedisGenerator) {
  // A fresh redis-server: 0.39646477363839, then 0.84048536971234 in the *next* EVAL —
  // Redis 7.0 does not re-seed per call.
  EXPECT_EQ(Eval("return tostring(math.random())"), "$16\r\n0.39646477363839\r\n");
  EXPECT_EQ(Eval("return tostring(math.random())"), "$16\r\n0.84048536971234\r\n");
  EXPECT_EQ(Eval("math.randomseed(5) return math.random(1000)"), ":525\r\n");
  // Flush keeps the generator (it is the server's, not the interpreter's).
  engine_.Flush();
  EXPECT_EQ(Eval("math.randomseed(5) return {math.random(1000), math.random(5, 10)}"),
            Eval("math.randomseed(5) return {math.random(1000), math.random(5, 10)}"));
}

// ---- bundled libraries (outputs from redis-server) ----

TEST_F(LuaEngineTest, Cjson) {
  EXPECT_EQ(Eval("return cjson.encode({1,2,{a=1}})"), "$13\r\n[1,2,{\"a\":1}]\r\n");
  EXPECT_EQ(Eval("return cjson.encode(cjson.decode('{\"a\":[1,2.5,\"x\",null,true]}'))"),
            "$27\r\n{\"a\":[1,2.5,\"x\",null,true]}\r\n");
  EXPECT_THAT(Eval("return cjson.decode('[1,2')"),
              StartsWith("-ERR user_script:1: Expected comma or array end but found T_END at "
                         "character 5 script: "));
}

TEST_F(LuaEngineTest, Cmsgpack) {
  EXPECT_EQ(Eval("return cmsgpack.pack({1,2,3})"), "$4\r\n\x93\x01\x02\x03\r\n");
  EXPECT_EQ(Eval("return cmsgpack.pack(1.5, -1, 300, 70000, 2^40, 'abc', true, nil)"),
            std::string("$29\r\n\xca\x3f\xc0\x00\x00\xff\xcd\x01\x2c\xce\x00\x01\x11\x70\xcf\x00"
                        "\x00\x01\x00\x00\x00\x00\x00\xa3"
                        "abc\xc3\xc0\r\n",
                        36));
  EXPECT_EQ(Eval("return cmsgpack.unpack(cmsgpack.pack({1,'a',{b=2}}))"),
            "*3\r\n:1\r\n$1\r\na\r\n*0\r\n");
  EXPECT_EQ(Eval("return {cmsgpack.unpack(cmsgpack.pack(1,2,'x'))}"),
            "*3\r\n:1\r\n:2\r\n$1\r\nx\r\n");
  EXPECT_EQ(Eval("local t = cmsgpack.unpack(cmsgpack.pack({a=1,b={c='d'}})) return t.b.c"),
            "$1\r\nd\r\n");
  EXPECT_EQ(Eval("local s = string.rep('x', 300) return cmsgpack.unpack(cmsgpack.pack(s)) == s"),
            ":1\r\n");
  EXPECT_EQ(Eval("return {cmsgpack.unpack_one(cmsgpack.pack(1, 2))}"), "*2\r\n:1\r\n:1\r\n");
  EXPECT_EQ(Eval("return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}"),
            "*3\r\n:2\r\n:1\r\n:2\r\n");
  EXPECT_EQ(Eval("return {cmsgpack.unpack_one(cmsgpack.pack(1, 2), 1)}"), "*2\r\n:-1\r\n:2\r\n");
  EXPECT_THAT(Eval("return cmsgpack.unpack('\\205')"), HasSubstr("Missing bytes in input."));
  EXPECT_THAT(Eval("return cmsgpack.unpack('\\193')"), HasSubstr("Bad data format in input."));
}

TEST_F(LuaEngineTest, Struct) {
  EXPECT_EQ(Eval("return struct.pack('>I2', 258)"), "$2\r\n\x01\x02\r\n");
  EXPECT_EQ(Eval("return {struct.unpack('>I2', '\\1\\2')}"), "*2\r\n:258\r\n:3\r\n");
  EXPECT_EQ(Eval("return struct.size('>iI2b')"), ":7\r\n");
  EXPECT_EQ(Eval("return {struct.unpack('<i4c0', struct.pack('<i4c0', 3, 'abc'))}"),
            "*2\r\n$3\r\nabc\r\n:8\r\n");
  EXPECT_EQ(Eval("return {struct.unpack('<h', struct.pack('<h', -2))}"), "*2\r\n:-2\r\n:3\r\n");
  EXPECT_EQ(Eval("return {struct.unpack('>d', struct.pack('>d', 1.5))}"), "*2\r\n:1\r\n:9\r\n");
  EXPECT_EQ(Eval("return {struct.unpack('s', struct.pack('s', 'hi'))}"),
            "*2\r\n$2\r\nhi\r\n:4\r\n");
  EXPECT_EQ(Eval("return {struct.unpack('!4 b i', struct.pack('!4 b i', 1, 2))}"),
            "*3\r\n:1\r\n:2\r\n:9\r\n");
}

TEST_F(LuaEngineTest, Bit) {
  EXPECT_EQ(Eval("return bit.band(0xff, 0x0f)"), ":15\r\n");
  EXPECT_EQ(Eval("return bit.tohex(255)"), "$8\r\n000000ff\r\n");
  EXPECT_EQ(Eval("return bit.bxor(5,3)"), ":6\r\n");
  EXPECT_EQ(Eval("return tostring(bit.lshift(1,31))"), "$11\r\n-2147483648\r\n");
}

// ---- a few hundred scripts, replies recorded from redis-server ----

struct RedisCase {
  int resp;
  std::string_view body;
  std::string_view reply;
};

constexpr RedisCase kRedisCases[] = {
#include "lua_engine_redis_cases.inc"
};

TEST_F(LuaEngineTest, RedisCases) {
  ASSERT_GT(std::size(kRedisCases), 700u);
  for (const RedisCase& c : kRedisCases) {
    EXPECT_EQ(Eval(c.body, c.resp), c.reply) << "RESP" << c.resp << ": " << c.body;
  }
}

// A table that contains itself: Redis recurses until Lua's stack is full and then replies
// an error in place of the element (sizes and SHA1 of redis-server's replies).
TEST_F(LuaEngineTest, SelfContainingTablesStopAtTheStackLimit) {
  std::string array = Eval("local t = {} t[1] = t return t");
  EXPECT_EQ(array.size(), 32010u);
  EXPECT_EQ(LuaEngine::Sha1Hex(array), "02049e2f9c331373327bac8af7b1d66668ab9287");
  EXPECT_THAT(array, ::testing::EndsWith("*1\r\n-ERR reached lua stack limit\r\n"));
  std::string map2 = Eval("local t = {} t.map = t return t");
  EXPECT_EQ(map2.size(), 34696u);
  EXPECT_EQ(LuaEngine::Sha1Hex(map2), "366c56c3a2a5b8da7a1abe77aaba6b618c38022e");
  EXPECT_EQ(LuaEngine::Sha1Hex(Eval("local t = {} t.map = t return t", 3)),
            "4c6fa0e449e5848c978531714d52eae4da1e6585");
}

TEST_F(LuaEngineTest, AclCheckCmd) {
  EXPECT_EQ(Eval("return redis.acl_check_cmd('get','k')"), ":1\r\n");
  ScriptRunArgs run;
  run.acl_check = [](std::span<const std::string_view> argv) -> std::optional<bool> {
    if (argv[0] == "nosuch") return std::nullopt;
    return argv[0] != "flushall";
  };
  auto eval = [&](std::string_view body) {
    std::string out;
    ReplyBuilder rb(&out, 2);
    engine_.Run(body, false, run, &rb);
    return out;
  };
  EXPECT_EQ(eval("return redis.acl_check_cmd('get','k')"), ":1\r\n");
  EXPECT_EQ(eval("return redis.acl_check_cmd('flushall')"), "$-1\r\n");
  EXPECT_EQ(eval("return redis.acl_check_cmd('nosuch')"),
            "-ERR Invalid command passed to redis.acl_check_cmd() script: "
            "d2491587bab5149c93be0dce4426f7a06ba9e1a1, on @user_script:1.\r\n");
  EXPECT_EQ(eval("return redis.acl_check_cmd()"),
            "-ERR Please specify at least one argument for this redis lib call script: "
            "1124f33ad66e7866b4e0c1499a4c20fb5eb9c180, on @user_script:1.\r\n");
  EXPECT_EQ(eval("return redis.acl_check_cmd({})"),
            "-ERR Lua redis lib command arguments must be strings or integers script: "
            "8b3d233cc233d15538b743edd3bc4603509e4325, on @user_script:1.\r\n");
}

// ---- SCRIPT KILL's hook ----

TEST_F(LuaEngineTest, ShouldStopKillsLoopingScripts) {
  int asked = 0;
  ScriptRunArgs run;
  run.should_stop = [&] { return ++asked == 3; };
  auto eval = [&](std::string_view body) {
    asked = 0;
    std::string out;
    ReplyBuilder rb(&out, 2);
    engine_.Run(body, false, run, &rb);
    EXPECT_EQ(engine_.TEST_StackTop(), 0);
    return out;
  };
  // Texts and lines from redis-server (busy-reply-threshold 100, then SCRIPT KILL).
  EXPECT_EQ(eval("while true do pcall(function() while true do end end) end"),
            "-ERR Script killed by user with SCRIPT KILL... script: "
            "3d7b0cfd4124d0a72b8a39e531e7c806bc453d3e, on @user_script:1.\r\n");
  EXPECT_EQ(eval("local x = 1\nwhile true do\n x = x + 1\nend"),
            "-ERR Script killed by user with SCRIPT KILL... script: "
            "3a6ffcd6fc77ade362bf8103bd7e673c3dd909c8, on @user_script:3.\r\n");
  EXPECT_EQ(asked, 3);
  // A short script is never asked; the hook is gone afterwards.
  EXPECT_EQ(eval("return 1"), ":1\r\n");
  EXPECT_EQ(asked, 0);
  EXPECT_EQ(Eval("local n = 0 for i = 1, 300000 do n = n + 1 end return n"), ":300000\r\n");
}

TEST_F(LuaEngineTest, RunFromInsideAScriptIsRefused) {
  ScriptRunArgs run;
  run.call = [&](std::span<const std::string_view> argv, int) {
    ReplyValue v;
    ReplyBuilder rb(&v, 2);
    ScriptRunArgs inner;
    engine_.Run(argv[1], false, inner, &rb);
    return v;
  };
  std::string out;
  ReplyBuilder rb(&out, 2);
  engine_.Run("return redis.pcall('eval', 'return 1')", false, run, &rb);
  EXPECT_EQ(out, "-ERR This Redis command is not allowed from script\r\n");
  EXPECT_EQ(engine_.TEST_StackTop(), 0);
}

// ---- recovery ----

TEST_F(LuaEngineTest, ThousandFailingScriptsLeaveTheInterpreterUsable) {
  const char* failing[] = {
      "return redis.call('nosuch', ARGV[1])",
      "local t = {} for i = 1, 100 do t[i] = ARGV[1] .. i end error(t[50])",
      "x = ARGV[1]",
      "return string.rep('x', 1000) + nil",
      "return cjson.decode(ARGV[1])",
      "local t = setmetatable({}, {__index = function() error('in metamethod') end}) return t.x",
      "retur 1",
  };
  // Warm up (caches the bodies, grows the stack once), then measure.
  for (const char* body : failing) Eval(body, 2, {}, {"warm"});
  engine_.CollectGarbage();
  size_t before = engine_.MemoryBytes();
  for (int i = 0; i < 1000; ++i) {
    std::string arg = "arg" + std::to_string(i);
    std::string reply = Eval(failing[i % std::size(failing)], 2, {}, {arg});
    ASSERT_EQ(reply[0], '-') << i << ": " << reply;
  }
  engine_.CollectGarbage();
  EXPECT_EQ(engine_.TEST_StackTop(), 0);
  EXPECT_LT(engine_.MemoryBytes(), before + 64 * 1024);
  EXPECT_EQ(Eval("return redis.call('echo', 'still here')"), "$10\r\nstill here\r\n");
}

}  // namespace
}  // namespace omnibus
