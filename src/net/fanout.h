#pragma once

#include <cstdint>

namespace omnibus {

// Work::command_id of a slot whose stats are already counted (or never will be).
inline constexpr uint16_t kNoStats = 0xFFFF;

}  // namespace omnibus
