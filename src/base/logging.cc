#include "omnibus/base/logging.h"

#include <stdio.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <mutex>

namespace omnibus {
namespace {

LogLevel g_level = LogLevel::kNotice;
FILE* g_file = stderr;
std::mutex g_mu;  // Log lines may come from any thread; they are rare and never on a hot path.

}  // namespace

void InitLogging(LogLevel level, const std::string& logfile) {
  g_level = level;
  if (!logfile.empty()) {
    FILE* f = fopen(logfile.c_str(), "a");
    if (f != nullptr) g_file = f;
  }
}

bool LogEnabled(LogLevel level) { return level >= g_level; }

void LogLine(LogLevel level, std::string_view message) {
  // Redis's format: "pid:role dd Mon yyyy hh:mm:ss.mmm <mark> message".
  static constexpr char kMarks[] = ".-*#";
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm tm_buf;
  localtime_r(&tv.tv_sec, &tm_buf);
  char when[64];
  size_t n = strftime(when, sizeof(when), "%d %b %Y %H:%M:%S.", &tm_buf);
  snprintf(when + n, sizeof(when) - n, "%03d", static_cast<int>(tv.tv_usec / 1000));
  std::lock_guard<std::mutex> lock(g_mu);
  fprintf(g_file, "%d:M %s %c %.*s\n", static_cast<int>(getpid()), when,
          kMarks[static_cast<int>(level)], static_cast<int>(message.size()), message.data());
  fflush(g_file);
}

}  // namespace omnibus
