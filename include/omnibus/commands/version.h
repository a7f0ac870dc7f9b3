#pragma once

#include <string_view>

namespace omnibus {

// The Redis release whose commands and replies we match (DESIGN §8): clients gate features
// on it. Raise it only when that release's commands work.
inline constexpr std::string_view kRedisVersion = "7.0.15";
inline constexpr std::string_view kOmnibusVersion = "0.1.0";

}  // namespace omnibus
