#pragma once

// The harness's own reader of server replies (RESP2 and RESP3), independent of the code under
// test, so a malformed reply is caught rather than mirrored.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace omnibus::fuzz {

struct Reply {
  char type = 0;             // the RESP type byte: + - : $ * _ # , ( = ! % ~ > |
  bool null = false;         // $-1 or *-1
  std::string str;           // simple/error/number text, or a bulk's payload
  std::vector<Reply> elems;  // aggregates; maps hold key, value, key, value...
  std::string raw;           // the reply's bytes on the wire
};

// Parses one reply from `buf` at `*pos`. Returns 1 and advances `*pos` when a whole reply is
// there, 0 when more bytes are needed, -1 when the bytes are not RESP.
int ParseReply(std::string_view buf, size_t* pos, Reply* out);

// `s` with CR, LF and other unprintable bytes escaped, for messages.
std::string Printable(std::string_view s, size_t max_len = 2000);

}  // namespace omnibus::fuzz
