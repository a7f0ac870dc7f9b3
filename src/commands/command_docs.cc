#include "omnibus/commands/command_docs.h"

#include <vector>

#include "omnibus/base/str_cat.h"


namespace omnibus {
namespace {

std::vector<std::string_view> FlagNames(uint32_t flags) {
  static constexpr std::pair<uint32_t, std::string_view> kNames[] = {
      {kCmdWrite, "write"},       {kCmdReadOnly, "readonly"},   {kCmdDenyOom, "denyoom"},
      {kCmdAdmin, "admin"},       {kCmdPubSub, "pubsub"},       {kCmdNoScript, "noscript"},
      {kCmdBlocking, "blocking"}, {kCmdLoading, "loading"},     {kCmdStale, "stale"},
      {kCmdSkipMonitor, "skip_monitor"}, {kCmdSkipSlowlog, "skip_slowlog"},
      {kCmdFast, "fast"},         {kCmdNoAuth, "no_auth"},      {kCmdMayReplicate, "may_replicate"},
      {kCmdAllowBusy, "allow_busy"},
  };
  std::vector<std::string_view> out;
  for (auto [bit, name] : kNames) {
    if (flags & bit) out.push_back(name);
  }
  return out;
}

}  // namespace

void ReplyCommandInfo(const CommandSpec& spec, const CommandTable& table, ReplyBuilder* rb) {
  rb->Array(10);
  rb->Bulk(spec.name);
  rb->Integer(spec.arity);
  auto flags = FlagNames(spec.flags);
  rb->Set(flags.size());
  for (std::string_view f : flags) rb->SimpleString(f);
  rb->Integer(spec.first_key);
  rb->Integer(spec.last_key);
  rb->Integer(spec.key_step);
  std::vector<std::string_view> cats = SplitString(spec.acl_categories, ' ', true);
  rb->Set(cats.size());
  for (std::string_view c : cats) rb->SimpleString(c);
  rb->Set(0);  // tips
  if (spec.first_key > 0) {
    rb->Array(1);
    rb->Map(4);
    rb->Bulk("flags");
    rb->Set(0);
    rb->Bulk("begin_search");
    rb->Map(2);
    rb->Bulk("type");
    rb->Bulk("index");
    rb->Bulk("spec");
    rb->Map(1);
    rb->Bulk("index");
    rb->Integer(spec.first_key);
    rb->Bulk("find_keys");
    rb->Map(2);
    rb->Bulk("type");
    rb->Bulk("range");
    rb->Bulk("spec");
    rb->Map(3);
    rb->Bulk("lastkey");
    rb->Integer(spec.last_key < 0 ? spec.last_key : spec.last_key - spec.first_key);
    rb->Bulk("keystep");
    rb->Integer(spec.key_step);
    rb->Bulk("limit");
    rb->Integer(0);
  } else {
    rb->Array(0);
  }
  auto subs = table.SubcommandsOf(spec.name);
  rb->Array(subs.size());
  for (const CommandSpec* s : subs) ReplyCommandInfo(*s, table, rb);
}

void ReplyCommandDocs(const CommandSpec& spec, const CommandTable& table, ReplyBuilder* rb) {
  auto subs = table.SubcommandsOf(spec.name);
  rb->Map(4 + (subs.empty() ? 0 : 1));
  rb->Bulk("summary");
  rb->Bulk(spec.doc.summary);
  rb->Bulk("since");
  rb->Bulk(spec.doc.since);
  rb->Bulk("group");
  rb->Bulk(spec.doc.group);
  rb->Bulk("complexity");
  rb->Bulk(spec.doc.complexity);
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
