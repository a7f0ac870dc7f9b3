#include "script.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "omnibus/base/str_cat.h"
#include "resp_reply.h"

namespace omnibus::fuzz {
namespace {

constexpr int kMaxCommands = 16;

using Alphabet = std::vector<std::string>;

// Keys: plain, hash-tagged (same slot, so multi-key commands stay on one shard), empty and
// binary. With 3 shards the plain ones spread over several shards.
const Alphabet kKeys = {"k",   "k1",    "k2", "{t}a", "{t}b", "x", "", std::string("k\0z", 3),
                        "a:b", "k\r\nz"};
const Alphabet kValues = {"v",
                          "",
                          "0",
                          "1",
                          "-1",
                          "10",
                          "3.5",
                          "abc",
                          "hello world",
                          std::string("\0\xff", 2),
                          "9223372036854775807",
                          "-9223372036854775808",
                          "1e5",
                          "inf",
                          " 1",
                          "007",
                          std::string(100, 'x')};
const Alphabet kNumbers = {"0",
                           "1",
                           "-1",
                           "2",
                           "5",
                           "10",
                           "100",
                           "-100",
                           "9223372036854775807",
                           "-9223372036854775808",
                           "9223372036854775808",
                           "1.5",
                           "abc",
                           "",
                           "007",
                           "+1",
                           " 1",
                           "1e3",
                           "-0"};
// SETRANGE offsets: 1000000 makes a 1 MB value, whose GET fills the output buffer past
// pipeline-pause-output-bytes.
const Alphabet kOffsets = {"0", "1", "5", "-1", "100", "100000", "1000000", "536870912", "x"};
const Alphabet kFloats = {"0",     "1.5", "-1.5", "1e3", "inf", "-inf",
                          "nan",   "abc", "",     "3",   "0.1", "1.7976931348623157e308",
                          "5.0e3", " 1",  "-0"};
// Absolute times: long past, far future (2100), overflowing, invalid. No clock involved, so
// the replies are the same on both servers.
const Alphabet kUnixSeconds = {"0",
                               "1",
                               "-1",
                               "100000",
                               "4102444800",
                               "4102444801",
                               "9223372036854775807",
                               "9223372036854775",
                               "abc",
                               ""};
const Alphabet kUnixMillis = {
    "0", "1", "-1", "100000", "4102444800000", "4102444800001", "9223372036854775807", "abc", ""};
// Relative times that are not in the future, or not valid. Future ones are made per command
// (RelativeSeconds/Millis below).
const Alphabet kBadRelative = {"0",
                               "-1",
                               "-100",
                               "abc",
                               "",
                               "1.5",
                               "9223372036854775807",
                               "-9223372036854775808",
                               "9223372036854775"};
const Alphabet kGlobs = {
    "*", "k*", "{t}*", "?", "[a-z]*", "k\\*", "*a*", "[", "[^k]*", "*a*a*a*a*a*a*a*a*b", "x", ""};
// SCAN cursors: the start, small ones, ones naming shards 1, 2 and 255 in the low 8 bits
// (Omnibus's encoding) with and without a bucket cursor above them, and invalid ones.
const Alphabet kCursors = {"0",
                           "0",
                           "0",
                           "1",
                           "7",
                           "2",
                           "255",
                           "513",
                           "72057594037927936",
                           "18446744073709551615",
                           "18446744073709551616",
                           "-1",
                           "abc",
                           ""};
const Alphabet kDbs = {"0", "1", "15", "16", "-1", "x", ""};
// Small counts (numkeys of LMPOP/ZUNION..., SPOP-like counts) so multi-key forms are valid.
const Alphabet kCounts = {"1", "2", "3", "0", "-1", "x"};
// Lex range ends (ZRANGEBYLEX and friends), valid and not.
const Alphabet kLex = {"-", "+", "[a", "(a", "[k", "(v", "[", "(", "x", ""};
const Alphabet kWords = {"EX",    "PX",   "EXAT",   "PXAT",    "KEEPTTL", "NX",    "XX",
                         "GT",    "LT",   "GET",    "PERSIST", "MATCH",   "COUNT", "TYPE",
                         "ASYNC", "SYNC", "string", "hash",    "ex",      "Nx",    "WITHSCORES"};
const Alphabet kInfoSections = {"server", "clients",    "memory",      "stats",        "keyspace",
                                "all",    "everything", "default",     "commandstats", "errorstats",
                                "x",      "CPU",        "persistence", "replication"};
const Alphabet kConfigPatterns = {
    "*",      "port", "maxclients", "bind", "*max*",   "save",           "appendonly",
    "shards", "x",    "pipeline*",  "Port", "timeout", "protected-mode", "proto-max-bulk-len",
    "hz",     "*-*"};
// Requests the parser skips (no reply), and protocol errors (an error reply, then the server
// closes the connection).
const Alphabet kEmptyRequests = {"\r\n", "\n", "*0\r\n", "*-1\r\n", " \t \r\n"};
const Alphabet kProtocolErrors = {"*x\r\n",           "*1\r\n$x\r\n",        "*1\r\nfoo\r\n",
                                  "\"unbalanced\r\n", "*3000000000\r\n",     "*1\r\n$-5\r\n",
                                  "'x'y\r\n",         "*1\r\n$600000000\r\n"};

constexpr std::string_view kScriptMagic = "#!command_fuzz";

// The command grammar. Elements are separated by spaces; a single capital letter is drawn
// from an alphabet (see Draw); "+K" is 1-4 keys and "+KV" 1-4 key/value pairs; "?a|b_c"
// is optionally one of the alternatives, "!a|b_c" exactly one and "*a|b_c" zero to three of
// them ('_' separates the words of an alternative). Anything else is literal.
struct Template {
  const char* grammar;
  bool mutable_args = true;  // false for commands whose arguments must stay harmless
};

const std::vector<Template> kTemplates = {
    // Strings.
    {"get K"},
    {"set K V *EX_T|PX_P|EXAT_A|PXAT_B|KEEPTTL|NX|XX|GET"},
    {"set K V"},
    {"setnx K V"},
    {"setex K T V"},
    {"psetex K P V"},
    {"getset K V"},
    {"getdel K"},
    {"getex K ?EX_T|PX_P|EXAT_A|PXAT_B|PERSIST"},
    {"mget +K"},
    {"mset +KV"},
    {"msetnx +KV"},
    {"append K V"},
    {"strlen K"},
    {"incr K"},
    {"decr K"},
    {"incrby K N"},
    {"decrby K N"},
    {"incrbyfloat K F"},
    {"getrange K N N"},
    {"substr K N N"},
    {"setrange K O V"},
    // Keys.
    {"del +K"},
    {"unlink +K"},
    {"exists +K"},
    {"touch +K"},
    {"expire K T ?NX|XX|GT|LT"},
    {"pexpire K P ?NX|XX|GT|LT"},
    {"expireat K A ?NX|XX|GT|LT"},
    {"pexpireat K B ?NX|XX|GT|LT"},
    {"ttl K"},
    {"pttl K"},
    {"expiretime K"},
    {"pexpiretime K"},
    {"persist K"},
    {"type K"},
    {"keys G"},
    {"scan C ?MATCH_G ?COUNT_N ?TYPE_string|TYPE_hash|TYPE_x"},
    {"randomkey"},
    {"dbsize"},
    {"flushdb ?ASYNC|SYNC|x"},
    {"flushall ?ASYNC|SYNC|x"},
    {"select D"},
    {"rename K K"},
    {"renamenx K K"},
    {"copy K K ?DB_D ?REPLACE"},
    {"move K D"},
    {"swapdb D D"},
    {"object !encoding|refcount|idletime|freq K"},
    {"object !help|x"},
    {"sort K ?BY_G|BY_nosort|BY_k*->f ?LIMIT_N_N *GET_#|GET_G|GET_k*->f ?ASC|DESC ?ALPHA "
     "?STORE_K"},
    {"sort_ro K ?BY_G ?ALPHA ?DESC"},
    // Hashes (fields from the key alphabet).
    {"hset K +KV"},
    {"hsetnx K K V"},
    {"hmset K +KV"},
    {"hget K K"},
    {"hmget K +K"},
    {"hgetall K"},
    {"hdel K +K"},
    {"hexists K K"},
    {"hlen K"},
    {"hstrlen K K"},
    {"hkeys K"},
    {"hvals K"},
    {"hincrby K K N"},
    {"hincrbyfloat K K F"},
    {"hrandfield K ?N ?WITHVALUES"},
    {"hscan K C ?MATCH_G ?COUNT_N"},
    // Lists.
    {"lpush K V ?V ?V"},
    {"rpush K V ?V ?V"},
    {"lpushx K V"},
    {"rpushx K V"},
    {"lpop K ?N"},
    {"rpop K ?N"},
    {"llen K"},
    {"lrange K N N"},
    {"lindex K N"},
    {"lset K N V"},
    {"linsert K !BEFORE|AFTER|x V V"},
    {"lrem K N V"},
    {"ltrim K N N"},
    {"lpos K V ?RANK_N ?COUNT_N ?MAXLEN_N"},
    {"lmpop Q +K !LEFT|RIGHT|x ?COUNT_N"},
    {"rpoplpush K K"},
    {"lmove K K !LEFT|RIGHT !LEFT|RIGHT"},
    // Sets (no SPOP: which member it takes differs by shard, and so would every later reply).
    {"sadd K V ?V ?V"},
    {"srem K V ?V"},
    {"smembers K"},
    {"sismember K V"},
    {"smismember K V ?V"},
    {"scard K"},
    {"srandmember K ?N"},
    {"sinter +K"},
    {"sunion +K"},
    {"sdiff +K"},
    {"sintercard Q +K ?LIMIT_N"},
    {"!sinterstore|sunionstore|sdiffstore K +K"},
    {"smove K K V"},
    {"sscan K C ?MATCH_G ?COUNT_N"},
    // Sorted sets.
    {"zadd K *NX|XX|GT|LT|CH|INCR F V ?F_V"},
    {"zincrby K F V"},
    {"zrem K V ?V"},
    {"zcard K"},
    {"zscore K V"},
    {"zmscore K V ?V"},
    {"!zrank|zrevrank K V"},
    {"zcount K F F"},
    {"zlexcount K L L"},
    {"zrange K N N ?REV ?WITHSCORES"},
    {"zrange K F F BYSCORE ?REV ?LIMIT_N_N ?WITHSCORES"},
    {"zrange K L L BYLEX ?REV ?LIMIT_N_N"},
    {"!zrangebyscore|zrevrangebyscore K F F ?WITHSCORES ?LIMIT_N_N"},
    {"!zrangebylex|zrevrangebylex K L L ?LIMIT_N_N"},
    {"zrevrange K N N ?WITHSCORES"},
    {"zrangestore K K N N ?BYSCORE|REV"},
    {"zremrangebyrank K N N"},
    {"zremrangebyscore K F F"},
    {"zremrangebylex K L L"},
    {"!zpopmin|zpopmax K ?N"},
    {"zmpop Q +K !MIN|MAX|x ?COUNT_N"},
    {"zrandmember K ?N ?WITHSCORES"},
    {"!zunion|zinter|zdiff Q +K ?WITHSCORES"},
    {"!zunionstore|zinterstore|zdiffstore K Q +K ?WEIGHTS_N_N ?AGGREGATE_SUM|AGGREGATE_MIN|"
     "AGGREGATE_MAX|AGGREGATE_x"},
    {"zintercard Q +K ?LIMIT_N"},
    {"zscan K C ?MATCH_G ?COUNT_N"},
    // Transactions: queued commands of any kind, EXEC over several shards, WATCH (this
    // connection's own writes invalidate it).
    {"multi"},
    {"exec"},
    {"discard"},
    {"watch +K"},
    {"unwatch"},
    // Blocking pops: served at once when there is data, else a 10 ms timeout (the same on
    // both servers), and never blocking inside MULTI.
    {"!blpop|brpop +K 0.01"},
    {"!blpop|brpop K !-1|x|0x0.01|inf|1e400"},
    {"!bzpopmin|bzpopmax +K 0.01"},
    {"blmove K K !LEFT|RIGHT|x !LEFT|RIGHT 0.01"},
    {"brpoplpush K K 0.01"},
    {"blmpop 0.01 Q +K !LEFT|RIGHT|x ?COUNT_N"},
    {"bzmpop 0.01 Q +K !MIN|MAX|x ?COUNT_N"},
    {"client unblock N ?TIMEOUT|ERROR|x"},
    // Server.
    {"info *I"},
    {"config get W ?W"},
    // Only settings that cannot disturb the harness (no requirepass, loglevel, maxclients or
    // a non-zero timeout); RestoreConfigCommand() undoes them after each input.
    {"config set *pipeline-group-max-commands_1|pipeline-group-max-commands_2|"
     "pipeline-group-max-commands_1024|pipeline-group-max-commands_0|"
     "pipeline-group-max-commands_x|protected-mode_no|protected-mode_yes|protected-mode_x|"
     "proto-max-bulk-len_1mb|proto-max-bulk-len_100|client-query-buffer-limit_1mb|"
     "tcp-keepalive_0|timeout_0|timeout_-1|maxclients_0|port_1|databases_4|hz_x|nosuch_1|"
     "Protected-Mode_no",
     false},
    {"config resetstat"},
    {"config"},
    {"command count"},
    {"command info *get|set|x|config|config|get|client|kill|GET"},
    {"command docs *get|set|x|config|config|get|ttl"},
    {"command list ?FILTERBY_ACLCAT_string|FILTERBY_PATTERN_G|FILTERBY_MODULE_x|FILTERBY"},
    {"command getkeys set K V"},
    {"command getkeys mset +KV"},
    {"command getkeys ?get|del|x|ping|mget|expire +K"},
    {"time"},
    // Connection.
    {"ping ?V"},
    {"echo V"},
    {"auth ?default|x S"},
    {"hello ?2|3|1|4|x ?AUTH_default_pw|AUTH_x_y ?SETNAME_S"},
    {"reset"},
    {"client id"},
    {"client setname S"},
    {"client getname"},
    {"client info"},
    {"client list ?TYPE_normal|TYPE_pubsub|TYPE_x|ID_N"},
    // Filters that cannot match the harness's own connection (the only one open), since
    // a server that closes it would hide every later reply.
    {"client kill !1.2.3.4:5|ID_0|ADDR_1.2.3.4:5|TYPE_master|TYPE_pubsub|USER_nobody|"
     "LADDR_1.2.3.4:5_SKIPME_no|x|TYPE_x|ID_x|ID_0_SKIPME_yes|ID_0_SKIPME_x|ID_0_MAXAGE_1|"
     "ID_0_ID|ADDR",
     false},
    {"client nosuch"},
    {"!config|client|command help ?x"},
    // Only the forms that do not shut down: ABORT alone (no shutdown in progress) and
    // syntax errors.
    {"shutdown !ABORT|ABORT_NOSAVE|ABORT_SAVE|ABORT_NOW|NOSAVE_SAVE|x|ABORT_x|abort", false},
    {"quit"},
    // Scripting: X is a small generated Lua script (LuaScript below), Y one of the fixed
    // scripts and H a sha (of a fixed script, or of none); +NK is numkeys and that many keys.
    {"eval X +NK *V"},
    {"eval X +NK *V"},
    {"eval_ro X +NK *V"},
    {"evalsha H +NK *V"},
    {"evalsha_ro H +NK"},
    {"eval Y +NK *V"},
    {"script load !X|Y|Y"},
    {"script exists H *H"},
    {"script flush ?ASYNC|SYNC|x"},
};

// Scripts EVALSHA can find once SCRIPT LOAD (or EVAL) cached them, and their shas (kShas
// starts with them, in the same order; the last fixed script never compiles).
const Alphabet kFixedScripts = {
    "return redis.call('incr', KEYS[1] or 'k')",
    "return {KEYS[1], ARGV[1]}",
    "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1] or 'k')",
    "#!lua\nreturn redis.call('set', KEYS[1] or 'k', ARGV[1] or 'v')",
    "return redis.pcall('lpush', KEYS[1] or 'k', 'x')",
    "return 1 +",
};
const Alphabet kShas = {"212fbaa34ab64ca4a67fdeb047d89bd7b03be86e",
                        "d006f1a90249474274c76f5be725b8f5804a346b",
                        "b4bed3139b2392999f1ee7a0a894b31ac4512d34",
                        "1e565c8c022bdff6054a8106672fc46442d54476",
                        "b03e177f14983762e6bb25829f44860e4b218788",
                        "2b1542794fdd1688e17864bfe9b6bd02547420a8",
                        "212FBAA34AB64CA4A67FDEB047D89BD7B03BE86E",
                        "ffffffffffffffffffffffffffffffffffffffff",
                        "212fbaa3",
                        ""};

// One kind of argument: a capital letter from the grammar.
std::string Draw(char kind, int index, FuzzedDataProvider& fdp);
// A generated Lua script (for EVAL and SCRIPT LOAD).
std::string LuaScript(int index, FuzzedDataProvider& fdp);

std::string PickFrom(const Alphabet& a, FuzzedDataProvider& fdp) {
  return a[fdp.ConsumeIntegralInRange<size_t>(0, a.size() - 1)];
}

// Any argument, for mutations.
std::string Anything(FuzzedDataProvider& fdp) {
  static const std::vector<const Alphabet*> kAll = {&kKeys,  &kValues, &kNumbers, &kFloats,
                                                    &kWords, &kGlobs,  &kDbs};
  return PickFrom(*kAll[fdp.ConsumeIntegralInRange<size_t>(0, kAll.size() - 1)], fdp);
}

std::string Draw(char kind, int index, FuzzedDataProvider& fdp) {
  switch (kind) {
    case 'K':
      return PickFrom(kKeys, fdp);
    case 'V':
      return PickFrom(kValues, fdp);
    case 'N':
      return PickFrom(kNumbers, fdp);
    case 'O':
      return PickFrom(kOffsets, fdp);
    case 'F':
      return PickFrom(kFloats, fdp);
    case 'T':  // relative seconds: far enough in the future, unique per command
      if (fdp.ConsumeBool()) return std::to_string(100000 + 100 * index);
      return PickFrom(kBadRelative, fdp);
    case 'P':  // relative milliseconds, in a range no 'T' can reach
      if (fdp.ConsumeBool()) return std::to_string(200000000LL + 100000LL * index);
      return PickFrom(kBadRelative, fdp);
    case 'A':
      return PickFrom(kUnixSeconds, fdp);
    case 'B':
      return PickFrom(kUnixMillis, fdp);
    case 'G':
      return PickFrom(kGlobs, fdp);
    case 'C':
      return PickFrom(kCursors, fdp);
    case 'D':
      return PickFrom(kDbs, fdp);
    case 'I':
      return PickFrom(kInfoSections, fdp);
    case 'W':
      return PickFrom(kConfigPatterns, fdp);
    case 'S':
      return Anything(fdp);
    case 'Q':
      return PickFrom(kCounts, fdp);
    case 'L':
      return PickFrom(kLex, fdp);
    case 'X':
      return LuaScript(index, fdp);
    case 'Y':
      return PickFrom(kFixedScripts, fdp);
    case 'H':
      return PickFrom(kShas, fdp);
  }
  return std::string(1, kind);
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t i = s.find(sep, start);
    out.push_back(s.substr(start, i == std::string_view::npos ? i : i - start));
    if (i == std::string_view::npos) return out;
    start = i + 1;
  }
}

void ExpandWord(std::string_view word, int index, FuzzedDataProvider& fdp,
                std::vector<std::string>* args) {
  if (word.size() == 1 && isupper(static_cast<unsigned char>(word[0]))) {
    args->push_back(Draw(word[0], index, fdp));
  } else if (word == "+NK") {  // EVAL's numkeys, then that many keys
    int n = fdp.ConsumeIntegralInRange(0, 3);
    args->push_back(std::to_string(n));
    for (int i = 0; i < n; ++i) args->push_back(Draw('K', index, fdp));
  } else if (word == "+K" || word == "+KV") {
    int n = fdp.ConsumeIntegralInRange(1, 4);
    for (int i = 0; i < n; ++i) {
      args->push_back(Draw('K', index, fdp));
      if (word == "+KV") args->push_back(Draw('V', index, fdp));
    }
  } else if (word[0] == '?' || word[0] == '!' || word[0] == '*') {
    std::vector<std::string_view> alternatives = Split(word.substr(1), '|');
    int times = word[0] == '!'   ? 1
                : word[0] == '?' ? (fdp.ConsumeBool() ? 1 : 0)
                                 : fdp.ConsumeIntegralInRange(0, 3);
    for (int t = 0; t < times; ++t) {
      std::string_view alt =
          alternatives[fdp.ConsumeIntegralInRange<size_t>(0, alternatives.size() - 1)];
      for (std::string_view w : Split(alt, '_')) ExpandWord(w, index, fdp, args);
    }
  } else {
    args->emplace_back(word);
  }
}

// Mutations that reach the error paths: arity, syntax, wrong values, name case.
void Mutate(const Template& t, std::vector<std::string>* args, FuzzedDataProvider& fdp) {
  switch (fdp.ConsumeIntegralInRange(0, 9)) {
    case 0:  // the command name in other cases
      for (char& c : (*args)[0]) {
        if (fdp.ConsumeBool()) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
      }
      break;
    case 1:
      if (t.mutable_args && args->size() > 1) args->pop_back();
      break;
    case 2:
      if (t.mutable_args) args->push_back(Anything(fdp));
      break;
    case 3:
      if (t.mutable_args && args->size() > 1) {
        (*args)[fdp.ConsumeIntegralInRange<size_t>(1, args->size() - 1)] = Anything(fdp);
      }
      break;
    default:  // most commands stay as the grammar wrote them
      break;
  }
}

// The same command as an inline line. Any argument can be written inline: quoted, with \xHH
// escapes for CR, LF, quotes and other bytes; only plain words go unquoted.
std::string EncodeInline(const std::vector<std::string>& args) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string line;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) line.push_back(' ');
    const std::string& a = args[i];
    bool simple = !a.empty();
    for (unsigned char c : a) {
      if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '\\') simple = false;
    }
    // An unquoted first word starting with '*' would be read as a multibulk header.
    if (i == 0 && !a.empty() && a[0] == '*') simple = false;
    if (simple) {
      line += a;
      continue;
    }
    line.push_back('"');
    for (unsigned char c : a) {
      if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
        line.push_back(static_cast<char>(c));
      } else {
        line += "\\x";
        line.push_back(kHex[c >> 4]);
        line.push_back(kHex[c & 15]);
      }
    }
    line.push_back('"');
  }
  return line + "\r\n";
}

std::string Lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Which replies may legitimately differ between the servers, by command (and subcommand).
Compare CompareFor(const std::vector<std::string>& args) {
  std::string name = Lower(args[0]);
  std::string sub = args.size() > 1 ? Lower(args[1]) : "";
  // TTL and friends are exact: both servers share one frozen keyspace clock.
  if (name == "keys") return Compare::kSorted;
  // Random picks: which element comes out depends on the shard's random state.
  if (name == "srandmember" || name == "hrandfield" || name == "zrandmember") return Compare::kType;
  // SCAN: cursors and batches depend on the shard count. HELLO: the client id. The rest:
  // time, counters and connection addresses.
  if (name == "scan" || name == "randomkey" || name == "time" || name == "info" || name == "hello")
    return Compare::kType;
  if (name == "client" && (sub == "id" || sub == "list" || sub == "info")) return Compare::kType;
  if (name == "config" && sub == "get") return Compare::kConfigGet;
  return Compare::kExact;
}

// A Lua string literal for any bytes: printable ones as they are, the rest as \ddd.
std::string LuaQuote(std::string_view bytes) {
  std::string out = "'";
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\" + std::to_string(c);
    }
  }
  return out + "'";
}

// Commands a generated script may call: everything in the grammar whose reply is
// deterministic and the same on both servers, except what would disturb the connection or
// the harness from inside a script (and what scripts may not run anyway, kept out so the
// scripts spend their commands on data).
bool UsableInScript(const std::vector<std::string>& args) {
  static const Alphabet kNever = {"shutdown",   "quit",    "client", "hello",   "auth",
                                  "reset",      "config",  "multi",  "exec",    "watch",
                                  "discard",    "unwatch", "eval",   "evalsha", "eval_ro",
                                  "evalsha_ro", "script"};
  std::string name = Lower(args[0]);
  for (const std::string& n : kNever) {
    if (name == n) return false;
  }
  return CompareFor(args) == Compare::kExact;
}

// One redis.call / redis.pcall of a command from the grammar: its arguments as Lua strings,
// now and then a key or an argument of the script itself, or a Lua number.
std::string LuaCommandCall(const char* function, int index, FuzzedDataProvider& fdp) {
  std::vector<std::string> args;
  for (int attempt = 0; attempt < 4; ++attempt) {
    args.clear();
    const Template& t = kTemplates[fdp.ConsumeIntegralInRange<size_t>(0, kTemplates.size() - 1)];
    for (std::string_view w : Split(t.grammar, ' ')) ExpandWord(w, index, fdp, &args);
    if (UsableInScript(args)) break;
    args = {"get", PickFrom(kKeys, fdp)};
  }
  // A script that writes a value too big for the undo log (over 64 KB) and then reaches
  // another shard's key fails by design with 3 shards ("declare every key the script uses"),
  // not with 1: keep the scripts' own SETRANGE offsets small.
  if (Lower(args[0]) == "setrange" && args.size() > 2 && args[2].size() > 4) args[2] = "100";
  std::string call = StrCat(function, "(", LuaQuote(args[0]));
  for (size_t i = 1; i < args.size(); ++i) {
    call += ", ";
    switch (fdp.ConsumeIntegralInRange(0, 11)) {
      case 0:
        call += StrCat("KEYS[", fdp.ConsumeIntegralInRange(1, 2), "]");
        break;
      case 1:
        call += StrCat("ARGV[", fdp.ConsumeIntegralInRange(1, 2), "]");
        break;
      case 2:
        call += PickFrom({"1", "-1", "0", "3.5", "0.1", "1e20", "2^53", "true", "{}"}, fdp);
        break;
      default:
        call += LuaQuote(args[i]);
    }
  }
  return call + ")";
}

// Values a script returns as they are: every branch of the Lua -> RESP conversion.
const Alphabet kLuaValues = {"1",
                             "-3.99",
                             "0.5",
                             "'s'",
                             "''",
                             "true",
                             "false",
                             "nil",
                             "{}",
                             "{1, nil, 3}",
                             "{1, {2, {'x'}}, false, true}",
                             "{a = 1}",
                             "{err = 'E custom'}",
                             "{err = ''}",
                             "{ok = 'fine'}",
                             "{double = 2.5}",
                             "{double = 1/0}",
                             "{map = {a = 1}}",
                             "{set = {m = true}}",
                             "{big_number = '12345678901234567890'}",
                             "{verbatim_string = {format = 'txt', string = 'v'}}",
                             "redis.error_reply('X y')",
                             "redis.status_reply('S')",
                             "#KEYS + #ARGV",
                             "KEYS[1]",
                             "ARGV[1]",
                             "redis.sha1hex(ARGV[1] or '')",
                             "cjson.encode({1, 'a', {b = false}})",
                             "cjson.decode('[1, {\"a\": null}]')",
                             "cmsgpack.unpack(cmsgpack.pack({1, 'x'}))",
                             "bit.tohex(bit.bxor(7, 255))",
                             "struct.unpack('>i2', struct.pack('>i2', -5))",
                             "tostring(0.1 + 0.2)",
                             "redis.REDIS_VERSION"};

// A short script: maybe redis.setresp(3), one to three commands (raising, pcall'd or caught
// with Lua's pcall), then a return of a command's reply, a call's result or a literal; now and
// then an error instead (a syntax error, error(), a missing or new global).
std::string LuaScript(int index, FuzzedDataProvider& fdp) {
  std::string body;
  if (fdp.ConsumeIntegralInRange(0, 7) == 0) body += "#!lua flags=no-writes\n";
  if (fdp.ConsumeIntegralInRange(0, 3) == 0) body += "redis.setresp(3)\n";
  if (fdp.ConsumeIntegralInRange(0, 7) == 0) body += "math.randomseed(7)\n";
  int statements = fdp.ConsumeIntegralInRange(0, 3);
  for (int i = 1; i <= statements; ++i) {
    switch (fdp.ConsumeIntegralInRange(0, 2)) {
      case 0:
        body += StrCat("local r", i, " = ", LuaCommandCall("redis.call", index, fdp), "\n");
        break;
      case 1:
        body += StrCat("local r", i, " = ", LuaCommandCall("redis.pcall", index, fdp), "\n");
        break;
      case 2: {
        // Lua's pcall: r is false or the reply; the error message is dropped.
        std::string call = LuaCommandCall("redis.call", index, fdp);
        size_t open = call.find('(');
        body +=
            StrCat("local ok", i, ", r", i, " = pcall(redis.call, ", call.substr(open + 1), "\n");
        break;
      }
    }
  }
  switch (fdp.ConsumeIntegralInRange(0, 9)) {
    case 0:
    case 1:
      body += "return " + LuaCommandCall("redis.call", index, fdp);
      break;
    case 2:
      body += "return " + LuaCommandCall("redis.pcall", index, fdp);
      break;
    case 3:
      if (statements > 0) {
        body += StrCat("return r", fdp.ConsumeIntegralInRange(1, statements));
        break;
      }
      [[fallthrough]];
    case 4:
      if (statements > 0) {
        body += "return {";
        for (int i = 1; i <= statements; ++i) body += StrCat(i > 1 ? ", " : "", "r", i);
        body += "}";
        break;
      }
      [[fallthrough]];
    case 5:
    case 6:
    case 7:
      body += "return " + PickFrom(kLuaValues, fdp);
      break;
    case 8:
      body += "return math.random(100)";
      break;
    case 9:
      body += PickFrom({"return 1 +", "error('boom')", "error({err = 'CODE x'})",
                        "return nosuchglobal", "newglobal = 1", "return ARGV[1] .. nil",
                        "redis.setresp(4)", "return redis.call()", "local t = {} t.x.y = 1"},
                       fdp);
      break;
  }
  return body;
}

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kOneByOne:
      return "one-by-one";
    case Mode::kPipelined:
      return "pipelined";
    case Mode::kPipelinedCut:
      return "pieces";
    case Mode::kBatches:
      return "batches";
  }
  return "?";
}

// A word of the text format: as is if plain, else double-quoted with escapes.
std::string QuoteWord(std::string_view w) {
  static constexpr char kHex[] = "0123456789abcdef";
  bool plain = !w.empty() && w != "---" && w[0] != '@' && w[0] != '#';
  for (unsigned char c : w) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') plain = false;
  }
  if (plain) return std::string(w);
  std::string out = "\"";
  for (unsigned char c : w) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out + "\"";
}

// Splits a line of the text format into words (QuoteWord's inverse). False on an unbalanced
// quote or a bad escape.
bool SplitWords(std::string_view line, std::vector<std::string>* out) {
  size_t i = 0;
  while (true) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) return true;
    std::string w;
    if (line[i] != '"') {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') w.push_back(line[i++]);
      out->push_back(std::move(w));
      continue;
    }
    ++i;
    while (true) {
      if (i >= line.size()) return false;
      char c = line[i++];
      if (c == '"') break;
      if (c != '\\') {
        w.push_back(c);
        continue;
      }
      if (i >= line.size()) return false;
      char e = line[i++];
      if (e == 'r') {
        w.push_back('\r');
      } else if (e == 'n') {
        w.push_back('\n');
      } else if (e == 'x' && i + 2 <= line.size() &&
                 isxdigit(static_cast<unsigned char>(line[i])) &&
                 isxdigit(static_cast<unsigned char>(line[i + 1]))) {
        w.push_back(static_cast<char>(std::stoi(std::string(line.substr(i, 2)), nullptr, 16)));
        i += 2;
      } else if (e == '"' || e == '\\') {
        w.push_back(e);
      } else {
        return false;
      }
    }
    out->push_back(std::move(w));
  }
}

// A blocking pop waits as long as its timeout says; scripts may have drawn or appended
// anything there. Keep the errors (not a number, negative, out of range) and make every
// timeout that would block longer than 50 ms (or forever) a 10 ms one.
void BoundBlockingTimeout(Command& c) {
  std::string name = Lower(c.args[0]);
  size_t at;
  if (name == "blpop" || name == "brpop" || name == "bzpopmin" || name == "bzpopmax" ||
      name == "blmove" || name == "brpoplpush") {
    at = c.args.size() - 1;
  } else if (name == "blmpop" || name == "bzmpop") {
    at = 1;
  } else {
    return;
  }
  if (at == 0 || at >= c.args.size()) return;
  const std::string& t = c.args[at];
  if (t.empty() || isspace(static_cast<unsigned char>(t[0]))) return;
  char* end = nullptr;
  long double v = strtold(t.c_str(), &end);
  if (end != t.c_str() + t.size() || std::isnan(v)) return;
  long double ms = v * 1000;
  if (ms > -1 && ms < 9.2e18L && !(ms >= 1 && ms <= 50)) c.args[at] = "0.01";
}

// Fills in what follows from the commands: wire bytes and how replies compare. Makes the
// last command wait (so batches end with a read).
void Finish(Script* script) {
  // Inside MULTI a command's reply is +QUEUED (or an error), both exact; its real reply comes
  // in EXEC's array, which is compared exactly only if every queued command's reply would be.
  bool in_multi = false;
  Compare exec_compare = Compare::kExact;
  for (Command& c : script->commands) {
    switch (c.kind) {
      case Command::kCommand: {
        BoundBlockingTimeout(c);
        c.wire = c.inline_command ? EncodeInline(c.args) : EncodeMultibulk(c.args);
        c.compare = CompareFor(c.args);
        std::string name = Lower(c.args[0]);
        if (c.args.size() != 1 && (name == "multi" || name == "discard" || name == "reset")) {
          name = "";  // an arity error: changes nothing (EXEC's discards the transaction)
        }
        if (name == "multi") {
          if (!in_multi) exec_compare = Compare::kExact;
          in_multi = true;
        } else if (name == "exec") {
          if (in_multi) c.compare = exec_compare;
          in_multi = false;
        } else if (name == "discard" || name == "reset") {
          in_multi = false;
        } else if (in_multi && name != "watch" && name != "quit") {
          if (c.compare != Compare::kExact) exec_compare = Compare::kType;
          c.compare = Compare::kExact;
        }
        break;
      }
      case Command::kEmpty:
      case Command::kProtocolError:
        c.wire = c.args[0];
        c.compare = Compare::kExact;
        break;
    }
  }
  if (!script->commands.empty()) script->commands.back().sync = true;
}
}  // namespace

std::string EncodeMultibulk(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  }
  return out;
}

std::vector<std::string> RestoreConfigCommand() {
  return {"CONFIG",
          "SET",
          "pipeline-group-max-commands",
          "1024",
          "protected-mode",
          "yes",
          "proto-max-bulk-len",
          "536870912",
          "client-query-buffer-limit",
          "1073741824",
          "tcp-keepalive",
          "300",
          "timeout",
          "0"};
}

Script DecodeScript(const uint8_t* data, size_t size, bool text_scripts) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (text_scripts && text.rfind(kScriptMagic, 0) == 0) {
    Script script;
    std::string error;
    if (!ParseScriptText(text, &script, &error)) {
      // A regression that no longer parses must not pass quietly.
      fprintf(stderr, "command_fuzz: bad script text: %s\n", error.c_str());
      abort();
    }
    return script;
  }
  FuzzedDataProvider fdp(data, size);
  Script script;
  script.mode = fdp.PickValueInArray(
      {Mode::kOneByOne, Mode::kPipelined, Mode::kPipelinedCut, Mode::kBatches});
  int n = fdp.ConsumeIntegralInRange(1, kMaxCommands);
  bool quit = false;
  for (int i = 0; i < n && fdp.remaining_bytes() > 0; ++i) {
    Command c;
    size_t pick = fdp.ConsumeIntegralInRange<size_t>(0, kTemplates.size() + 3);
    if (pick < kTemplates.size()) {
      const Template& t = kTemplates[pick];
      for (std::string_view w : Split(t.grammar, ' ')) ExpandWord(w, i, fdp, &c.args);
      Mutate(t, &c.args, fdp);
    } else {
      // A name from the table or not, with arbitrary arguments: arity and unknown-command
      // errors, and commands reached through odd spellings.
      static const Alphabet kFreeNames = {"nosuch", "GET",  "Set",  "mset", "DEL",
                                          "exists", "incr", "ECHO", "",     "get|x",
                                          "select", "scan", "ping", "type", "command"};
      c.args.push_back(PickFrom(kFreeNames, fdp));
      int extra = fdp.ConsumeIntegralInRange(0, 4);
      for (int j = 0; j < extra; ++j) c.args.push_back(Anything(fdp));
    }
    c.inline_command = fdp.ConsumeIntegralInRange(0, 7) == 0;
    c.sync = script.mode == Mode::kOneByOne ||
             (script.mode == Mode::kBatches && fdp.ConsumeIntegralInRange(0, 3) == 0);
    if (fdp.ConsumeIntegralInRange(0, 15) == 0) {
      Command empty;
      empty.kind = Command::kEmpty;
      empty.args = {PickFrom(kEmptyRequests, fdp)};
      empty.sync = script.mode == Mode::kOneByOne;
      script.commands.push_back(std::move(empty));
    }
    script.commands.push_back(std::move(c));
    // Nothing is read after QUIT: the server closes, and a reset may drop replies in flight.
    if (Lower(script.commands.back().args[0]) == "quit") {
      quit = true;
      break;
    }
  }
  if (!quit && fdp.remaining_bytes() > 0 && fdp.ConsumeIntegralInRange(0, 7) == 0) {
    Command error;
    error.kind = Command::kProtocolError;
    error.args = {PickFrom(kProtocolErrors, fdp)};
    script.commands.push_back(std::move(error));
  }
  Finish(&script);
  if (script.mode == Mode::kPipelinedCut) {
    size_t total = 0;
    for (const Command& c : script.commands) total += c.wire.size();
    int cuts = fdp.ConsumeIntegralInRange(1, 4);
    for (int i = 0; i < cuts && total > 1; ++i)
      script.cuts.push_back(fdp.ConsumeIntegralInRange<size_t>(1, total - 1));
    std::sort(script.cuts.begin(), script.cuts.end());
  }
  return script;
}

std::string DescribeScript(const Script& script) {
  std::string out = StrCat(kScriptMagic, " ", ModeName(script.mode));
  for (size_t cut : script.cuts) out += " " + std::to_string(cut);
  out += "\n";
  for (size_t i = 0; i < script.commands.size(); ++i) {
    const Command& c = script.commands[i];
    if (c.kind == Command::kEmpty) out += "@empty ";
    if (c.kind == Command::kProtocolError) out += "@error ";
    if (c.inline_command) out += "@inline ";
    for (size_t j = 0; j < c.args.size(); ++j) {
      if (j > 0) out += " ";
      out += QuoteWord(c.args[j]);
    }
    out += "\n";
    if (c.sync && script.mode == Mode::kBatches && i + 1 < script.commands.size()) out += "---\n";
  }
  return out;
}

bool ParseScriptText(std::string_view text, Script* script, std::string* error) {
  *script = Script();
  std::vector<std::string_view> lines = Split(text, '\n');
  std::vector<std::string> header;
  if (!SplitWords(lines[0], &header) || header.size() < 2 || header[0] != kScriptMagic) {
    *error = "the first line is not \"#!command_fuzz MODE\"";
    return false;
  }
  static const std::vector<std::pair<std::string_view, Mode>> kModes = {
      {"one-by-one", Mode::kOneByOne},
      {"pipelined", Mode::kPipelined},
      {"pieces", Mode::kPipelinedCut},
      {"batches", Mode::kBatches}};
  bool known = false;
  for (const auto& [name, mode] : kModes) {
    if (header[1] == name) {
      script->mode = mode;
      known = true;
    }
  }
  if (!known) {
    *error = "unknown mode " + header[1];
    return false;
  }
  for (size_t i = 2; i < header.size(); ++i) {
    script->cuts.push_back(static_cast<size_t>(strtoull(header[i].c_str(), nullptr, 10)));
  }
  for (size_t l = 1; l < lines.size(); ++l) {
    std::string_view line = lines[l];
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    if (line == "---") {
      if (!script->commands.empty()) script->commands.back().sync = true;
      continue;
    }
    Command c;
    std::vector<std::string> words;
    if (!SplitWords(line, &words) || words.empty()) {
      *error = StrCat("line ", l + 1, ": unbalanced quotes or nothing to send");
      return false;
    }
    if (words[0] == "@empty" || words[0] == "@error" || words[0] == "@inline") {
      c.kind = words[0] == "@empty"   ? Command::kEmpty
               : words[0] == "@error" ? Command::kProtocolError
                                      : Command::kCommand;
      c.inline_command = words[0] == "@inline";
      words.erase(words.begin());
      if (words.empty() || (c.kind != Command::kCommand && words.size() != 1)) {
        *error = StrCat("line ", l + 1, ": ", lines[l]);
        return false;
      }
    }
    c.args = std::move(words);
    c.sync = script->mode == Mode::kOneByOne;
    script->commands.push_back(std::move(c));
  }
  if (script->commands.empty()) {
    *error = "no commands";
    return false;
  }
  Finish(script);
  return true;
}

}  // namespace omnibus::fuzz
