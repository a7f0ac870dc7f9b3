// SORT and SORT_RO. Runs on: shard threads.
#include "omnibus/commands/command_table.h"

namespace omnibus {

std::vector<CommandSpec> SortFamily() { return {}; }

}  // namespace omnibus
