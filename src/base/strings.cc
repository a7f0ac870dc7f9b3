#include "omnibus/base/strings.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace omnibus {

bool ParseUint64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  bool negative = s[0] == '-';
  if (negative) s.remove_prefix(1);
  // Redis's string2ll rejects "-" and "-0".
  if (s.empty() || (negative && s[0] == '0')) return false;
  uint64_t magnitude;
  if (!ParseUint64(s, &magnitude)) return false;
  if (negative) {
    if (magnitude > uint64_t{1} << 63) return false;
    *out = static_cast<int64_t>(0 - magnitude);
  } else {
    if (magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(magnitude);
  }
  return true;
}

namespace {

// Redis's string2ld/string2d: the whole string, no leading space, no overflow, no NaN.
template <typename T, typename Strto>
bool ParseFloating(std::string_view s, T* out, Strto strto) {
  if (s.empty() || s.size() >= 5120) return false;
  if (isspace(static_cast<unsigned char>(s[0]))) return false;
  char buf[5120];
  memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  char* end;
  errno = 0;
  T v = strto(buf, &end);
  if (static_cast<size_t>(end - buf) != s.size() || errno == ERANGE || std::isnan(v)) return false;
  *out = v;
  return true;
}

}  // namespace

bool ParseLongDouble(std::string_view s, long double* out) {
  return ParseFloating(s, out, [](const char* b, char** e) { return strtold(b, e); });
}

bool ParseDouble(std::string_view s, double* out) {
  return ParseFloating(s, out, [](const char* b, char** e) { return strtod(b, e); });
}

size_t FormatInt64(int64_t v, char* buf) {
  char tmp[24];
  size_t n = 0;
  uint64_t magnitude = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  do {
    tmp[n++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  size_t len = 0;
  if (v < 0) buf[len++] = '-';
  while (n > 0) buf[len++] = tmp[--n];
  return len;
}

std::string Int64ToString(int64_t v) {
  char buf[24];
  return std::string(buf, FormatInt64(v, buf));
}

std::string LongDoubleToHuman(long double v) {
  // Redis: "%.17Lf", then strip trailing zeros and a trailing dot. Infinity is rejected
  // before this is called.
  char buf[5200];
  int len = snprintf(buf, sizeof(buf), "%.17Lf", v);
  if (len <= 0) return "0";
  if (strchr(buf, '.') != nullptr) {
    char* p = buf + len - 1;
    while (*p == '0') {
      p--;
      len--;
    }
    if (*p == '.') len--;
  }
  if (len == 2 && buf[0] == '-' && buf[1] == '0') return "0";
  return std::string(buf, static_cast<size_t>(len));
}

namespace {

// `give_up` is set once the pattern after some '*' failed to match at every position of the
// rest of the string: then no earlier '*' can help by matching more, so every caller up the
// recursion stops at once. Without it, "a*a*a*...b" takes exponential time (CVE-2022-36021).
bool GlobMatchImpl(const char* p, size_t plen, const char* s, size_t slen, bool nocase, int nesting,
                   bool* give_up) {
  // Bounded recursion on '*' like Redis 7 (which caps at 1000 nested stars).
  if (nesting > 1000) return false;
  while (plen > 0 && slen > 0) {
    switch (p[0]) {
      case '*':
        while (plen > 1 && p[1] == '*') {
          p++;
          plen--;
        }
        if (plen == 1) return true;
        while (slen > 0) {
          if (GlobMatchImpl(p + 1, plen - 1, s, slen, nocase, nesting + 1, give_up)) return true;
          if (*give_up) return false;
          s++;
          slen--;
        }
        *give_up = true;
        return false;
      case '?':
        s++;
        slen--;
        break;
      case '[': {
        p++;
        plen--;
        bool negate = plen > 0 && p[0] == '^';
        if (negate) {
          p++;
          plen--;
        }
        bool match = false;
        while (true) {
          if (plen == 0) {
            // Unterminated class: Redis treats the end of the pattern as the close.
            break;
          }
          if (p[0] == '\\' && plen >= 2) {
            p++;
            plen--;
            if (p[0] == s[0]) match = true;
          } else if (p[0] == ']') {
            break;
          } else if (plen >= 3 && p[1] == '-') {
            int start = static_cast<unsigned char>(p[0]);
            int end = static_cast<unsigned char>(p[2]);
            int c = static_cast<unsigned char>(s[0]);
            if (start > end) std::swap(start, end);
            if (nocase) {
              start = tolower(start);
              end = tolower(end);
              c = tolower(c);
            }
            p += 2;
            plen -= 2;
            if (c >= start && c <= end) match = true;
          } else {
            if (nocase ? tolower(static_cast<unsigned char>(p[0])) ==
                             tolower(static_cast<unsigned char>(s[0]))
                       : p[0] == s[0])
              match = true;
          }
          p++;
          plen--;
        }
        if (plen == 0) {
          // Redis steps back so the loop's increment lands on the end.
          p--;
          plen++;
        }
        if (negate) match = !match;
        if (!match) return false;
        s++;
        slen--;
        break;
      }
      case '\\':
        if (plen >= 2) {
          p++;
          plen--;
        }
        [[fallthrough]];
      default:
        if (nocase ? tolower(static_cast<unsigned char>(p[0])) !=
                         tolower(static_cast<unsigned char>(s[0]))
                   : p[0] != s[0])
          return false;
        s++;
        slen--;
        break;
    }
    p++;
    plen--;
    if (slen == 0) {
      while (plen > 0 && p[0] == '*') {
        p++;
        plen--;
      }
      break;
    }
  }
  return plen == 0 && slen == 0;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view str, bool nocase) {
  bool give_up = false;
  return GlobMatchImpl(pattern.data(), pattern.size(), str.data(), str.size(), nocase, 0, &give_up);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (tolower(static_cast<unsigned char>(a[i])) != tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

void AsciiToLower(std::string* s) {
  for (char& c : *s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
}

}  // namespace omnibus

#include <cstdarg>

#include "omnibus/base/str_cat.h"

namespace omnibus {

size_t FormatUint64(uint64_t v, char* buf) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  size_t len = 0;
  while (n > 0) buf[len++] = tmp[--n];
  return len;
}

std::string StrFormat(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n < 0) return "";
  if (static_cast<size_t>(n) < sizeof(buf)) return std::string(buf, static_cast<size_t>(n));
  std::string out(static_cast<size_t>(n) + 1, '\0');
  va_start(ap, fmt);
  vsnprintf(out.data(), out.size(), fmt, ap);
  va_end(ap);
  out.resize(static_cast<size_t>(n));
  return out;
}

std::vector<std::string_view> SplitString(std::string_view s, char sep, bool skip_empty) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    std::string_view part =
        s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start);
    if (!skip_empty || !part.empty()) out.push_back(part);
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string JoinStrings(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.append(sep);
    out.append(parts[i]);
  }
  return out;
}

void AppendRepr(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    auto u = static_cast<unsigned char>(ch);
    switch (ch) {
      case '\\':
        out->append("\\\\");
        break;
      case '"':
        out->append("\\\"");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\a':
        out->append("\\a");
        break;
      case '\b':
        out->append("\\b");
        break;
      default:
        if (u >= 32 && u < 127) {
          out->push_back(ch);
        } else {
          out->append("\\x");
          out->push_back(kHex[u >> 4]);
          out->push_back(kHex[u & 15]);
        }
    }
  }
  out->push_back('"');
}

std::string MonitorLine(int64_t unix_us, int db, std::string_view who,
                        std::span<const std::string_view> args, size_t redact_from,
                        size_t redact_to) {
  std::string line = "+" + std::to_string(unix_us / 1'000'000) + ".";
  std::string micros = std::to_string(unix_us % 1'000'000);
  line.append(6 - micros.size(), '0');
  line.append(micros);
  line.append(" [" + std::to_string(db) + " ");
  line.append(who);
  line.push_back(']');
  for (size_t i = 0; i < args.size(); ++i) {
    line.push_back(' ');
    if (i >= redact_from && i < redact_to) {
      line.append("\"(redacted)\"");
    } else {
      AppendRepr(&line, args[i]);
    }
  }
  line.append("\r\n");
  return line;
}

}  // namespace omnibus
