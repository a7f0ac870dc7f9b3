#include "omnibus/resp/parser.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "omnibus/base/strings.h"

namespace omnibus {
namespace {

// The usual header after '*' or '$' at `start`: 1 to 9 digits without a leading zero, then
// "\r\n", all arrived. Sets the value and the offset after the '\n'. Anything else (a sign,
// a zero, a longer number, a header not all here) is left to the general path (memchr and
// ParseInt64), which accepts, rejects or waits for it as Redis does.
inline bool ScanShortLength(std::string_view in, size_t start, int64_t* value, size_t* next) {
  const size_t n = in.size();
  size_t i = start;
  if (i >= n || in[i] < '1' || in[i] > '9') return false;
  int64_t v = in[i++] - '0';
  const size_t last = std::min(n, start + 9);
  while (i < last && in[i] >= '0' && in[i] <= '9') v = v * 10 + (in[i++] - '0');
  if (i + 1 >= n || in[i] != '\r' || in[i + 1] != '\n') return false;
  *value = v;
  *next = i + 2;
  return true;
}

}  // namespace

void RespParser::Reset() {
  stage_ = Stage::kStart;
  pos_ = 0;
  remaining_ = 0;
  bulk_len_ = 0;
  wanted_ = 0;
  spans_.clear();
}

RespParser::Status RespParser::Fail(std::string message) {
  error_ = std::move(message);
  Reset();
  return Status::kError;
}

RespParser::Status RespParser::Parse(std::string_view input, const ParserLimits& limits) {
  args_.clear();
  consumed_ = 0;
  inline_ = false;
  if (stage_ == Stage::kStart) {
    if (input.empty()) return Status::kNeedMore;
    if (input[0] != '*') return ParseInline(input, limits);
    int64_t count;
    size_t next;
    if (!ScanShortLength(input, 1, &count, &next)) {
      const char* nl = static_cast<const char*>(memchr(input.data(), '\r', input.size()));
      if (nl == nullptr) {
        if (input.size() > limits.inline_max_size)
          return Fail("Protocol error: too big mbulk count string");
        return Status::kNeedMore;
      }
      size_t cr = static_cast<size_t>(nl - input.data());
      if (cr + 1 >= input.size()) return Status::kNeedMore;  // the '\n' has not arrived
      if (!ParseInt64(input.substr(1, cr - 1), &count) ||
          count > std::numeric_limits<int32_t>::max())
        return Fail("Protocol error: invalid multibulk length");
      next = cr + 2;
    }
    if (count > 10 && limits.unauthenticated)
      return Fail("Protocol error: unauthenticated multibulk length");
    if (count <= 0) {
      consumed_ = next;
      return Status::kEmpty;
    }
    remaining_ = count;
    pos_ = next;
    // Don't trust the count for the reservation: a client may claim 2^31 and send nothing.
    spans_.reserve(static_cast<size_t>(std::min<int64_t>(count, 1024)));
    stage_ = Stage::kBulkHeader;
  }
  while (remaining_ > 0) {
    if (stage_ == Stage::kBulkHeader) {
      int64_t len;
      size_t next;
      if (pos_ < input.size() && input[pos_] == '$' &&
          ScanShortLength(input, pos_ + 1, &len, &next)) {
        if (len > limits.proto_max_bulk_len) return Fail("Protocol error: invalid bulk length");
      } else {
        size_t avail = input.size() - pos_;
        const char* nl = static_cast<const char*>(memchr(input.data() + pos_, '\r', avail));
        if (nl == nullptr) {
          if (avail > limits.inline_max_size)
            return Fail("Protocol error: too big bulk count string");
          return Status::kNeedMore;
        }
        size_t cr = static_cast<size_t>(nl - input.data());
        if (cr + 1 >= input.size()) return Status::kNeedMore;
        if (input[pos_] != '$')
          return Fail(std::string("Protocol error: expected '$', got '") + input[pos_] + "'");
        if (!ParseInt64(input.substr(pos_ + 1, cr - pos_ - 1), &len) || len < 0 ||
            len > limits.proto_max_bulk_len)
          return Fail("Protocol error: invalid bulk length");
        next = cr + 2;
      }
      if (len > 16384 && limits.unauthenticated)
        return Fail("Protocol error: unauthenticated bulk length");
      bulk_len_ = len;
      pos_ = next;
      stage_ = Stage::kBulkBody;
    }
    size_t need = static_cast<size_t>(bulk_len_) + 2;
    if (input.size() - pos_ < need) {
      wanted_ = need - (input.size() - pos_);
      return Status::kNeedMore;
    }
    // Like Redis, the two bytes after the bulk are skipped without checking they are CRLF.
    spans_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ += need;
    --remaining_;
    stage_ = Stage::kBulkHeader;
  }
  wanted_ = 0;
  args_.reserve(spans_.size());
  for (auto [off, len] : spans_) args_.emplace_back(input.data() + off, len);
  consumed_ = pos_;
  Reset();
  return Status::kCommand;
}

RespParser::Status RespParser::ParseInline(std::string_view input, const ParserLimits& limits) {
  const char* nl = static_cast<const char*>(memchr(input.data(), '\n', input.size()));
  if (nl == nullptr) {
    if (input.size() > limits.inline_max_size)
      return Fail("Protocol error: too big inline request");
    return Status::kNeedMore;
  }
  size_t end = static_cast<size_t>(nl - input.data());
  std::string_view line = input.substr(0, end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  inline_storage_.clear();
  if (!SplitInlineArgs(line, &inline_storage_))
    return Fail("Protocol error: unbalanced quotes in request");
  consumed_ = end + 1;
  if (inline_storage_.empty()) return Status::kEmpty;
  for (const std::string& a : inline_storage_) args_.emplace_back(a);
  inline_ = true;
  return Status::kCommand;
}

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

}  // namespace

bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out) {
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && IsSpace(line[i])) ++i;
    if (i >= n) return true;
    bool in_double = false, in_single = false, done = false;
    std::string current;
    while (!done) {
      if (in_double) {
        if (i >= n) return false;  // unterminated quotes
        if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' && HexDigit(line[i + 2]) >= 0 &&
            HexDigit(line[i + 3]) >= 0) {
          current.push_back(static_cast<char>(HexDigit(line[i + 2]) * 16 + HexDigit(line[i + 3])));
          i += 3;
        } else if (line[i] == '\\' && i + 1 < n) {
          ++i;
          char c;
          switch (line[i]) {
            case 'n':
              c = '\n';
              break;
            case 'r':
              c = '\r';
              break;
            case 't':
              c = '\t';
              break;
            case 'b':
              c = '\b';
              break;
            case 'a':
              c = '\a';
              break;
            default:
              c = line[i];
              break;
          }
          current.push_back(c);
        } else if (line[i] == '"') {
          // The closing quote must be followed by a space or the end.
          if (i + 1 < n && !IsSpace(line[i + 1])) return false;
          done = true;
        } else {
          current.push_back(line[i]);
        }
      } else if (in_single) {
        if (i >= n) return false;
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          current.push_back('\'');
        } else if (line[i] == '\'') {
          if (i + 1 < n && !IsSpace(line[i + 1])) return false;
          done = true;
        } else {
          current.push_back(line[i]);
        }
      } else {
        if (i >= n) {
          done = true;
          break;
        }
        switch (line[i]) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            current.push_back(line[i]);
            break;
        }
      }
      if (i < n) ++i;
    }
    out->push_back(std::move(current));
  }
}

}  // namespace omnibus
