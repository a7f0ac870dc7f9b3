#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace omnibus {

// Redis's string2ll: an optional '-', digits, no leading zeros (except "0"), no spaces, fits
// in int64. Anything else is not an integer ("ERR value is not an integer or out of range").
bool ParseInt64(std::string_view s, int64_t* out);
bool ParseUint64(std::string_view s, uint64_t* out);
// Redis's string2ld for INCRBYFLOAT and friends: no spaces, no NaN.
bool ParseLongDouble(std::string_view s, long double* out);
// Redis's string2d (used for e.g. timeouts, scores): strtod, whole string, no NaN.
bool ParseDouble(std::string_view s, double* out);

// Writes the decimal form of v into buf (at least 21 bytes); returns the length.
size_t FormatInt64(int64_t v, char* buf);
size_t FormatUint64(uint64_t v, char* buf);
std::string Int64ToString(int64_t v);
// Redis's ld2string(LD_STR_HUMAN): INCRBYFLOAT's reply form ("10.5", "3", "5.0e3" never).
std::string LongDoubleToHuman(long double v);

// Redis's stringmatchlen: glob-style pattern with * ? [...] [^...] and \ escapes.
bool GlobMatch(std::string_view pattern, std::string_view str, bool nocase = false);

bool EqualsIgnoreCase(std::string_view a, std::string_view b);
void AsciiToLower(std::string* s);

}  // namespace omnibus
