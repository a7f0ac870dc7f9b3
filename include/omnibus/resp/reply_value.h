#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace omnibus {

// A reply as a typed value instead of RESP bytes. A ReplyBuilder pointed at one (capture
// mode) fills it, so a fan-out part hands its merge integers, strings and arrays it can use
// directly (DESIGN §10.4), and ReplyBuilder::Value writes one back out as RESP.
struct ReplyValue {
  enum class Kind : uint8_t {
    kNone,
    kSimple,
    kError,
    kInteger,
    kBulk,
    kNull,
    kNullArray,
    kArray,  // also maps (`aggregate` '%': elements are key, value, ...) and sets ('~')
    kDouble,
    kBool,
    kVerbatim,
  };
  Kind kind = Kind::kNone;
  char aggregate = '*';  // kArray: '*', '%' or '~'
  int64_t integer = 0;   // kInteger, kBool
  double dbl = 0;        // kDouble
  std::string str;       // kSimple, kError (without '-'), kBulk, kVerbatim (the text)
  std::string format;    // kVerbatim: "txt", "mkd"
  std::vector<ReplyValue> elements;

  bool is_error() const { return kind == Kind::kError; }
};

}  // namespace omnibus
