#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "omnibus/commands/command_table.h"

namespace omnibus {

// One argument of a command, parsed from CommandDoc::arguments (grammar in command_docs.cc).
// Mirrors Redis 7.0's redisCommandArg, which COMMAND DOCS replies with.
struct DocArg {
  enum class Type : uint8_t {
    kString,
    kInteger,
    kDouble,
    kKey,
    kPattern,
    kUnixTime,
    kPureToken,
    kOneOf,
    kBlock,
  };
  std::string name;
  Type type = Type::kString;
  std::string token;             // empty: none
  std::string since;             // empty: none
  std::string deprecated_since;  // empty: none
  bool optional = false;
  bool multiple = false;
  bool multiple_token = false;
  int key_spec_index = -1;       // kKey only: which COMMAND INFO key spec finds this key
  uint32_t key_flags = 0;        // kKey only: KeySpecFlag bits; 0: derive from the command
  std::vector<DocArg> children;  // kOneOf and kBlock
};

// Redis's name of an argument type ("pure-token", "unix-time", ...).
std::string_view DocArgTypeName(DocArg::Type type);

// Parses an argument grammar. On a syntax error returns false and sets *error to a message
// naming the offset and what was expected. key_spec_index is left at -1 (see DeriveKeySpecs).
bool ParseDocArgs(std::string_view grammar, std::vector<DocArg>* out, std::string* error);

// Redis 7.0's key-spec flags, in the order COMMAND INFO lists them.
enum KeySpecFlag : uint32_t {
  kKeyRO = 1 << 0,
  kKeyRW = 1 << 1,
  kKeyOW = 1 << 2,
  kKeyRM = 1 << 3,
  kKeyAccess = 1 << 4,
  kKeyUpdate = 1 << 5,
  kKeyInsert = 1 << 6,
  kKeyDelete = 1 << 7,
  kKeyNotKey = 1 << 8,
  kKeyIncomplete = 1 << 9,
  kKeyVariableFlags = 1 << 10,
};

// Redis's names of key-spec flags ("RW", "access", ...), in Redis's order.
std::vector<std::string_view> KeySpecFlagNames(uint32_t flags);

// A Redis 7 key spec with a begin_search of type "index" and a find_keys of type "range" or
// "keynum" (the only kinds a command table with fixed key positions can need).
struct KeySpec {
  uint32_t flags = 0;  // KeySpecFlag bits
  int begin_index = 0;
  bool keynum = false;
  // range: lastkey (relative to begin_index, negative counts from the end), keystep, limit.
  int last_key = 0;
  int key_step = 1;
  int limit = 0;
  // keynum: keynumidx, firstkey (both relative to begin_index), keystep (key_step above).
  int keynum_index = 0;
  int first_key = 1;
  std::string_view notes;  // CommandDoc::key_notes
};

// The key specs of a command, derived from its key positions and its argument grammar, and
// each key argument's key_spec_index set to match (args as returned by ParseDocArgs).
std::vector<KeySpec> DeriveKeySpecs(const CommandSpec& spec, std::vector<DocArg>* args);

// COMMAND INFO's reply for one command, in Redis 7's shape: name, arity, flags, first key,
// last key, step, ACL categories, tips, key specs, subcommands.
void ReplyCommandInfo(const CommandSpec& spec, const CommandTable& table, ReplyBuilder* rb);
// COMMAND DOCS's map for one command: summary, since, group, complexity, arguments
// (from CommandDoc::arguments), subcommands.
void ReplyCommandDocs(const CommandSpec& spec, const CommandTable& table, ReplyBuilder* rb);

}  // namespace omnibus
