// COMMAND INFO and COMMAND DOCS in Redis 7.0's reply shapes. redis-cli (7.0) builds its
// interactive hints from COMMAND DOCS' "arguments", so their names, types, tokens and flags
// must match Redis's or the hints differ.
//
// Argument grammar (CommandDoc::arguments)
// ----------------------------------------
//   args      := item*                       separated by spaces (top level and in block())
//   item      := '[' element ']' '...'?      optional
//              | element
//   element   := simple notes? '...'?        a trailing '...' marks "multiple"
//              | container notes? '...'?
//   simple    := name ':' type (':' TOKEN)?
//   container := name ':' 'oneof' '(' item ('|' item)* ')' (':' TOKEN)?
//              | name ':' 'block' '(' args ')' (':' TOKEN)?
//   type      := key | string | integer | double | pattern | unix-time | pure-token
//   notes     := '{' note (',' note)* '}'
//   note      := 'since=' VERSION | 'deprecated_since=' VERSION | 'multiple_token'
//              | 'key_flags=' KEYFLAG ('+' KEYFLAG)*       (key arguments only)
//   KEYFLAG   := RO | RW | OW | RM | access | update | insert | delete | not_key | incomplete
//              | variable_flags
//
// A name or TOKEN is a run of characters other than whitespace and []()|{},. Names may
// contain ':' (Redis names arguments "ip:port"), so a simple element is split at its colons
// and the type is found from the right: the last part if it is a type name, else the
// second-to-last (and the last is the TOKEN). Type names are lower case and tokens upper case,
// so "pattern:pattern:MATCH" and "ip:port:string:ADDR" are unambiguous (a TOKEN may not contain
// lower-case letters). "[x...]" and "[x]..." mean the same. A pure-token needs a TOKEN; oneof and
// block need at least one child. Examples: "key:key value:string
// [condition:oneof(nx:pure-token:NX|xx:pure-token:XX)]", "data:block(key:key value:string)...",
// "[filterby:oneof(pattern:pattern:PATTERN):FILTERBY]",
// "[get:pure-token:GET{since=6.2.0}]", "key:key{key_flags=RW+access+update}".
//
// Notes carry what only Redis's JSON files know: a since/deprecated_since shown by COMMAND
// DOCS, and the flags of the key spec that finds a key (COMMAND INFO). Without key_flags a key
// gets RW+update if the command writes, RO+access if it only reads.
//
// A grammar that does not parse makes COMMAND DOCS omit the command's arguments (never an
// error at runtime); command_docs_test parses every table entry so that cannot ship.

#include "omnibus/commands/command_docs.h"

#include <optional>
#include <vector>

#include "omnibus/base/str_cat.h"

namespace omnibus {
namespace {

constexpr std::pair<DocArg::Type, std::string_view> kTypeNames[] = {
    {DocArg::Type::kString, "string"},        {DocArg::Type::kInteger, "integer"},
    {DocArg::Type::kDouble, "double"},        {DocArg::Type::kKey, "key"},
    {DocArg::Type::kPattern, "pattern"},      {DocArg::Type::kUnixTime, "unix-time"},
    {DocArg::Type::kPureToken, "pure-token"}, {DocArg::Type::kOneOf, "oneof"},
    {DocArg::Type::kBlock, "block"},
};

std::optional<DocArg::Type> SimpleTypeFromName(std::string_view name) {
  for (auto [type, type_name] : kTypeNames) {
    if (type_name == name && type != DocArg::Type::kOneOf && type != DocArg::Type::kBlock) {
      return type;
    }
  }
  return std::nullopt;
}

constexpr std::pair<uint32_t, std::string_view> kKeyFlagNames[] = {
    {kKeyRO, "RO"},
    {kKeyRW, "RW"},
    {kKeyOW, "OW"},
    {kKeyRM, "RM"},
    {kKeyAccess, "access"},
    {kKeyUpdate, "update"},
    {kKeyInsert, "insert"},
    {kKeyDelete, "delete"},
    {kKeyNotKey, "not_key"},
    {kKeyIncomplete, "incomplete"},
    {kKeyVariableFlags, "variable_flags"},
};

uint32_t KeySpecFlagFromName(std::string_view name) {
  for (auto [bit, flag_name] : kKeyFlagNames) {
    if (flag_name == name) return bit;
  }
  return 0;
}

// Redis's tokens have no lower-case letters; a lower-case last part is a misspelt type.
bool IsToken(std::string_view s) {
  return !s.empty() && s.find_first_of("abcdefghijklmnopqrstuvwxyz") == std::string_view::npos;
}

bool IsWordChar(char c) {
  switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '[':
    case ']':
    case '(':
    case ')':
    case '|':
    case '{':
    case '}':
    case ',':
      return false;
    default:
      return true;
  }
}

class GrammarParser {
 public:
  explicit GrammarParser(std::string_view text) : text_(text) {}

  bool ParseAll(std::vector<DocArg>* out, std::string* error) {
    bool ok = ParseList(' ', out) && (SkipSpaces(), AtEnd() || Fail("end of grammar"));
    if (!ok) *error = error_;
    return ok;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  void SkipSpaces() {
    while (!AtEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n')) ++pos_;
  }
  bool Consume(std::string_view s) {
    if (text_.substr(pos_, s.size()) != s) return false;
    pos_ += s.size();
    return true;
  }
  bool Fail(std::string_view expected) {
    if (error_.empty()) {
      error_ = StrCat("at offset ", pos_, " of \"", text_, "\": expected ", expected);
    }
    return false;
  }

  // Items separated by spaces (sep ' ', ends at ')' or the end) or by '|' (ends at ')').
  bool ParseList(char sep, std::vector<DocArg>* out) {
    SkipSpaces();
    while (!AtEnd() && Peek() != ')') {
      if (sep == '|' && !out->empty()) {
        if (!Consume("|")) return Fail("'|' or ')'");
        SkipSpaces();
      }
      DocArg arg;
      if (!ParseItem(&arg)) return false;
      out->push_back(std::move(arg));
      size_t before = pos_;
      SkipSpaces();
      if (sep == ' ' && pos_ == before && !AtEnd() && Peek() != ')') {
        return Fail("a space between arguments");
      }
    }
    return true;
  }

  bool ParseItem(DocArg* arg) {
    if (Consume("[")) {
      if (!ParseElement(arg)) return false;
      if (!Consume("]")) return Fail("']'");
      arg->optional = true;
      if (Consume("...")) arg->multiple = true;
      return true;
    }
    return ParseElement(arg);
  }

  std::string_view Word() {
    size_t start = pos_;
    while (!AtEnd() && IsWordChar(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  bool ParseElement(DocArg* arg) {
    size_t start = pos_;
    std::string_view word = Word();
    bool multiple = false;
    if (word.ends_with("...")) {
      // "name:type..." : the dots belong to the element, not to its token.
      word.remove_suffix(3);
      multiple = true;
    }
    if (word.empty()) return Fail("an argument");
    if (!multiple && Peek() == '(') {
      if (!ParseContainer(word, arg)) return false;
    } else {
      if (!SplitSimple(word, arg)) {
        pos_ = start;
        return Fail("name:type[:TOKEN] with a known type");
      }
    }
    if (!multiple && Peek() == '{' && !ParseNotes(arg)) return false;
    if (!multiple && Consume("...")) multiple = true;
    arg->multiple = multiple;
    return true;
  }

  bool SplitSimple(std::string_view word, DocArg* arg) {
    std::vector<std::string_view> parts = SplitString(word, ':', false);
    if (parts.size() < 2) return false;
    size_t type_at = parts.size() - 1;
    std::optional<DocArg::Type> type = SimpleTypeFromName(parts[type_at]);
    if (!type && parts.size() >= 3 && !parts.back().empty()) {
      type = SimpleTypeFromName(parts[--type_at]);
      arg->token = std::string(parts.back());
    }
    if (!type) return false;
    size_t name_len = 0;
    for (size_t i = 0; i < type_at; ++i) name_len += parts[i].size() + 1;
    if (name_len <= 1) return false;
    arg->name = std::string(word.substr(0, name_len - 1));
    arg->type = *type;
    if (arg->type == DocArg::Type::kPureToken && arg->token.empty()) return false;
    return arg->token.empty() || IsToken(arg->token);
  }

  bool ParseContainer(std::string_view word, DocArg* arg) {
    if (word.ends_with(":oneof")) {
      arg->type = DocArg::Type::kOneOf;
      word.remove_suffix(6);
    } else if (word.ends_with(":block")) {
      arg->type = DocArg::Type::kBlock;
      word.remove_suffix(6);
    } else {
      return Fail("name:oneof( or name:block(");
    }
    if (word.empty()) return Fail("a container name");
    arg->name = std::string(word);
    Consume("(");
    if (!ParseList(arg->type == DocArg::Type::kOneOf ? '|' : ' ', &arg->children)) return false;
    if (arg->children.empty()) return Fail("at least one child argument");
    if (!Consume(")")) return Fail("')'");
    if (Consume(":")) {
      std::string_view token = Word();
      if (token.ends_with("...")) {
        token.remove_suffix(3);
        pos_ -= 3;
      }
      if (!IsToken(token)) return Fail("an upper-case TOKEN after ':'");
      arg->token = std::string(token);
    }
    return true;
  }

  bool ParseNotes(DocArg* arg) {
    Consume("{");
    while (true) {
      if (Consume("since=")) {
        arg->since = std::string(Word());
        if (arg->since.empty()) return Fail("a version");
      } else if (Consume("deprecated_since=")) {
        arg->deprecated_since = std::string(Word());
        if (arg->deprecated_since.empty()) return Fail("a version");
      } else if (Consume("multiple_token")) {
        arg->multiple_token = true;
      } else if (arg->type == DocArg::Type::kKey && Consume("key_flags=")) {
        for (std::string_view name : SplitString(Word(), '+', false)) {
          uint32_t bit = KeySpecFlagFromName(name);
          if (bit == 0) return Fail("a key-spec flag (RO, RW, OW, RM, access, update, ...)");
          arg->key_flags |= bit;
        }
      } else {
        return Fail("since=, deprecated_since=, multiple_token or (for a key) key_flags=");
      }
      if (Consume("}")) return true;
      if (!Consume(",")) return Fail("',' or '}'");
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string error_;
};

// Command flags in the order Redis 7.0 lists them. may_replicate is deliberately absent:
// Redis hides it from COMMAND INFO.
std::vector<std::string_view> FlagNames(uint32_t flags) {
  static constexpr std::pair<uint32_t, std::string_view> kNames[] = {
      {kCmdWrite, "write"},
      {kCmdReadOnly, "readonly"},
      {kCmdDenyOom, "denyoom"},
      {kCmdAdmin, "admin"},
      {kCmdPubSub, "pubsub"},
      {kCmdNoScript, "noscript"},
      {kCmdBlocking, "blocking"},
      {kCmdLoading, "loading"},
      {kCmdStale, "stale"},
      {kCmdSkipMonitor, "skip_monitor"},
      {kCmdSkipSlowlog, "skip_slowlog"},
      {kCmdFast, "fast"},
      {kCmdNoAuth, "no_auth"},
      {kCmdNoMandatoryKeys, "no_mandatory_keys"},
      {kCmdNoMulti, "no_multi"},
      {kCmdAllowBusy, "allow_busy"},
  };
  std::vector<std::string_view> out;
  for (auto [bit, name] : kNames) {
    if (flags & bit) out.push_back(name);
  }
  return out;
}

// How many argv slots an argument takes, or nullopt when that varies.
std::optional<int> FixedWidth(const DocArg& arg) {
  if (arg.optional || arg.multiple) return std::nullopt;
  int token = arg.token.empty() ? 0 : 1;
  switch (arg.type) {
    case DocArg::Type::kPureToken:
      return 1;
    case DocArg::Type::kOneOf:
      return std::nullopt;
    case DocArg::Type::kBlock: {
      int width = token;
      for (const DocArg& c : arg.children) {
        std::optional<int> w = FixedWidth(c);
        if (!w) return std::nullopt;
        width += *w;
      }
      return width;
    }
    default:
      return token + 1;
  }
}

bool ContainsKey(const DocArg& arg) {
  if (arg.type == DocArg::Type::kKey) return true;
  for (const DocArg& c : arg.children) {
    if (ContainsKey(c)) return true;
  }
  return false;
}

// The key_flags note of the first key argument (depth first), or 0.
uint32_t FirstKeyFlags(const std::vector<DocArg>& args) {
  for (const DocArg& a : args) {
    if (a.type == DocArg::Type::kKey) return a.key_flags;
    if (uint32_t flags = FirstKeyFlags(a.children)) return flags;
  }
  return 0;
}

void SetKeySpecIndex(std::vector<DocArg>* args, int index) {
  for (DocArg& a : *args) {
    if (a.type == DocArg::Type::kKey) a.key_spec_index = index;
    SetKeySpecIndex(&a.children, index);
  }
}

// One key spec per key argument, from the argument positions. Returns false when a key's
// position cannot be told from the grammar (after an optional argument, inside a oneof, ...).
bool KeySpecsFromPositions(const CommandSpec& spec, std::vector<DocArg>* args,
                           std::vector<KeySpec>* specs) {
  int pos = 1;  // argv[0] is the command name
  const DocArg* prev = nullptr;
  for (DocArg& a : *args) {
    if (pos < 0) {
      if (ContainsKey(a)) return false;
      continue;
    }
    int at = pos + (a.token.empty() ? 0 : 1);
    if (ContainsKey(a)) {
      // Optional keys only after their count (EVAL's "numkeys [key...]").
      if (a.optional && (prev == nullptr || prev->name != "numkeys")) return false;
      KeySpec ks;
      if (a.type == DocArg::Type::kKey && !a.multiple) {
        ks.begin_index = at;
      } else if (a.type == DocArg::Type::kKey && prev != nullptr && prev->name == "numkeys" &&
                 prev->type == DocArg::Type::kInteger) {
        ks.begin_index = at - 1;  // Redis starts a keynum search at the count
        ks.keynum = true;
      } else if (a.multiple && a.token.empty() && spec.last_key < 0 &&
                 (a.type == DocArg::Type::kKey || a.type == DocArg::Type::kBlock)) {
        // "key:key..." or "data:block(key:key value:string)...": a range to the end.
        int offset = 0, width = 1;
        if (a.type == DocArg::Type::kBlock) {
          DocArg single = a;
          single.multiple = false;
          std::optional<int> w = FixedWidth(single);
          if (!w) return false;
          width = *w;
          bool found = false;
          for (DocArg& c : a.children) {
            if (c.type == DocArg::Type::kKey) {
              if (found) return false;
              found = true;
            } else if (!found) {
              offset += FixedWidth(c).value_or(0);
            }
          }
          if (!found) return false;
        }
        ks.begin_index = at + offset;
        ks.last_key = spec.last_key;
        ks.key_step = width;
      } else {
        return false;
      }
      SetKeySpecIndex(&a.children, static_cast<int>(specs->size()));
      if (a.type == DocArg::Type::kKey) a.key_spec_index = static_cast<int>(specs->size());
      ks.flags = a.type == DocArg::Type::kKey ? a.key_flags : FirstKeyFlags(a.children);
      specs->push_back(ks);
    }
    std::optional<int> width = FixedWidth(a);
    pos = width ? pos + *width : -1;
    prev = &a;
  }
  return true;
}

void ReplyKeySpec(const KeySpec& ks, ReplyBuilder* rb) {
  rb->Map(ks.notes.empty() ? 3 : 4);
  if (!ks.notes.empty()) {
    rb->Bulk("notes");
    rb->Bulk(ks.notes);
  }
  rb->Bulk("flags");
  std::vector<std::string_view> flags = KeySpecFlagNames(ks.flags);
  rb->Set(flags.size());
  for (std::string_view f : flags) rb->SimpleString(f);
  rb->Bulk("begin_search");
  rb->Map(2);
  rb->Bulk("type");
  rb->Bulk("index");
  rb->Bulk("spec");
  rb->Map(1);
  rb->Bulk("index");
  rb->Integer(ks.begin_index);
  rb->Bulk("find_keys");
  rb->Map(2);
  rb->Bulk("type");
  rb->Bulk(ks.keynum ? "keynum" : "range");
  rb->Bulk("spec");
  rb->Map(3);
  if (ks.keynum) {
    rb->Bulk("keynumidx");
    rb->Integer(ks.keynum_index);
    rb->Bulk("firstkey");
    rb->Integer(ks.first_key);
    rb->Bulk("keystep");
    rb->Integer(ks.key_step);
  } else {
    rb->Bulk("lastkey");
    rb->Integer(ks.last_key);
    rb->Bulk("keystep");
    rb->Integer(ks.key_step);
    rb->Bulk("limit");
    rb->Integer(ks.limit);
  }
}

void ReplyDocArgs(const std::vector<DocArg>& args, ReplyBuilder* rb) {
  rb->Array(args.size());
  for (const DocArg& a : args) {
    bool container = a.type == DocArg::Type::kOneOf || a.type == DocArg::Type::kBlock;
    bool has_flags = a.optional || a.multiple || a.multiple_token;
    rb->Map(2 + (a.key_spec_index >= 0) + !a.token.empty() + !a.since.empty() +
            !a.deprecated_since.empty() + has_flags + container);
    rb->Bulk("name");
    rb->Bulk(a.name);
    rb->Bulk("type");
    rb->Bulk(DocArgTypeName(a.type));
    if (a.key_spec_index >= 0) {
      rb->Bulk("key_spec_index");
      rb->Integer(a.key_spec_index);
    }
    if (!a.token.empty()) {
      rb->Bulk("token");
      rb->Bulk(a.token);
    }
    if (!a.since.empty()) {
      rb->Bulk("since");
      rb->Bulk(a.since);
    }
    if (!a.deprecated_since.empty()) {
      rb->Bulk("deprecated_since");
      rb->Bulk(a.deprecated_since);
    }
    if (has_flags) {
      // redis-cli asserts these are simple strings.
      rb->Bulk("flags");
      rb->Set(a.optional + a.multiple + a.multiple_token);
      if (a.optional) rb->SimpleString("optional");
      if (a.multiple) rb->SimpleString("multiple");
      if (a.multiple_token) rb->SimpleString("multiple_token");
    }
    if (container) {
      rb->Bulk("arguments");
      ReplyDocArgs(a.children, rb);
    }
  }
}

}  // namespace

std::string_view DocArgTypeName(DocArg::Type type) {
  for (auto [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  return "string";
}

std::vector<std::string_view> KeySpecFlagNames(uint32_t flags) {
  std::vector<std::string_view> out;
  for (auto [bit, name] : kKeyFlagNames) {
    if (flags & bit) out.push_back(name);
  }
  return out;
}

bool ParseDocArgs(std::string_view grammar, std::vector<DocArg>* out, std::string* error) {
  out->clear();
  GrammarParser parser(grammar);
  if (parser.ParseAll(out, error)) return true;
  out->clear();
  return false;
}

std::vector<KeySpec> DeriveKeySpecs(const CommandSpec& spec, std::vector<DocArg>* args) {
  std::vector<KeySpec> specs;
  if (!KeySpecsFromPositions(spec, args, &specs) ||
      (spec.first_key > 0 && (specs.empty() || specs[0].begin_index != spec.first_key))) {
    // The grammar cannot place the keys (or disagrees with the table): fall back to the legacy
    // first/last/step range, which is what COMMAND GETKEYS and the router use anyway.
    specs.clear();
    SetKeySpecIndex(args, spec.first_key > 0 ? 0 : -1);
    if (spec.first_key > 0) {
      KeySpec ks;
      ks.begin_index = spec.first_key;
      ks.last_key = spec.last_key < 0 ? spec.last_key : spec.last_key - spec.first_key;
      ks.key_step = spec.key_step;
      ks.flags = FirstKeyFlags(*args);
      specs.push_back(ks);
    }
  }
  // Without a key_flags note the command's own write/read-only flag is the closest truthful
  // answer (Redis's finer OW/RM, insert, delete, ... need the note).
  for (KeySpec& ks : specs) {
    ks.notes = spec.doc.key_notes;
    if (ks.flags != 0) continue;
    if (spec.flags & kCmdWrite) {
      ks.flags = kKeyRW | kKeyUpdate;
    } else if (spec.flags & kCmdReadOnly) {
      ks.flags = kKeyRO | kKeyAccess;
    }
  }
  return specs;
}

void ReplyCommandInfo(const CommandSpec& spec, const CommandTable& table, ReplyBuilder* rb) {
  rb->Array(10);
  rb->Bulk(spec.name);
  rb->Integer(spec.arity);
  auto flags = FlagNames(spec.flags);
  // Redis derives "movablekeys" (last) from key specs a fixed range cannot describe.
  if (spec.keys_fn != nullptr) flags.push_back("movablekeys");
  rb->Set(flags.size());
  for (std::string_view f : flags) rb->SimpleString(f);
  rb->Integer(spec.first_key);
  rb->Integer(spec.last_key);
  rb->Integer(spec.key_step);
  std::vector<std::string_view> cats = SplitString(spec.acl_categories, ' ', true);
  rb->Set(cats.size());
  for (std::string_view c : cats) rb->SimpleString(c);
  rb->Set(0);  // tips: we keep none
  std::vector<DocArg> args;
  std::string error;
  ParseDocArgs(spec.doc.arguments, &args, &error);  // on error: legacy key spec only
  std::vector<KeySpec> key_specs = DeriveKeySpecs(spec, &args);
  rb->Set(key_specs.size());
  for (const KeySpec& ks : key_specs) ReplyKeySpec(ks, rb);
  auto subs = table.SubcommandsOf(spec.name);
  if (subs.empty()) {
    rb->Set(0);  // Redis: an empty set when there are no subcommands, else an array
    return;
  }
  rb->Array(subs.size());
  for (const CommandSpec* s : subs) ReplyCommandInfo(*s, table, rb);
}

void ReplyCommandDocs(const CommandSpec& spec, const CommandTable& table, ReplyBuilder* rb) {
  auto subs = table.SubcommandsOf(spec.name);
  std::vector<DocArg> args;
  std::string error;
  if (ParseDocArgs(spec.doc.arguments, &args, &error)) DeriveKeySpecs(spec, &args);
  bool has_summary = !spec.doc.summary.empty();
  bool has_since = !spec.doc.since.empty();
  bool has_complexity = !spec.doc.complexity.empty();
  bool deprecated = !spec.doc.deprecated_since.empty();
  std::vector<std::string_view> history;
  for (std::string_view h = spec.doc.history; !h.empty();) {
    size_t nl = h.find('\n');
    history.push_back(h.substr(0, nl));
    h = nl == std::string_view::npos ? std::string_view() : h.substr(nl + 1);
  }
  rb->Map(1 + has_summary + has_since + has_complexity + 3 * deprecated + !history.empty() +
          !args.empty() + !subs.empty());
  if (has_summary) {
    rb->Bulk("summary");
    rb->Bulk(spec.doc.summary);
  }
  if (has_since) {
    rb->Bulk("since");
    rb->Bulk(spec.doc.since);
  }
  rb->Bulk("group");
  rb->Bulk(spec.doc.group);
  if (has_complexity) {
    rb->Bulk("complexity");
    rb->Bulk(spec.doc.complexity);
  }
  if (deprecated) {
    rb->Bulk("doc_flags");
    rb->Set(1);
    rb->SimpleString("deprecated");
    rb->Bulk("deprecated_since");
    rb->Bulk(spec.doc.deprecated_since);
    rb->Bulk("replaced_by");
    rb->Bulk(spec.doc.replaced_by);
  }
  if (!history.empty()) {
    rb->Bulk("history");
    rb->Set(history.size());
    for (std::string_view h : history) {
      size_t sp = h.find(' ');
      rb->Array(2);
      rb->Bulk(h.substr(0, sp));
      rb->Bulk(sp == std::string_view::npos ? std::string_view() : h.substr(sp + 1));
    }
  }
  if (!args.empty()) {
    rb->Bulk("arguments");
    ReplyDocArgs(args, rb);
  }
  if (!subs.empty()) {
    rb->Bulk("subcommands");
    rb->Map(subs.size());
    for (const CommandSpec* s : subs) {
      rb->Bulk(s->name);
      ReplyCommandDocs(*s, table, rb);
    }
  }
}

}  // namespace omnibus
