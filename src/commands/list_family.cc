// List commands. Runs on: shard threads.
#include "omnibus/commands/command_table.h"

namespace omnibus {

std::vector<CommandSpec> ListFamily() { return {}; }

}  // namespace omnibus
