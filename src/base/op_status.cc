#include "omnibus/base/op_status.h"

namespace omnibus {

std::string_view ErrorText(OpStatus status) {
  switch (status) {
    case OpStatus::kOk:
      return "";
    case OpStatus::kKeyNotFound:
    case OpStatus::kNoSuchKey:
      return "ERR no such key";
    case OpStatus::kWrongType:
      return "WRONGTYPE Operation against a key holding the wrong kind of value";
    case OpStatus::kNotAnInteger:
      return "ERR value is not an integer or out of range";
    case OpStatus::kNotAFloat:
      return "ERR value is not a valid float";
    case OpStatus::kOutOfRange:
      return "ERR value is out of range";
    case OpStatus::kIncrOverflow:
      return "ERR increment or decrement would overflow";
    case OpStatus::kIncrFloatNanOrInf:
      return "ERR increment would produce NaN or Infinity";
    case OpStatus::kSyntaxError:
      return "ERR syntax error";
    case OpStatus::kInvalidExpire:
      return "ERR invalid expire time in '%s' command";
    case OpStatus::kStringTooLong:
      return "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    case OpStatus::kOffsetOutOfRange:
      return "ERR offset is out of range";
  }
  return "ERR unknown error";
}

}  // namespace omnibus
