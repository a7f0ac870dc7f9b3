#pragma once

#include <span>
#include <string_view>

#include "omnibus/resp/reply_value.h"
#include "omnibus/shard/work.h"

namespace omnibus {

// redis.call / redis.pcall from EVAL scripts and FCALL functions: runs one command (`argv`,
// replying in protocol `resp`) here, with direct access to every shard's keys when the
// script runs parked. `read_only` (EVAL_RO, FCALL_RO, no-writes scripts) refuses write
// commands. An error comes back as a ReplyValue of Kind::kError with Redis's text.
ReplyValue CallFromScript(const ExecContext& ctx, std::span<const std::string_view> argv, int resp,
                          bool read_only);

}  // namespace omnibus
