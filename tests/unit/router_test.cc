// KeyHashSlot and Crc16 against Redis Cluster. Every expected slot below was read from
// `redis-cli cluster keyslot KEY` on a redis-server 7.0.15 started with --cluster-enabled yes.

#include "omnibus/shard/router.h"

#include <gtest/gtest.h>

#include <string>

namespace omnibus {
namespace {

TEST(RouterTest, Crc16CheckValue) {
  // The CRC16-CCITT (XMODEM) check value, as in Redis's crc16.c test.
  EXPECT_EQ(Crc16("123456789"), 0x31C3);
  EXPECT_EQ(Crc16(""), 0);
}

TEST(RouterTest, KnownSlots) {
  EXPECT_EQ(KeyHashSlot("foo"), 12182);
  EXPECT_EQ(KeyHashSlot("bar"), 5061);
  EXPECT_EQ(KeyHashSlot("hello"), 866);
  EXPECT_EQ(KeyHashSlot(""), 0);
  EXPECT_EQ(KeyHashSlot("123456789"), 12739);  // 0x31C3 mod 16384
  EXPECT_EQ(KeyHashSlot("user1000"), 3443);
}

TEST(RouterTest, HashTags) {
  EXPECT_EQ(KeyHashSlot("{user1000}.following"), 3443);
  EXPECT_EQ(KeyHashSlot("{user1000}.followers"), 3443);
  EXPECT_EQ(KeyHashSlot("a{b}c"), 3300);
  // Only the first tag counts.
  EXPECT_EQ(KeyHashSlot("foo{bar}{zap}"), KeyHashSlot("bar"));
  EXPECT_EQ(KeyHashSlot("foo{bar}{zap}"), 5061);
}

TEST(RouterTest, EmptyAndUnclosedTagsHashTheWholeKey) {
  // "{}" comes first, so the whole key is hashed (not "bar").
  EXPECT_EQ(KeyHashSlot("foo{}{bar}"), 8363);
  EXPECT_EQ(KeyHashSlot("foo{}{bar}"), Crc16("foo{}{bar}") & 16383);
  EXPECT_EQ(KeyHashSlot("{}"), 15257);
  EXPECT_EQ(KeyHashSlot("foo{bar"), 15278);
  EXPECT_EQ(KeyHashSlot("}{a}"), 15495);
}

TEST(RouterTest, NestedBraces) {
  // The tag runs from the first '{' to the first '}' after it: "{bar".
  EXPECT_EQ(KeyHashSlot("foo{{bar}}"), 4015);
  EXPECT_EQ(KeyHashSlot("foo{{bar}}"), KeyHashSlot("{bar"));
}

TEST(RouterTest, BinaryKeys) {
  std::string key("a\0b", 3);
  EXPECT_EQ(KeyHashSlot(key), Crc16(key) & 16383);
  EXPECT_NE(Crc16(key), Crc16("a"));
}

TEST(RouterTest, Crc16MatchesTheBitwiseDefinitionAtEveryLength) {
  // Crc16 folds four bytes a step: every length, so every tail, against CRC-16/XMODEM
  // computed one bit at a time.
  auto bitwise = [](std::string_view s) {
    uint16_t crc = 0;
    for (unsigned char c : s) {
      crc = static_cast<uint16_t>(crc ^ (c << 8));
      for (int b = 0; b < 8; ++b) {
        crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                             : static_cast<uint16_t>(crc << 1);
      }
    }
    return crc;
  };
  std::string bytes;
  uint32_t x = 12345;
  for (int len = 0; len <= 64; ++len) {
    EXPECT_EQ(Crc16(bytes), bitwise(bytes)) << "length " << len;
    x = x * 1103515245 + 12345;
    bytes.push_back(static_cast<char>(x >> 16));
  }
}

TEST(RouterTest, ShardForKey) {
  for (int shards : {1, 2, 3, 7, 16}) {
    EXPECT_EQ(ShardForKey("foo", shards), 12182 % shards);
    EXPECT_EQ(ShardForKey("{user1000}.following", shards), ShardForKey("user1000", shards));
  }
}

}  // namespace
}  // namespace omnibus
