#include "resp_reply.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace omnibus::fuzz {
namespace {

bool ParseLength(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  std::string copy(s);
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(copy.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

// Aggregates nest; a server bug could send a deep one, so the reader bounds its recursion.
constexpr int kMaxDepth = 64;

int Parse(std::string_view b, size_t* pos, Reply* r, int depth) {
  if (depth > kMaxDepth) return -1;
  size_t start = *pos;
  size_t cr = b.find("\r\n", start);
  if (cr == std::string_view::npos) return 0;
  if (cr == start) return -1;  // no type byte
  r->type = b[start];
  std::string_view line = b.substr(start + 1, cr - start - 1);
  size_t next = cr + 2;
  switch (r->type) {
    case '+':
    case '-':
    case ':':
    case ',':
    case '(':
    case '#':
    case '_':
      r->str = std::string(line);
      *pos = next;
      break;
    case '$':
    case '=':
    case '!': {
      int64_t len;
      if (!ParseLength(line, &len) || len < -1) return -1;
      if (len == -1) {
        if (r->type != '$') return -1;
        r->null = true;
        *pos = next;
        break;
      }
      if (b.size() - next < static_cast<size_t>(len) + 2) return 0;
      if (b.substr(next + static_cast<size_t>(len), 2) != "\r\n") return -1;
      r->str = std::string(b.substr(next, static_cast<size_t>(len)));
      *pos = next + static_cast<size_t>(len) + 2;
      break;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      int64_t n;
      if (!ParseLength(line, &n) || n < -1) return -1;
      if (n == -1) {
        if (r->type != '*') return -1;
        r->null = true;
        *pos = next;
        break;
      }
      if (n > (1 << 20)) return -1;
      int64_t count = (r->type == '%' || r->type == '|') ? 2 * n : n;
      size_t p = next;
      for (int64_t i = 0; i < count; ++i) {
        Reply e;
        int st = Parse(b, &p, &e, depth + 1);
        if (st <= 0) return st;
        r->elems.push_back(std::move(e));
      }
      if (r->type == '|') {  // an attribute precedes the reply it describes
        Reply e;
        int st = Parse(b, &p, &e, depth + 1);
        if (st <= 0) return st;
        r->elems.push_back(std::move(e));
      }
      *pos = p;
      break;
    }
    default:
      return -1;
  }
  r->raw = std::string(b.substr(start, *pos - start));
  return 1;
}

}  // namespace

int ParseReply(std::string_view buf, size_t* pos, Reply* out) {
  size_t p = *pos;
  Reply r;
  int st = Parse(buf, &p, &r, 0);
  if (st > 0) {
    *pos = p;
    *out = std::move(r);
  }
  return st;
}

std::string Printable(std::string_view s, size_t max_len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size() && i < max_len; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (s.size() > max_len) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

}  // namespace omnibus::fuzz
