#pragma once

#include <string>
#include <string_view>

#include "omnibus/base/str_cat.h"

namespace omnibus {

// Redis's log levels, in Redis's order (loglevel config).
enum class LogLevel { kDebug = 0, kVerbose = 1, kNotice = 2, kWarning = 3 };

// The process-wide log sink. Not a mutable global in STYLE's sense: it is set once at
// start-up (before threads start) and is read-only after.
void InitLogging(LogLevel level, const std::string& logfile);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, std::string_view message);

}  // namespace omnibus

#define OMNIBUS_LOG(level, ...)                                                       \
  do {                                                                                \
    if (::omnibus::LogEnabled(::omnibus::LogLevel::level))                            \
      ::omnibus::LogLine(::omnibus::LogLevel::level, ::omnibus::StrCat(__VA_ARGS__)); \
  } while (0)
