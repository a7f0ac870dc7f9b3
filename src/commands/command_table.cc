#include "omnibus/commands/command_table.h"

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"

namespace omnibus {
namespace {

std::atomic<uint64_t> next_generation{1};

// What Find last answered on this thread. A pipeline repeats its command, so most lookups
// are the one before: a compare instead of hashing the name.
struct LastFound {
  const CommandTable* table = nullptr;
  uint64_t generation = 0;
  size_t len = 0;
  char name[32];
  const CommandSpec* spec = nullptr;
};
thread_local LastFound last_found;

}  // namespace

CommandTable::CommandTable() : generation_(next_generation.fetch_add(1)) {
  for (auto family :
       {ConnectionFamily, StringFamily, KeysFamily, GenericFamily, ServerFamily, ListFamily,
        HashFamily, SetFamily, ZSetFamily, SortFamily, TransactionFamily, ScriptFamily,
        PubSubFamily, FunctionFamily, LeaseFamily, LatencyFamily, TrackingFamily, MemoryFamily}) {
    for (CommandSpec& spec : family()) specs_.push_back(spec);
  }
  for (size_t i = 0; i < specs_.size(); ++i) {
    specs_[i].id = static_cast<uint16_t>(i);
    by_name_[std::string(specs_[i].name)] = &specs_[i];
  }
  for (CommandSpec& s : specs_) {
    size_t bar = s.name.find('|');
    if (bar != std::string_view::npos) {
      auto it = by_name_.find(std::string(s.name.substr(0, bar)));
      if (it != by_name_.end()) const_cast<CommandSpec*>(it->second)->container = true;
    }
  }
}

const CommandSpec* CommandTable::Find(std::string_view name) const {
  char buf[64];
  if (name.size() > sizeof(buf)) return nullptr;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  const size_t n = name.size();
  LastFound& last = last_found;
  if (last.table == this && last.generation == generation_ && last.len == n &&
      memcmp(last.name, buf, n) == 0) {
    return last.spec;
  }
  auto it = by_name_.find(absl::string_view(buf, n));
  const CommandSpec* spec = it == by_name_.end() ? nullptr : it->second;
  if (spec != nullptr && n <= sizeof(last.name)) {
    last.table = this;
    last.generation = generation_;
    last.len = n;
    memcpy(last.name, buf, n);
    last.spec = spec;
  }
  return spec;
}

std::vector<const CommandSpec*> CommandTable::SubcommandsOf(std::string_view parent) const {
  std::vector<const CommandSpec*> out;
  std::string prefix = StrCat(parent, "|");
  for (const CommandSpec& s : specs_) {
    if (s.name.substr(0, prefix.size()) == prefix) out.push_back(&s);
  }
  return out;
}

bool CommandTable::Rename(std::string_view from, std::string_view to) {
  const CommandSpec* spec = Find(from);
  if (spec == nullptr) return false;
  generation_ = next_generation.fetch_add(1);
  std::string lower(from);
  AsciiToLower(&lower);
  by_name_.erase(lower);
  if (!to.empty()) {
    std::string new_name(to);
    AsciiToLower(&new_name);
    by_name_[new_name] = spec;
  }
  return true;
}

CommandSpec ReactorCommand(std::string_view name, int arity, uint32_t flags,
                           std::string_view acl_categories, ReactorHandler handler,
                           CommandDoc doc) {
  CommandSpec s{name, arity, flags, acl_categories};
  s.reactor = handler;
  s.doc = doc;
  return s;
}

CommandSpec BlockingCommand(std::string_view name, int arity, uint32_t flags,
                            std::string_view acl_categories, int first_key, int last_key,
                            ShardHandler handler, int timeout_arg, CommandDoc doc,
                            KeysHandler keys_fn) {
  CommandSpec s{name, arity, flags, acl_categories, first_key, last_key, first_key > 0 ? 1 : 0};
  s.route = Route::kTask;
  s.task = ReactorTask::kBlockingPop;
  s.shard = handler;
  s.timeout_arg = timeout_arg;
  s.doc = doc;
  s.keys_fn = keys_fn;
  return s;
}

void KeyPositions(const CommandSpec& spec, std::span<const std::string_view> args,
                  std::vector<int>* out) {
  if (spec.keys_fn != nullptr) return spec.keys_fn(args, out);
  if (spec.first_key <= 0) return;
  int argc = static_cast<int>(args.size());
  int last = spec.last_key < 0 ? argc + spec.last_key : spec.last_key;
  for (int i = spec.first_key; i <= last && i < argc; i += spec.key_step) out->push_back(i);
}

void KeysAfterCount(std::span<const std::string_view> args, int numkeys_at, bool dest_first,
                    std::vector<int>* out) {
  if (static_cast<size_t>(numkeys_at) >= args.size()) return;
  int64_t n;
  if (!ParseInt64(args[static_cast<size_t>(numkeys_at)], &n) || n <= 0 ||
      n > static_cast<int64_t>(args.size()) - numkeys_at - 1)
    return;
  if (dest_first) out->push_back(1);
  for (int64_t i = 0; i < n; ++i) out->push_back(numkeys_at + 1 + static_cast<int>(i));
}

bool ParseScanCursor(std::string_view arg, uint64_t* out) {
  std::string s(arg);
  if (!s.empty() && isspace(static_cast<unsigned char>(s[0]))) return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = strtoull(s.c_str(), &end, 10);  // NOLINT: strtoul's exact rules
  if (*end != '\0' || errno == ERANGE) return false;
  *out = v;
  return true;
}

bool BlockOnKeys(ExecContext& ctx, std::span<const std::string_view> keys) {
  if (!ctx.may_block) return false;
  for (std::string_view key : keys) ctx.DbFor(key).AddBlockingKey(key);
  ctx.would_block = true;
  return true;
}

void AfterBlockingPop(ExecContext& ctx, std::string_view key) {
  if (!ctx.may_block) return;
  Db& db = ctx.DbFor(key);
  if (db.Peek(key)) {
    db.SignalReady(key);
  } else {
    db.AddBlockingKey(key);
  }
}

bool ParseBlockingTimeout(std::string_view arg, int64_t* ms, std::string_view* error) {
  long double seconds;
  if (!ParseLongDouble(arg, &seconds)) {
    *error = "ERR timeout is not a float or out of range";
    return false;
  }
  long double v = ceill(seconds * 1000.0L);         // 0.0001 s waits 1 ms, -0.0001 s forever
  int64_t t = std::numeric_limits<int64_t>::min();  // what C's conversion gives out of range
  if (v > -9.2e18L && v < 9.2e18L) t = static_cast<int64_t>(v);
  if (t < 0) {
    *error = "ERR timeout is negative";
    return false;
  }
  *ms = t;
  return true;
}

bool CheckBlockingTimeout(std::string_view arg, ReplyBuilder* rb) {
  int64_t ms;
  std::string_view error;
  if (ParseBlockingTimeout(arg, &ms, &error)) return true;
  rb->Error(error);
  return false;
}

void ReplyStatus(ReplyBuilder* rb, OpStatus status) { rb->Error(ErrorText(status)); }

void ReplyHelpLines(ReplyBuilder* rb, std::span<const std::string_view> lines) {
  rb->Array(lines.size());
  for (std::string_view l : lines) rb->SimpleString(l);
}

void ReplyArityError(ReplyBuilder* rb, std::string_view command_name) {
  rb->Error(StrCat("ERR wrong number of arguments for '", command_name, "' command"));
}

bool ArgToInt64(std::string_view arg, int64_t* out, ReplyBuilder* rb) {
  if (ParseInt64(arg, out)) return true;
  ReplyStatus(rb, OpStatus::kNotAnInteger);
  return false;
}

}  // namespace omnibus
