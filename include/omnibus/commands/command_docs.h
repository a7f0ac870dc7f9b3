#pragma once

#include "omnibus/commands/command_table.h"

namespace omnibus {

// COMMAND INFO's reply for one command, in Redis 7's shape: name, arity, flags, first key,
// last key, step, ACL categories, tips, key specs, subcommands.
void ReplyCommandInfo(const CommandSpec& spec, const CommandTable& table, ReplyBuilder* rb);
// COMMAND DOCS's map for one command: summary, since, group, complexity, arguments
// (from CommandDoc::arguments), subcommands.
void ReplyCommandDocs(const CommandSpec& spec, const CommandTable& table, ReplyBuilder* rb);

}  // namespace omnibus
