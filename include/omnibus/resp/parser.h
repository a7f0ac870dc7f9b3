#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace omnibus {

// Limits the parser enforces, named after the Redis configs that set them.
struct ParserLimits {
  int64_t proto_max_bulk_len = 512LL * 1024 * 1024;  // proto-max-bulk-len
  // Redis's PROTO_INLINE_MAX_SIZE: an inline command, or a "*N"/"$N" header line, longer
  // than this without a newline is a protocol error.
  size_t inline_max_size = 64 * 1024;
  // Before AUTH, Redis rejects multibulk counts > 10 and bulk lengths > 16384.
  bool unauthenticated = false;
};

// Streaming parser for RESP multibulk requests and inline commands. It is fed the bytes of
// a connection's input starting at the first unparsed byte; it may be called again with the
// same bytes plus more after returning kNeedMore, and resumes where it stopped (so a 10 MB
// bulk arriving in 16 KB reads is parsed in linear time). Knows nothing about commands.
// Runs on: reactor thread.
class RespParser {
 public:
  enum class Status { kCommand, kEmpty, kNeedMore, kError };

  // On kCommand: args() holds the command's arguments as views into `input`, and consumed()
  // the bytes it used. On kEmpty: an empty line or "*0"/"*-1" was skipped (consumed() bytes).
  // On kError: error() has Redis's text ("Protocol error: ...") and the connection must be
  // closed after replying.
  Status Parse(std::string_view input, const ParserLimits& limits);

  const std::vector<std::string_view>& args() const { return args_; }
  size_t consumed() const { return consumed_; }
  const std::string& error() const { return error_; }
  // True while part of a command has been seen (so the input must be kept).
  bool mid_command() const { return stage_ != Stage::kStart; }
  // Bytes the parser still needs before it can make progress, when known (a bulk body).
  size_t bytes_wanted() const { return wanted_; }
  // True if the last kCommand was an inline command: its args() then point into the parser's
  // own storage, which the next Parse() overwrites.
  bool inline_command() const { return inline_; }

 private:
  enum class Stage { kStart, kBulkHeader, kBulkBody };

  Status ParseInline(std::string_view input, const ParserLimits& limits);
  Status Fail(std::string message);
  void Reset();

  Stage stage_ = Stage::kStart;
  size_t pos_ = 0;         // resume offset into the input
  int64_t remaining_ = 0;  // bulks still expected
  int64_t bulk_len_ = 0;   // length of the bulk being read
  size_t wanted_ = 0;
  std::vector<std::pair<size_t, size_t>> spans_;  // (offset, length) of each parsed bulk
  std::vector<std::string_view> args_;
  std::vector<std::string> inline_storage_;  // inline args need unescaping, so own them
  size_t consumed_ = 0;
  bool inline_ = false;
  std::string error_;
};

// Redis's sdssplitargs: splits an inline command line into arguments, honouring "double"
// quotes (with \n \r \t \b \a \\ \" \xHH escapes) and 'single' quotes. Returns false on
// unbalanced quotes.
bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out);

}  // namespace omnibus
