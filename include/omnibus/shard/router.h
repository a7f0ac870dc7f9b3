#pragma once

#include <cstdint>
#include <string_view>

namespace omnibus {

// Redis Cluster's key hash slot: CRC16-CCITT (XMODEM) of the key, or of the first non-empty
// {hash tag} in it, mod 16384.
uint16_t KeyHashSlot(std::string_view key);
uint16_t Crc16(std::string_view data);

inline int ShardForKey(std::string_view key, int num_shards) {
  return num_shards == 1 ? 0 : KeyHashSlot(key) % num_shards;
}

}  // namespace omnibus
