#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "omnibus/resp/reply_value.h"

namespace omnibus {

// Serializes replies in RESP2 or RESP3 into a caller-owned string. Aggregate headers
// (arrays, maps, sets) take the element count up front; for maps in RESP2 that is the number
// of pairs, and the builder writes an array of twice as many elements.
// Runs on: any thread (one builder per reply).
//
// Capture mode (constructed with a ReplyValue*) records the same calls as a typed value.
class ReplyBuilder {
 public:
  ReplyBuilder(std::string* out, int resp_version) : out_(out), resp3_(resp_version >= 3) {}
  ReplyBuilder(ReplyValue* capture, int resp_version)
      : capture_(capture), resp3_(resp_version >= 3) {}

  bool resp3() const { return resp3_; }
  // The RESP bytes being built (null in capture mode).
  std::string* out() { return out_; }
  // Drops whatever was replied so far (a handler that changes its mind, as MSETNX does).
  void Reset();
  // Writes a (captured) value as a reply of its own.
  void Value(const ReplyValue& v);

  void SimpleString(std::string_view s);
  void Ok() {
    if (capture_ != nullptr) return SimpleString("OK");
    out_->append("+OK\r\n");
  }
  // `message` is the text after '-', e.g. "ERR syntax error".
  void Error(std::string_view message);
  void Integer(int64_t v);
  void Bulk(std::string_view s);
  void Null();       // RESP2 "$-1", RESP3 "_"
  void NullArray();  // RESP2 "*-1", RESP3 "_"
  void Array(size_t n);
  // RESP3 push ('>'), RESP2 array: pub/sub messages and (un)subscribe confirmations.
  void Push(size_t n);
  void Map(size_t pairs);
  void Set(size_t n);
  void Double(double v);  // RESP3 ',', RESP2 bulk string
  void Bool(bool v);      // RESP3 '#', RESP2 integer 0/1
  // RESP3 verbatim string ("=N\r\ntxt:..."), RESP2 bulk string. INFO replies this way.
  void Verbatim(std::string_view format, std::string_view s);

 private:
  void Header(char type, int64_t n);
  // Capture mode: where the next value goes, and the aggregates still being filled.
  ReplyValue* Slot();
  void Open(ReplyValue* v, char aggregate, size_t n);
  void Close();

  std::string* out_ = nullptr;
  ReplyValue* capture_ = nullptr;
  std::vector<std::pair<ReplyValue*, size_t>> open_;  // (aggregate, elements still to come)
  bool resp3_;
};

// Formats a double the way Redis does for RESP replies (%.17g, "inf", "-inf").
std::string FormatDoubleReply(double v);

}  // namespace omnibus
