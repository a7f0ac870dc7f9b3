#pragma once

#include <cstdint>
#include <span>
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

// Redis's sdscatrepr: `s` quoted, with \\ \" \n \r \t \a \b escaped and other unprintable
// bytes as \xHH.
void AppendRepr(std::string* out, std::string_view s);
// One MONITOR line as Redis prints it: "+<unix s>.<µs> [<db> <who>] "arg" ...\r\n", the
// arguments in [redact_from, redact_to) shown as "(redacted)" (passwords).
std::string MonitorLine(int64_t unix_us, int db, std::string_view who,
                        std::span<const std::string_view> args, size_t redact_from = SIZE_MAX,
                        size_t redact_to = SIZE_MAX);
void AsciiToLower(std::string* s);

}  // namespace omnibus
