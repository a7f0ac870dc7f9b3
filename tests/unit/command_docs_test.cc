// COMMAND DOCS / COMMAND INFO: the argument grammar parser, key-spec derivation, and the reply
// bytes compared with what redis-server 7.0.15 sends.

#include "omnibus/commands/command_docs.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "omnibus/commands/command_table.h"

namespace omnibus {
namespace {

using Type = DocArg::Type;

std::vector<DocArg> Parse(std::string_view grammar) {
  std::vector<DocArg> args;
  std::string error;
  EXPECT_TRUE(ParseDocArgs(grammar, &args, &error)) << error;
  return args;
}

std::string ParseError(std::string_view grammar) {
  std::vector<DocArg> args;
  std::string error;
  EXPECT_FALSE(ParseDocArgs(grammar, &args, &error)) << "accepted: " << grammar;
  EXPECT_TRUE(args.empty());
  return error;
}

// Reads one RESP value starting at *pos; false if the bytes are cut short or malformed. Used
// to check that every aggregate header announces exactly the elements that follow.
bool SkipValue(const std::string& s, size_t* pos) {
  if (*pos >= s.size()) return false;
  char type = s[*pos];
  size_t eol = s.find("\r\n", *pos);
  if (eol == std::string::npos) return false;
  std::string head = s.substr(*pos + 1, eol - *pos - 1);
  *pos = eol + 2;
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
      return true;
    case '$':
    case '=': {
      long n = std::strtol(head.c_str(), nullptr, 10);
      if (n < 0) return true;
      if (s.compare(*pos + n, 2, "\r\n") != 0) return false;
      *pos += n + 2;
      return true;
    }
    case '*':
    case '~':
    case '%': {
      long n = std::strtol(head.c_str(), nullptr, 10);
      if (type == '%') n *= 2;
      for (long i = 0; i < n; ++i) {
        if (!SkipValue(s, pos)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

bool IsOneValue(const std::string& s) {
  size_t pos = 0;
  return SkipValue(s, &pos) && pos == s.size();
}

TEST(CommandDocsTest, EveryTableGrammarParses) {
  CommandTable table;
  ASSERT_FALSE(table.all().empty());
  for (const CommandSpec& spec : table.all()) {
    std::vector<DocArg> args;
    std::string error;
    EXPECT_TRUE(ParseDocArgs(spec.doc.arguments, &args, &error)) << spec.name << ": " << error;
  }
}

TEST(CommandDocsTest, EveryReplyIsWellFormed) {
  CommandTable table;
  for (int resp : {2, 3}) {
    for (const CommandSpec& spec : table.all()) {
      std::string info, docs;
      ReplyBuilder info_rb(&info, resp), docs_rb(&docs, resp);
      ReplyCommandInfo(spec, table, &info_rb);
      ReplyCommandDocs(spec, table, &docs_rb);
      EXPECT_TRUE(IsOneValue(info)) << spec.name << " RESP" << resp << " info: " << info;
      EXPECT_TRUE(IsOneValue(docs)) << spec.name << " RESP" << resp << " docs: " << docs;
    }
  }
}

TEST(CommandDocsTest, ParsesSetGrammar) {
  std::vector<DocArg> args = Parse(
      "key:key value:string [condition:oneof(nx:pure-token:NX|xx:pure-token:XX)] "
      "[get:pure-token:GET{since=6.2.0}] [expiration:oneof(seconds:integer:EX|"
      "keepttl:pure-token:KEEPTTL)]");
  ASSERT_EQ(args.size(), 5u);
  EXPECT_EQ(args[0].name, "key");
  EXPECT_EQ(args[0].type, Type::kKey);
  EXPECT_FALSE(args[0].optional);
  EXPECT_EQ(args[2].name, "condition");
  EXPECT_EQ(args[2].type, Type::kOneOf);
  EXPECT_TRUE(args[2].optional);
  ASSERT_EQ(args[2].children.size(), 2u);
  EXPECT_EQ(args[2].children[1].name, "xx");
  EXPECT_EQ(args[2].children[1].type, Type::kPureToken);
  EXPECT_EQ(args[2].children[1].token, "XX");
  EXPECT_EQ(args[3].token, "GET");
  EXPECT_EQ(args[3].since, "6.2.0");
  EXPECT_TRUE(args[3].optional);
  EXPECT_EQ(args[4].children[0].type, Type::kInteger);
  EXPECT_EQ(args[4].children[0].token, "EX");
}

TEST(CommandDocsTest, NamesMayContainColons) {
  std::vector<DocArg> args = Parse(
      "filter:oneof(ip:port:string{deprecated_since=2.8.12}|new-format:oneof("
      "[client-id:integer:ID]|[ip:port:string:LADDR{since=6.2.0}]|[yes/no:string:SKIPME])...)");
  ASSERT_EQ(args.size(), 1u);
  ASSERT_EQ(args[0].children.size(), 2u);
  const DocArg& old_format = args[0].children[0];
  EXPECT_EQ(old_format.name, "ip:port");
  EXPECT_EQ(old_format.type, Type::kString);
  EXPECT_EQ(old_format.token, "");
  EXPECT_EQ(old_format.deprecated_since, "2.8.12");
  const DocArg& new_format = args[0].children[1];
  EXPECT_TRUE(new_format.multiple);
  EXPECT_FALSE(new_format.optional);
  ASSERT_EQ(new_format.children.size(), 3u);
  EXPECT_EQ(new_format.children[1].name, "ip:port");
  EXPECT_EQ(new_format.children[1].token, "LADDR");
  EXPECT_EQ(new_format.children[1].since, "6.2.0");
  EXPECT_TRUE(new_format.children[1].optional);
  EXPECT_EQ(new_format.children[2].name, "yes/no");
}

TEST(CommandDocsTest, ContainerTokensAndMultiple) {
  std::vector<DocArg> args = Parse(
      "[filterby:oneof(module-name:string:MODULE|pattern:pattern:PATTERN):FILTERBY] "
      "data:block(key:key value:string)... [id:integer:ID...] [x:string]... "
      "[b:block(u:string:AUTH p:string):AUTH{multiple_token}...]");
  ASSERT_EQ(args.size(), 5u);
  EXPECT_EQ(args[0].token, "FILTERBY");
  EXPECT_EQ(args[0].children[1].name, "pattern");
  EXPECT_EQ(args[0].children[1].type, Type::kPattern);
  EXPECT_EQ(args[0].children[1].token, "PATTERN");
  EXPECT_TRUE(args[1].multiple);
  EXPECT_FALSE(args[1].optional);
  EXPECT_EQ(args[1].type, Type::kBlock);
  EXPECT_TRUE(args[2].optional && args[2].multiple);
  EXPECT_EQ(args[2].token, "ID");
  EXPECT_TRUE(args[3].optional && args[3].multiple);
  EXPECT_EQ(args[4].token, "AUTH");
  EXPECT_TRUE(args[4].multiple && args[4].multiple_token && args[4].optional);
}

TEST(CommandDocsTest, RejectsMalformedGrammars) {
  for (std::string_view bad : {
           "key:kye",                     // unknown type
           "key",                         // no type
           "flag:pure-token",             // pure-token without a token
           "x:oneof()",                   // empty container
           "x:block(a:string",            // unclosed
           "[a:string",                   // unclosed optional
           "a:string]",                   // stray bracket
           "a:oneof(a:string b:string)",  // oneof children need '|'
           "a:block(a:string|b:string)",  // block children need spaces
           "a:string:",                   // empty token
           "a:string:tok",                // lower-case token: a misspelt type
           "a:string[b:string]",          // missing space
           "a:string{since=}",            // empty version
           "a:string{summary=x}",         // unknown note
           ":string",                     // empty name
           "x:list(a:string)",            // unknown container
           "x:oneof(a:string):tok",       // lower-case container token
           "x:block(a:string):",          // empty container token
       }) {
    std::string error = ParseError(bad);
    EXPECT_NE(error.find("expected"), std::string::npos) << bad << " -> " << error;
  }
  EXPECT_TRUE(Parse("").empty());
  EXPECT_TRUE(Parse("  ").empty());
}

CommandSpec SpecWith(int first, int last, int step, uint32_t flags) {
  CommandSpec s{"x", -2, flags, ""};
  s.first_key = first;
  s.last_key = last;
  s.key_step = step;
  return s;
}

TEST(CommandDocsTest, KeySpecsFromFixedPositions) {
  // RENAME-like: one key spec per key, as Redis has.
  std::vector<DocArg> args = Parse("key:key newkey:key");
  std::vector<KeySpec> specs = DeriveKeySpecs(SpecWith(1, 2, 1, kCmdWrite), &args);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].begin_index, 1);
  EXPECT_EQ(specs[1].begin_index, 2);
  EXPECT_EQ(specs[1].last_key, 0);
  EXPECT_EQ(args[0].key_spec_index, 0);
  EXPECT_EQ(args[1].key_spec_index, 1);
  EXPECT_EQ(KeySpecFlagNames(specs[0].flags), (std::vector<std::string_view>{"RW", "update"}));

  // MSET: one range with a step of the block's width.
  args = Parse("data:block(key:key value:string)...");
  specs = DeriveKeySpecs(SpecWith(1, -1, 2, kCmdWrite), &args);
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].begin_index, 1);
  EXPECT_EQ(specs[0].last_key, -1);
  EXPECT_EQ(specs[0].key_step, 2);
  EXPECT_EQ(args[0].children[0].key_spec_index, 0);

  // ZUNIONSTORE-like: a keynum search starting at the count.
  args = Parse("destination:key numkeys:integer key:key... [aggregate:string:AGGREGATE]");
  specs = DeriveKeySpecs(SpecWith(1, 1, 1, kCmdWrite), &args);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_TRUE(specs[1].keynum);
  EXPECT_EQ(specs[1].begin_index, 2);
  EXPECT_EQ(args[2].key_spec_index, 1);
}

TEST(CommandDocsTest, KeyFlagNotesOverrideTheDefault) {
  // SMOVE-like: each key's own flags, listed in Redis's order whatever order they are written in.
  std::vector<DocArg> args =
      Parse("source:key{key_flags=update+RW} destination:key{key_flags=RW+insert} member:string");
  std::vector<KeySpec> specs = DeriveKeySpecs(SpecWith(1, 2, 1, kCmdWrite), &args);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(KeySpecFlagNames(specs[0].flags), (std::vector<std::string_view>{"RW", "update"}));
  EXPECT_EQ(KeySpecFlagNames(specs[1].flags), (std::vector<std::string_view>{"RW", "insert"}));

  // MSET-like: the key inside the block gives the range's flags.
  args = Parse("key_value:block(key:key{key_flags=OW+update} value:string)...");
  specs = DeriveKeySpecs(SpecWith(1, -1, 2, kCmdWrite), &args);
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(KeySpecFlagNames(specs[0].flags), (std::vector<std::string_view>{"OW", "update"}));

  // Only keys take key_flags, and only known names.
  ParseError("value:string{key_flags=RW}");
  ParseError("key:key{key_flags=RW+bogus}");
}

TEST(CommandDocsTest, KeySpecsFallBackToTheLegacyRange) {
  // A key after an optional argument has no fixed position: one legacy spec, index 0.
  std::vector<DocArg> args = Parse("[opt:string] key:key");
  std::vector<KeySpec> specs = DeriveKeySpecs(SpecWith(1, 1, 1, kCmdReadOnly), &args);
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].begin_index, 1);
  EXPECT_EQ(KeySpecFlagNames(specs[0].flags), (std::vector<std::string_view>{"RO", "access"}));
  EXPECT_EQ(args[1].key_spec_index, 0);

  args = Parse("");
  specs = DeriveKeySpecs(SpecWith(0, 0, 0, 0), &args);
  EXPECT_TRUE(specs.empty());
}

// Expected bytes below were captured from redis-server 7.0.15 (`COMMAND DOCS get`,
// `COMMAND INFO get` after HELLO 3).
TEST(CommandDocsTest, GetMatchesRedisBytes) {
  CommandTable table;
  const CommandSpec* get = table.Find("get");
  ASSERT_NE(get, nullptr);
  std::string docs;
  ReplyBuilder docs_rb(&docs, 3);
  ReplyCommandDocs(*get, table, &docs_rb);
  EXPECT_EQ(docs,
            "%5\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\nsince\r\n$5\r\n"
            "1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n"
            "$9\r\narguments\r\n*1\r\n%3\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\n"
            "key\r\n$14\r\nkey_spec_index\r\n:0\r\n");
  std::string info;
  ReplyBuilder info_rb(&info, 3);
  ReplyCommandInfo(*get, table, &info_rb);
  EXPECT_EQ(info,
            "*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n"
            "+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n"
            "+access\r\n$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\n"
            "spec\r\n%1\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\n"
            "range\r\n$4\r\nspec\r\n%3\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\n"
            "limit\r\n:0\r\n~0\r\n");
}

TEST(CommandDocsTest, OptionalAndMultipleFlagsAreASetOfStatusStrings) {
  CommandTable table;
  const CommandSpec* mget = table.Find("mget");
  ASSERT_NE(mget, nullptr);
  std::string docs;
  ReplyBuilder rb(&docs, 3);
  ReplyCommandDocs(*mget, table, &rb);
  // redis-cli asserts the flags are status replies; a bulk "multiple" would crash it.
  EXPECT_NE(docs.find("$5\r\nflags\r\n~1\r\n+multiple\r\n"), std::string::npos) << docs;
}

TEST(CommandDocsTest, ContainerDocsNestSubcommands) {
  CommandTable table;
  const CommandSpec* config = table.Find("config");
  ASSERT_NE(config, nullptr);
  std::string docs;
  ReplyBuilder rb(&docs, 3);
  ReplyCommandDocs(*config, table, &rb);
  size_t subs = docs.find("$11\r\nsubcommands\r\n%");
  ASSERT_NE(subs, std::string::npos) << docs;
  EXPECT_NE(docs.find("$10\r\nconfig|get\r\n%", subs), std::string::npos);
  // A container without arguments has no "arguments" field, as in Redis.
  EXPECT_EQ(docs.substr(0, subs).find("arguments"), std::string::npos);
}

}  // namespace
}  // namespace omnibus
