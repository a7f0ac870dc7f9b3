#pragma once

#include <string>
#include <string_view>

namespace omnibus::script_internal {

// SHA1 of `data` as 40 lower-case hex digits (FIPS 180-1; the script cache key and
// redis.sha1hex).
std::string Sha1Hex(std::string_view data);

}  // namespace omnibus::script_internal
