// Hostile and careless clients against the real binary: garbage bytes, absurd lengths,
// half-sent commands, clients that never read, clients that die mid-pipeline, connection
// floods and running out of descriptors. Every test checks three things: the offender gets
// Redis's error or is closed, every other client is still served, and no acknowledged write
// is lost. Expected texts were checked against Debian's redis-server 7.0.15.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "omnibus/base/str_cat.h"
#include "testing/server_process.h"

namespace omnibus::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

class HostileTest : public ShardedServerTest {};

// Milliseconds left until `until` (at least 1, so a read still polls once).
milliseconds Left(Clock::time_point until) {
  return std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(until - Clock::now()));
}

std::string Multibulk(const std::vector<std::string>& args) {
  std::string out = StrCat("*", args.size(), "\r\n");
  for (const std::string& a : args) StrAppend(&out, "$", a.size(), "\r\n", a, "\r\n");
  return out;
}

// Sends `data` on `fd` without blocking for long: stops when all of it is sent, the
// connection fails (*failed), or the peer took nothing for `stall` (it stopped reading).
// `between` runs between attempts, e.g. a bystander's round trip.
size_t SendUntilStalled(int fd, std::string_view data, milliseconds stall, bool* failed,
                        const std::function<void()>& between) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  size_t sent = 0;
  *failed = false;
  while (sent < data.size()) {
    ssize_t n =
        send(fd, data.data() + sent, std::min<size_t>(data.size() - sent, 64 * 1024), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      between();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, static_cast<int>(stall.count())) == 0) break;  // the peer stopped reading
      between();
      continue;
    }
    *failed = true;
    break;
  }
  return sent;
}

int LocalPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  return ntohs(addr.sin_port);
}

// A field of the CLIENT LIST line of the client whose address ends in `port`, or nullopt if
// that client is not connected.
std::optional<int64_t> ClientListField(redisContext* c, int port, std::string_view field) {
  Reply r = Command(c, {"CLIENT", "LIST"});
  auto text = StringOf(r.get());
  if (!text) return std::nullopt;
  size_t line = text->find(StrCat(" addr=127.0.0.1:", port, " "));
  if (line == std::string::npos) return std::nullopt;
  size_t pos = text->find(StrCat(" ", field, "="), line);
  if (pos == std::string::npos) return std::nullopt;
  return strtoll(text->c_str() + pos + field.size() + 2, nullptr, 10);
}

// Every reply line is a Redis error (no reply smuggled in by the garbage) and a protocol
// error, if any, is the last one.
void ExpectOnlyErrorLines(const std::string& got) {
  size_t pos = 0;
  while (pos < got.size()) {
    size_t end = got.find("\r\n", pos);
    ASSERT_NE(end, std::string::npos) << "incomplete reply line: " << ::testing::PrintToString(got);
    std::string line = got.substr(pos, end - pos);
    EXPECT_TRUE(line.starts_with("-ERR ")) << ::testing::PrintToString(line);
    if (line.starts_with("-ERR Protocol error")) {
      EXPECT_EQ(end + 2, got.size()) << "replies after a protocol error";
    }
    pos = end + 2;
  }
}

struct Exchange {
  std::string send;
  std::string reply;  // exactly what Redis answers
  bool closes;        // and whether it then closes the connection
};

TEST_P(HostileTest, GarbageBytes) {
  Bystander bystander(*server_, "garbage");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  const std::vector<Exchange> cases = {
      // Not '*': an inline command named by the bytes; Redis answers and keeps the client.
      {"\xff\xfe\xfd\xfc\r\n",
       "-ERR unknown command '\xff\xfe\xfd\xfc', with args beginning with: \r\n", false},
      // A complete command, then garbage where the next one should start. The two bytes
      // after a bulk are skipped unchecked (as in Redis), the rest is an inline command.
      {std::string("*1\r\n$3\r\nfoo\x00\xff\xfe garbage\r\n", 24),
       "-ERR unknown command 'foo', with args beginning with: \r\n"
       "-ERR unknown command '\xfe', with args beginning with: 'garbage' \r\n",
       false},
      {"*1\r\n$3\r\nfoo\r\n*zz\r\n",
       "-ERR unknown command 'foo', with args beginning with: \r\n"
       "-ERR Protocol error: invalid multibulk length\r\n",
       true},
      // CR/LF inside arguments must not inject replies: Redis turns them into spaces.
      {"\"FOO\\r\\n+OK\" \"a\\r\\nb\"\r\n",
       "-ERR unknown command 'FOO  +OK', with args beginning with: 'a  b' \r\n", false},
      {"*2\r\n$7\r\nFO\r\n+OK\r\n$1\r\n\n\r\n",
       "-ERR unknown command 'FO  +OK', with args beginning with: ' ' \r\n", false},
      // Negative multibulk counts are skipped, like an empty line.
      {"*-3\r\nPING\r\n", "+PONG\r\n", false},
  };
  for (const Exchange& ex : cases) {
    SCOPED_TRACE(::testing::PrintToString(ex.send));
    RawClient raw(server_->ConnectRaw());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.Send(ex.send));
    EXPECT_EQ(raw.ReadExactly(ex.reply.size()), ex.reply);
    if (ex.closes) {
      EXPECT_TRUE(raw.WaitForEof()) << "not closed after a protocol error";
    } else {
      // Still a working connection.
      ASSERT_TRUE(raw.Send("PING\r\n"));
      EXPECT_EQ(raw.ReadExactly(7), "+PONG\r\n");
    }
    EXPECT_TRUE(bystander.Served());
  }

  // Random binary (fixed seeds): whatever it parses to, the answers are errors, nothing
  // else, and the server keeps serving everyone. Sent on all connections at once, so one
  // deadline covers the ones the server keeps open waiting for more bytes.
  std::vector<std::unique_ptr<RawClient>> raws;
  for (unsigned seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    std::string blob(4096, '\0');
    for (char& ch : blob) ch = static_cast<char>(rng());
    if (seed % 3 == 0) blob[0] = '*';  // some start like a multibulk
    if (seed % 3 == 1) blob = "*1\r\n$3\r\nfoo" + blob;
    raws.push_back(std::make_unique<RawClient>(server_->ConnectRaw()));
    ASSERT_TRUE(raws.back()->ok());
    raws.back()->Send(blob);  // may fail once the server closed on an early error
  }
  EXPECT_TRUE(bystander.Write());
  auto until = Clock::now() + milliseconds(1500);
  for (size_t i = 0; i < raws.size(); ++i) {
    SCOPED_TRACE(StrCat("random blob ", i + 1));
    bool eof = false;
    ExpectOnlyErrorLines(raws[i]->ReadToEof(&eof, Left(until)));
  }
  raws.clear();
  EXPECT_TRUE(bystander.Served());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(HostileTest, AbsurdLengthsAndQuotes) {
  Bystander bystander(*server_, "lengths");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  const std::string kBadBulk = "-ERR Protocol error: invalid bulk length\r\n";
  const std::string kBadCount = "-ERR Protocol error: invalid multibulk length\r\n";
  const std::string kQuotes = "-ERR Protocol error: unbalanced quotes in request\r\n";
  const std::vector<Exchange> cases = {
      // One past the default proto-max-bulk-len (512mb), and past int64.
      {"*2\r\n$3\r\nGET\r\n$536870913\r\n", kBadBulk, true},
      {"*1\r\n$" + std::string(40, '9') + "\r\n", kBadBulk, true},
      {"*1\r\n$-3\r\n", kBadBulk, true},
      {"*1\r\n$-1\r\n", kBadBulk, true},
      // 2^31 is past Redis's multibulk limit (INT_MAX); so is a count past int64.
      {"*2147483648\r\n", kBadCount, true},
      {"*1" + std::string(20, '0') + "\r\n", kBadCount, true},
      // Header lines and inline commands over 64 KB without a newline.
      {"*" + std::string(70000, '1'), "-ERR Protocol error: too big mbulk count string\r\n", true},
      {"*1\r\n$" + std::string(70000, '1'), "-ERR Protocol error: too big bulk count string\r\n",
       true},
      {std::string(70000, 'A'), "-ERR Protocol error: too big inline request\r\n", true},
      {"SET \"abc\r\n", kQuotes, true},
      {"SET 'abc\r\n", kQuotes, true},
      {"SET \"abc\"x y\r\n", kQuotes, true},
  };
  for (const Exchange& ex : cases) {
    SCOPED_TRACE(::testing::PrintToString(ex.send.substr(0, 40)));
    RawClient raw(server_->ConnectRaw());
    ASSERT_TRUE(raw.ok());
    raw.Send(ex.send);  // may fail part-way once the server has answered and closed
    bool eof = false;
    EXPECT_EQ(raw.ReadToEof(&eof), ex.reply);
    EXPECT_TRUE(eof) << "not closed after a protocol error";
    EXPECT_TRUE(bystander.Served());
  }
  EXPECT_TRUE(bystander.Write());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(HostileTest, HugeCountsWithNothingAfterThemAllocateNothing) {
  Bystander bystander(*server_, "huge");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  int64_t rss_before = server_->ProcStatusKb("VmRSS");
  ASSERT_GT(rss_before, 0);
  // Legal claims (2^31-1 arguments; one bulk of exactly proto-max-bulk-len) that are never
  // followed up: like Redis, the server waits for the rest without reserving the claimed
  // size. 2^31-1 argument slots alone would be 32 GB.
  const std::vector<std::string> claims = {"*2147483647\r\n", "*2\r\n$3\r\nSET\r\n$536870912\r\n"};
  std::vector<std::unique_ptr<RawClient>> raws;
  std::vector<std::pair<int, size_t>> expected_qbuf;  // (port, bytes sent)
  for (int i = 0; i < 20; ++i) {
    const std::string& claim = claims[static_cast<size_t>(i) % claims.size()];
    raws.push_back(std::make_unique<RawClient>(server_->ConnectRaw()));
    ASSERT_TRUE(raws.back()->ok());
    ASSERT_TRUE(raws.back()->Send(claim));
    expected_qbuf.emplace_back(LocalPort(raws.back()->fd()), claim.size());
  }
  // Wait until the server has read every claim (it holds them as unparsed query buffer).
  ASSERT_TRUE(PollUntil(
      [&] {
        for (auto [port, bytes] : expected_qbuf) {
          auto qbuf = ClientListField(bystander.get(), port, "qbuf");
          if (!qbuf || *qbuf != static_cast<int64_t>(bytes)) return false;
        }
        return true;
      },
      milliseconds(10000)))
      << "the server did not read every claim";
  EXPECT_TRUE(bystander.Write());
  int64_t peak = server_->ProcStatusKb("VmHWM");
  RecordProperty("peak_rss_growth_kb", peak - rss_before);
  EXPECT_LT(peak - rss_before, 32 * 1024)
      << "RSS grew from " << rss_before << " kB to a peak of " << peak << " kB";
  // Nobody was answered or closed: they may still send the rest.
  for (auto& raw : raws) {
    bool eof = false;
    EXPECT_EQ(raw->ReadToEof(&eof, milliseconds(1)), "");
    EXPECT_FALSE(eof);
  }
  raws.clear();
  EXPECT_TRUE(bystander.Served());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(HostileTest, QueryBufferLimitOnASlowlySentBulk) {
  StartServer({"--client-query-buffer-limit", "1mb", "--proto-max-bulk-len", "16mb"});
  Bystander bystander(*server_, "qbuf");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  constexpr size_t kBulk = 4 * 1024 * 1024;
  ASSERT_TRUE(raw.Send(StrCat("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$", kBulk, "\r\n")));
  // 64 KB at a time, each followed by the bystander's round trips: the bulk trickles in.
  std::string chunk(64 * 1024, 'q');
  size_t sent = 0;
  while (sent < kBulk && raw.Send(chunk)) {
    sent += chunk.size();
    ASSERT_TRUE(bystander.Served());
    if (sent % (512 * 1024) == 0) {
      ASSERT_TRUE(bystander.Write(2));
    }
  }
  bool eof = false;
  EXPECT_EQ(raw.ReadToEof(&eof), "");  // Redis closes without a reply
  EXPECT_TRUE(eof) << "client past client-query-buffer-limit not closed (sent " << sent << ")";
  EXPECT_THAT(server_->Log(), HasSubstr("Closing client that reached max query buffer length"));
  // Not in Redis 7.0's INFO (7.2 added it); Omnibus reports it.
  EXPECT_EQ(InfoInt(bystander.get(), "stats", "client_query_buffer_limit_disconnections"), 1);
  EXPECT_THAT(Command(bystander.get(), {"EXISTS", "big"}), IsInt(0));
  EXPECT_TRUE(bystander.Write());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(HostileTest, SlowlorisDoesNotBlockOthers) {
  Bystander bystander(*server_, "slowloris");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  // Half a command, a multibulk header alone, and half of a big bulk, then silence.
  RawClient half(server_->ConnectRaw());
  RawClient header(server_->ConnectRaw());
  RawClient bulk(server_->ConnectRaw());
  ASSERT_TRUE(half.ok() && header.ok() && bulk.ok());
  ASSERT_TRUE(half.Send("*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$5\r\nab"));
  ASSERT_TRUE(header.Send("*2\r\n"));
  ASSERT_TRUE(bulk.Send("*2\r\n$4\r\nECHO\r\n$100000\r\n" + std::string(50000, 'e')));
  // Many clients keep being served meanwhile.
  std::vector<std::unique_ptr<Bystander>> others;
  for (int i = 0; i < 20; ++i) {
    others.push_back(std::make_unique<Bystander>(*server_, StrCat("other", i)));
    ASSERT_TRUE(others.back()->ok());
    EXPECT_TRUE(others.back()->Write(5));
    EXPECT_TRUE(others.back()->Served());
  }
  // No timeout configured: the stallers are neither answered nor closed, and finishing the
  // command later works.
  for (RawClient* r : {&half, &header, &bulk}) {
    bool eof = false;
    EXPECT_EQ(r->ReadToEof(&eof, milliseconds(1)), "");
    EXPECT_FALSE(eof);
  }
  ASSERT_TRUE(half.Send("cde\r\n"));
  EXPECT_EQ(half.ReadExactly(5), "+OK\r\n");
  ASSERT_TRUE(bulk.Send(std::string(50000, 'e') + "\r\n"));
  EXPECT_EQ(bulk.ReadExactly(100000 + 10).size(), 100000u + 10);
  EXPECT_THAT(Command(bystander.get(), {"GET", "slow"}), IsBulk("abcde"));
  for (auto& o : others) EXPECT_TRUE(o->WritesIntact());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(HostileTest, SlowlorisIsClosedByTimeout) {
  StartServer({"--timeout", "1"});
  Bystander bystander(*server_, "slowloris-timeout");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  RawClient half(server_->ConnectRaw());
  ASSERT_TRUE(half.ok());
  ASSERT_TRUE(half.Send("*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$5\r\nab"));
  auto stalled_at = Clock::now();
  // The bystander stays busy (so only the staller is idle) until the staller is closed.
  bool closed = PollUntil(
      [&] {
        EXPECT_TRUE(bystander.Served());
        return half.WaitForEof(milliseconds(20));
      },
      milliseconds(5000));
  auto elapsed = Clock::now() - stalled_at;
  EXPECT_TRUE(closed) << "half-sent command not closed within 5 s with --timeout 1";
  EXPECT_GE(elapsed, milliseconds(900)) << "closed before the 1 s timeout";
  EXPECT_TRUE(bystander.Write());
  EXPECT_THAT(Command(bystander.get(), {"EXISTS", "slow"}), IsInt(0));
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(HostileTest, ClientKilledMidPipeline) {
  Bystander bystander(*server_, "midpipe");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  constexpr int kSets = 10000;
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE(StrCat("round ", round));
    {
      RawClient raw(server_->ConnectRaw());
      ASSERT_TRUE(raw.ok());
      std::string pipeline;
      for (int i = 0; i < kSets; ++i) {
        std::string key = StrCat("kill", round, ":", i);
        StrAppend(&pipeline, Multibulk({"SET", key, std::to_string(i)}));
      }
      raw.Send(pipeline);
    }  // closed without reading a single reply
    EXPECT_TRUE(bystander.Write(5));
    RedisConn c = server_->Connect();
    ASSERT_TRUE(c);
    // Wait until the server is done with the dead client (it may still be applying its
    // commands), leaving the bystander and this checker.
    ASSERT_TRUE(PollUntil([&] { return InfoInt(c.get(), "clients", "connected_clients") == 2; },
                          milliseconds(5000)));
    // The server applied some prefix of the pipeline (groups run whole and in order), the
    // rest was dropped with the connection: keys 0..m-1 exist with their values, none after.
    int first_missing = -1;
    for (int begin = 0; begin < kSets; begin += 500) {
      std::vector<std::string> keys;
      for (int i = begin; i < begin + 500; ++i) keys.push_back(StrCat("kill", round, ":", i));
      std::vector<std::string_view> args = {"MGET"};
      args.insert(args.end(), keys.begin(), keys.end());
      Reply r = Command(c, args);
      ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 500) << Describe(r);
      for (int i = begin; i < begin + 500; ++i) {
        const redisReply* e = r->element[i - begin];
        if (e->type == REDIS_REPLY_NIL) {
          if (first_missing < 0) first_missing = i;
          continue;
        }
        ASSERT_EQ(first_missing, -1) << "key " << i << " set after missing key " << first_missing;
        ASSERT_THAT(e, IsBulk(std::to_string(i)));
      }
    }
    RecordProperty(StrCat("applied_round", round), first_missing < 0 ? kSets : first_missing);
  }
  EXPECT_TRUE(server_->running());
  EXPECT_TRUE(bystander.Served());
  EXPECT_TRUE(bystander.WritesIntact());
}

// 100,000 pipelined GETs of a 10 KB value: a gigabyte of replies for a client that never
// reads them.
struct NonReader {
  static constexpr int kGets = 100000;
  static std::string Pipeline() {
    std::string out;
    for (int i = 0; i < kGets; ++i) out += "*2\r\n$3\r\nGET\r\n$3\r\nhot\r\n";
    return out;
  }
  static std::string Value() { return std::string(10 * 1024, 'v'); }
};

TEST_P(HostileTest, NonReadingClientIsHeldBackNotBuffered) {
  Bystander bystander(*server_, "nonreader");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  ASSERT_THAT(Command(bystander.get(), {"SET", "hot", NonReader::Value()}), IsStatus("OK"));
  int64_t rss_before = server_->ProcStatusKb("VmRSS");
  int64_t commands_before = InfoInt(bystander.get(), "stats", "total_commands_processed").value();
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  bool failed = false;
  SendUntilStalled(raw.fd(), NonReader::Pipeline(), milliseconds(300), &failed,
                   [&] { EXPECT_TRUE(bystander.Served()); });
  EXPECT_FALSE(failed) << "the server dropped a client that only stopped reading";
  // Wait until the server holds the client back: replies are pending for it and it makes no
  // more progress (each poll adds only its own two commands).
  const int port = LocalPort(raw.fd());
  int64_t processed = -1;
  int stable = 0;
  ASSERT_TRUE(PollUntil(
      [&] {
        auto obl = ClientListField(bystander.get(), port, "obl");
        auto now = InfoInt(bystander.get(), "stats", "total_commands_processed");
        if (!obl || !now) return false;
        stable = *obl > 0 && processed >= 0 && *now - processed <= 2 ? stable + 1 : 0;
        processed = *now;
        return stable >= 20;
      },
      milliseconds(10000)))
      << "the non-reading client never settled";
  // Omnibus stops reading from it (TCP backpressure) instead of buffering a gigabyte;
  // Redis would keep executing and buffering (its default normal limit is 0 0 0).
  EXPECT_LT(processed - commands_before, NonReader::kGets);
  RecordProperty("gets_executed_before_backpressure", processed - commands_before);
  EXPECT_TRUE(bystander.Write(50));
  EXPECT_TRUE(bystander.Served());
  // Held back, not broken: once it reads, its replies arrive in order.
  std::string reply = StrCat("$", NonReader::Value().size(), "\r\n", NonReader::Value(), "\r\n");
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(raw.ReadExactly(reply.size()), reply) << "reply " << i;
  int64_t peak = server_->ProcStatusKb("VmHWM");
  RecordProperty("peak_rss_growth_kb", peak - rss_before);
  EXPECT_LT(peak - rss_before, 64 * 1024)
      << "RSS grew from " << rss_before << " kB to a peak of " << peak << " kB";
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(HostileTest, OutputBufferHardLimitDisconnects) {
  StartServer({"--client-output-buffer-limit", "normal 1mb 0 0"});
  Bystander bystander(*server_, "hardlimit");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  EXPECT_THAT(Command(bystander.get(), {"CONFIG", "GET", "client-output-buffer-limit"}),
              IsArray(::testing::ElementsAre("client-output-buffer-limit",
                                             "normal 1048576 0 0 slave 268435456 67108864 60 "
                                             "pubsub 33554432 8388608 60")));
  ASSERT_THAT(Command(bystander.get(), {"SET", "hot", NonReader::Value()}), IsStatus("OK"));
  int64_t rss_before = server_->ProcStatusKb("VmRSS");
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  bool failed = false;
  SendUntilStalled(raw.fd(), NonReader::Pipeline(), milliseconds(300), &failed,
                   [&] { EXPECT_TRUE(bystander.Served()); });
  EXPECT_TRUE(PollUntil(
      [&] {
        EXPECT_TRUE(bystander.Served());
        return InfoInt(bystander.get(), "stats", "client_output_buffer_limit_disconnections") == 1;
      },
      milliseconds(10000)))
      << "client past the 1mb hard limit not disconnected";
  EXPECT_TRUE(raw.WaitForEof(milliseconds(10000)));
  EXPECT_THAT(server_->Log(),
              HasSubstr("scheduled to be closed ASAP for overcoming of output buffer limits"));
  EXPECT_TRUE(bystander.Write(50));
  int64_t peak = server_->ProcStatusKb("VmHWM");
  RecordProperty("peak_rss_growth_kb", peak - rss_before);
  EXPECT_LT(peak - rss_before, 64 * 1024)
      << "RSS grew from " << rss_before << " kB to a peak of " << peak << " kB";
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(HostileTest, OutputBufferHardLimitBoundsMemoryForBigReplies) {
  // Redis checks the limit as each reply is added, so a client pipelining GETs of a big
  // value is cut off after about one reply past 1 MB (redis-server 7.0.15: RSS +1 MB here).
  StartServer({"--client-output-buffer-limit", "normal 1mb 0 0"});
  Bystander bystander(*server_, "bigreplies");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  const std::string value(128 * 1024, 'b');
  ASSERT_THAT(Command(bystander.get(), {"SET", "hot", value}), IsStatus("OK"));
  int64_t rss_before = server_->ProcStatusKb("VmRSS");
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  std::string pipeline;
  for (int i = 0; i < 2000; ++i) pipeline += "*2\r\n$3\r\nGET\r\n$3\r\nhot\r\n";
  bool failed = false;
  SendUntilStalled(raw.fd(), pipeline, milliseconds(300), &failed,
                   [&] { EXPECT_TRUE(bystander.Served()); });
  EXPECT_TRUE(PollUntil(
      [&] {
        EXPECT_TRUE(bystander.Served());
        return InfoInt(bystander.get(), "stats", "client_output_buffer_limit_disconnections") == 1;
      },
      milliseconds(10000)))
      << "client past the 1mb hard limit not disconnected";
  EXPECT_TRUE(raw.WaitForEof(milliseconds(10000)));
  int64_t peak = server_->ProcStatusKb("VmHWM");
  RecordProperty("peak_rss_growth_kb", peak - rss_before);
  EXPECT_LT(peak - rss_before, 64 * 1024)
      << "RSS grew from " << rss_before << " kB to a peak of " << peak
      << " kB for a client whose output is limited to 1 MB";
  EXPECT_TRUE(bystander.Write());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(HostileTest, OutputBufferSoftLimitDisconnectsAfterItsSeconds) {
  StartServer({"--client-output-buffer-limit", "normal 0 512kb 1"});
  Bystander bystander(*server_, "softlimit");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  ASSERT_THAT(Command(bystander.get(), {"SET", "hot", NonReader::Value()}), IsStatus("OK"));
  // Over the soft limit only briefly (2 MB of replies, read at once): not disconnected.
  {
    RedisConn burst = server_->Connect();
    ASSERT_TRUE(burst);
    for (int i = 0; i < 200; ++i) AppendCommand(burst.get(), {"GET", "hot"});
    for (int i = 0; i < 200; ++i) ASSERT_THAT(GetReply(burst.get()), IsBulk(NonReader::Value()));
    EXPECT_THAT(Command(burst, {"PING"}), IsStatus("PONG"));
  }
  EXPECT_EQ(InfoInt(bystander.get(), "stats", "client_output_buffer_limit_disconnections"), 0);
  // Above it and never reading: disconnected once it has been above it for more than 1 s.
  RawClient raw(server_->ConnectRaw());
  ASSERT_TRUE(raw.ok());
  auto start = Clock::now();
  bool failed = false;
  SendUntilStalled(raw.fd(), NonReader::Pipeline(), milliseconds(300), &failed,
                   [&] { EXPECT_TRUE(bystander.Served()); });
  Clock::time_point closed_at;
  ASSERT_TRUE(PollUntil(
      [&] {
        EXPECT_TRUE(bystander.Served());
        closed_at = Clock::now();
        return InfoInt(bystander.get(), "stats", "client_output_buffer_limit_disconnections") == 1;
      },
      milliseconds(10000)))
      << "client above the soft limit for 10 s not disconnected";
  EXPECT_GE(closed_at - start, milliseconds(1000)) << "disconnected before its soft seconds";
  EXPECT_LE(closed_at - start, milliseconds(5000));
  EXPECT_TRUE(raw.WaitForEof(milliseconds(10000)));
  EXPECT_TRUE(bystander.Write());
  EXPECT_TRUE(bystander.WritesIntact());
}

TEST_P(HostileTest, LowDescriptorLimitLowersMaxclients) {
  // RLIMIT_NOFILE 64, which the server cannot raise: like Redis (adjustOpenFilesLimit) it
  // lowers maxclients to fit (64 less the 32 descriptors it keeps for itself), says so with
  // Redis's lines, and refuses the client past that bound with the max-clients error, never
  // running out of descriptors, while everyone connected is still served.
  server_.reset();
  ServerProcess server({"--shards", StrCat(shards())}, {.max_open_files = 64});
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string log = server.Log();
  EXPECT_THAT(log, HasSubstr("You requested maxclients of 10000 requiring at least 10032 max "
                             "file descriptors."));
  EXPECT_THAT(log, HasSubstr("Server can't set maximum open files to 10032 because of OS "
                             "error: Operation not permitted."));
  EXPECT_THAT(log, HasSubstr("Current maximum open files is 64. maxclients has been reduced to "
                             "32 to compensate for low ulimit. If you need higher maxclients "
                             "increase 'ulimit -n'."));
  Bystander bystander(server, "lowfd");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  EXPECT_EQ(InfoInt(bystander.get(), "clients", "maxclients"), 32);
  // The bystander is one client: 31 more reach the bound...
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 31; ++i) {
    auto raw = std::make_unique<RawClient>(server.ConnectRaw());
    ASSERT_TRUE(raw->ok()) << "connection " << i;
    ASSERT_TRUE(raw->Send("PING\r\n"));
    ASSERT_EQ(raw->ReadExactly(7), "+PONG\r\n") << "connection " << i;
    held.push_back(std::move(raw));
  }
  EXPECT_EQ(InfoInt(bystander.get(), "clients", "connected_clients"), 32);
  // ... and it holds: the next is refused with Redis's error and closed.
  for (int i = 0; i < 3; ++i) {
    RawClient extra(server.ConnectRaw());
    ASSERT_TRUE(extra.ok());
    bool eof = false;
    EXPECT_EQ(extra.ReadToEof(&eof), "-ERR max number of clients reached\r\n");
    EXPECT_TRUE(eof);
  }
  EXPECT_EQ(InfoInt(bystander.get(), "stats", "rejected_connections"), 3);
  EXPECT_EQ(InfoInt(bystander.get(), "stats", "accept_errors").value_or(0), 0);  // ours
  EXPECT_THAT(server.Log(), Not(HasSubstr("Too many open files")));
  // Everyone connected is still served; once one leaves, a new client gets in.
  for (auto& h : held) {
    ASSERT_TRUE(h->Send("PING\r\n"));
    EXPECT_EQ(h->ReadExactly(7), "+PONG\r\n");
  }
  held.pop_back();
  ASSERT_TRUE(
      PollUntil([&] { return InfoInt(bystander.get(), "clients", "connected_clients") == 31; },
                milliseconds(5000)));
  {
    RawClient another(server.ConnectRaw());
    ASSERT_TRUE(another.ok());
    ASSERT_TRUE(another.Send("PING\r\n"));
    EXPECT_EQ(another.ReadExactly(7, milliseconds(5000)), "+PONG\r\n");
  }
  EXPECT_TRUE(bystander.Served());
  held.clear();  // room for the connection that checks the writes
  ASSERT_TRUE(
      PollUntil([&] { return InfoInt(bystander.get(), "clients", "connected_clients") == 1; },
                milliseconds(5000)));
  EXPECT_TRUE(bystander.WritesIntact());
}

INSTANTIATE_TEST_SUITE_P(Shards, HostileTest, ::testing::Values(1, 3), ShardsName);

// Raises this process's soft RLIMIT_NOFILE to `want` if the hard limit allows; servers started
// afterwards inherit it.
bool EnsureFdLimit(rlim_t want, rlim_t* hard) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
  *hard = rl.rlim_max;
  if (rl.rlim_cur >= want) return true;
  if (rl.rlim_max < want) return false;
  rl.rlim_cur = want;
  return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

TEST(HostileConnectionsTest, TenThousandClientsThenMaxClients) {
  constexpr size_t kMax = 10000;  // the default maxclients
  rlim_t hard = 0;
  // Never skipped: a machine that cannot hold 10,000 connections fails this test.
  ASSERT_TRUE(EnsureFdLimit(kMax + 500, &hard))
      << "RLIMIT_NOFILE hard limit " << hard << " is below " << kMax + 500
      << ": cannot hold 10,000 connections (raise it with ulimit -Hn)";
  ServerProcess server({"--shards", "3"});
  ASSERT_TRUE(server.ok()) << server.error();
  Bystander bystander(server, "flood");
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(bystander.Write());
  RedisConn admin = server.Connect();
  ASSERT_TRUE(admin);
  auto connected = [&] {
    return InfoInt(admin.get(), "clients", "connected_clients").value_or(-1);
  };
  std::vector<std::unique_ptr<RawClient>> raws;
  // In batches the server accepts before the next, so the listen backlog never overflows
  // (a dropped SYN would cost a one-second retransmission).
  while (raws.size() < kMax - 2) {
    size_t target = std::min(raws.size() + 500, kMax - 2);
    while (raws.size() < target) {
      raws.push_back(std::make_unique<RawClient>(server.ConnectRaw()));
      ASSERT_TRUE(raws.back()->ok()) << "connection " << raws.size();
    }
    ASSERT_TRUE(PollUntil([&] { return connected() == static_cast<int64_t>(raws.size() + 2); },
                          milliseconds(10000)))
        << "server has " << connected() << " clients, expected " << raws.size() + 2;
  }
  EXPECT_EQ(InfoInt(admin.get(), "clients", "maxclients"), static_cast<int64_t>(kMax));
  // All of them are served.
  for (auto& r : raws) ASSERT_TRUE(r->Send("PING\r\n"));
  size_t answered = 0;
  for (auto& r : raws) answered += r->ReadExactly(7) == "+PONG\r\n";
  EXPECT_EQ(answered, raws.size());
  // One more is refused with Redis's error, closed and counted.
  {
    RawClient extra(server.ConnectRaw());
    ASSERT_TRUE(extra.ok());
    bool eof = false;
    EXPECT_EQ(extra.ReadToEof(&eof), "-ERR max number of clients reached\r\n");
    EXPECT_TRUE(eof);
  }
  EXPECT_EQ(InfoInt(admin.get(), "stats", "rejected_connections"), 1);
  EXPECT_TRUE(bystander.Served());
  EXPECT_TRUE(bystander.Write());
  // Once one leaves, the next gets in.
  raws.pop_back();
  ASSERT_TRUE(
      PollUntil([&] { return connected() == static_cast<int64_t>(kMax - 1); }, milliseconds(5000)));
  {
    RawClient next(server.ConnectRaw());
    ASSERT_TRUE(next.ok());
    ASSERT_TRUE(next.Send("PING\r\n"));
    EXPECT_EQ(next.ReadExactly(7), "+PONG\r\n");
  }
  raws.clear();
  ASSERT_TRUE(PollUntil([&] { return connected() == 2; }, milliseconds(10000)));
  EXPECT_TRUE(bystander.WritesIntact());
}

}  // namespace
}  // namespace omnibus::testing
