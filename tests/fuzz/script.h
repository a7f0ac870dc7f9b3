#pragma once

// The scripts command_fuzz sends. A fuzz input becomes a script in one of two ways:
//
// - Bytes (what libFuzzer generates): decoded with FuzzedDataProvider into up to 16 commands
//   drawn from a grammar of the implemented commands, with arguments from small alphabets of
//   keys, values, numbers and options chosen to reach interesting paths (hash-tagged and
//   cross-shard keys, integer and float edge cases, expiry options), plus mutations that break
//   arity and syntax, empty requests, and a protocol error at the end.
// - Text starting with "#!command_fuzz" (what regressions are written in, and what
//   DescribeScript prints), so a reproducer reads as what it sends and survives changes to
//   the grammar. Read only when replaying files (see DecodeScript):
//
//     #!command_fuzz batches           one-by-one | pipelined | pieces CUT... | batches
//     config set pipeline-group-max-commands 2
//     ---                              batches: wait for the replies so far
//     get "k\x00z"                     arguments: plain words, or "..." with \xHH \r \n \"
//     \\ escapes
//     @inline get k1                   sent as an inline command
//     @empty "\r\n"                    bytes of an empty request: no reply
//     @error "*1\r\n$x\r\n"            bytes of a protocol error: one error reply, then close
//
// Every reply to a script is deterministic given the data set, except where `compare` says
// otherwise; in particular relative expiry times are unique per command and far apart, so
// GT/LT comparisons cannot depend on the millisecond a server ran a command.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace omnibus::fuzz {

// How the two servers' replies to one command are compared.
enum class Compare {
  kExact,      // byte for byte
  kType,       // same RESP type (RANDOMKEY, SCAN, TIME, INFO, HELLO, CLIENT ID/LIST/INFO)
  kSorted,     // same elements in any order (KEYS)
  kConfigGet,  // the same (name, value) pairs in any order, except port and shards
};

// How the script is written to the socket.
enum class Mode {
  kOneByOne,      // each command is sent after the previous reply arrived
  kPipelined,     // the whole script in one write
  kPipelinedCut,  // the whole script in several writes cut at arbitrary bytes
  kBatches,       // pipelined batches: after a command with `sync`, wait for the replies
};

struct Command {
  enum Kind {
    kCommand,        // a command: one reply
    kEmpty,          // an empty request ("\r\n", "*0\r\n"): no reply
    kProtocolError,  // always last: one error reply, then the server closes
  };
  Kind kind = kCommand;
  std::vector<std::string> args;  // kCommand; the bytes for the others
  bool inline_command = false;    // sent as an inline line instead of multibulk
  std::string wire;               // what is written to the socket
  Compare compare = Compare::kExact;
  bool sync = false;  // kBatches: read every outstanding reply before sending more
};

struct Script {
  Mode mode = Mode::kOneByOne;
  std::vector<Command> commands;
  std::vector<size_t> cuts;  // kPipelinedCut: byte offsets where a write ends
};

// `text_scripts`: whether input in the text format is read as such. Only when replaying given
// files: the fuzzer finds the magic line quickly, and free text can ask for what the grammar
// never does (SHUTDOWN, CLIENT KILL of itself, expiry a millisecond away).
Script DecodeScript(const uint8_t* data, size_t size, bool text_scripts);

// The script as text in the "#!command_fuzz" format, which ParseScriptText reads back.
std::string DescribeScript(const Script& script);
// Returns false (with `error`) if `text` is not a valid script.
bool ParseScriptText(std::string_view text, Script* script, std::string* error);

std::string EncodeMultibulk(const std::vector<std::string>& args);

// CONFIG SET of every parameter a script may change, back to its default.
std::vector<std::string> RestoreConfigCommand();

}  // namespace omnibus::fuzz
