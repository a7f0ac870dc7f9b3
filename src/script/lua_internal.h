#pragma once

// Pieces of the script engine shared between its files (not a public header).

#include <lua.hpp>
#include <string_view>

#include "omnibus/resp/reply_builder.h"
#include "omnibus/resp/reply_value.h"

namespace omnibus::script_internal {

// Redis's struct and cmsgpack libraries (Debian packages neither for Lua 5.1). Each pushes
// its module table, as a luaopen_* function does.
int OpenStruct(lua_State* lua);
int OpenCmsgpack(lua_State* lua);

// Registry key of the real globals table (scripts see a read-only proxy of it).
inline constexpr char kRealGlobalsKey[] = "omnibus.globals";

// Keeps only the globals Redis 7.0 keeps, makes every table reachable from them read-only
// (lua_sandbox.cc) and gives scripts the proxy as their globals. Runs once, after the
// libraries and the redis table are in the globals. Leaves the stack empty.
void InstallSandbox(lua_State* lua);

// Pushes {err = "<CODE> <message>"} the way Redis's luaPushErrorBuff does: "-CODE msg" keeps
// CODE, a text without a leading '-' gets "ERR", and CR/LF are trimmed from both ends.
void PushErrorTable(lua_State* lua, std::string_view text);

// Pushes a command's reply as Lua sees it, for a script in protocol `resp` (redis.setresp).
// Cannot raise a Lua error except on memory exhaustion.
void PushReplyValue(lua_State* lua, const ReplyValue& value, int resp);

// Writes the value on top of the stack as the script's reply and pops it. `script_resp`
// (the script's redis.setresp) decides how booleans come out; the builder's own protocol
// decides everything else. Reads tables raw (metatables ignored, as redis-server 7.0.15);
// it still runs inside a protected call, for memory errors (WriteReplyProtected).
void WriteLuaReply(lua_State* lua, ReplyBuilder* out, int script_resp);

// Redis's "%.17g" for a number passed to redis.call (Lua's own tostring loses precision).
int FormatArgNumber(double v, char* buf, size_t size);

}  // namespace omnibus::script_internal
