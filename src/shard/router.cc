#include "omnibus/shard/router.h"

#include <array>

namespace omnibus {
namespace {

constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (int i = 0; i < 256; ++i) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int b = 0; b < 8; ++b) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
    table[i] = crc;
  }
  return table;
}

// Slicing by four: kCrc16Tables[k][b] is the CRC of byte b followed by k zero bytes, so one
// step folds four bytes with four independent lookups instead of four dependent ones.
constexpr std::array<std::array<uint16_t, 256>, 4> MakeCrc16Tables() {
  std::array<std::array<uint16_t, 256>, 4> t{};
  t[0] = MakeCrc16Table();
  for (size_t k = 1; k < 4; ++k) {
    for (size_t b = 0; b < 256; ++b) {
      uint16_t prev = t[k - 1][b];
      t[k][b] = static_cast<uint16_t>((prev << 8) ^ t[0][prev >> 8]);
    }
  }
  return t;
}

constexpr auto kCrc16Tables = MakeCrc16Tables();

}  // namespace

uint16_t Crc16(std::string_view data) {
  const auto& t = kCrc16Tables;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  uint16_t crc = 0;
  for (; n >= 4; n -= 4, p += 4) {
    crc = static_cast<uint16_t>(t[3][(crc >> 8) ^ p[0]] ^ t[2][(crc & 0xff) ^ p[1]] ^ t[1][p[2]] ^
                                t[0][p[3]]);
  }
  for (; n > 0; --n, ++p) {
    crc = static_cast<uint16_t>((crc << 8) ^ t[0][((crc >> 8) ^ *p) & 0xff]);
  }
  return crc;
}

uint16_t KeyHashSlot(std::string_view key) {
  size_t open = key.find('{');
  if (open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    // "{}" (empty tag) hashes the whole key, as in Redis Cluster.
    if (close != std::string_view::npos && close != open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) & 16383;
}

}  // namespace omnibus
