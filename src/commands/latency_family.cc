// SLOWLOG and LATENCY: what the reactor observed of completed commands (latency_monitor.h).
// Ours beside Redis 7.0: each slow log entry has a 7th field, the time the command waited in
// its shard's queue (µs), and LATENCY has a `queue-wait` event (docs/architecture.md).
// Runs on: reactor thread.
#include <algorithm>
#include <climits>

#include "omnibus/base/clock.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/command_table.h"
#include "omnibus/commands/latency_monitor.h"

namespace omnibus {
namespace {

int64_t NowSeconds() { return UnixTimeMs() / 1000; }

// Redis's addReplySubcommandSyntaxError.
void SubcommandSyntaxError(ReactorContext& ctx, std::string_view container) {
  ctx.reply->Error(StrCat("ERR unknown subcommand or wrong number of arguments for '",
                          ctx.args[1].substr(0, 128), "'. Try ", container, " HELP."));
}

void SlowlogGet(ReactorContext& ctx) {
  if (ctx.args.size() > 3) return SubcommandSyntaxError(ctx, "SLOWLOG");
  SlowLog& log = ctx.server->latency().slowlog();
  int64_t count = 10;
  if (ctx.args.size() == 3) {
    if (!ParseInt64(ctx.args[2], &count) || count < -1)
      return ctx.reply->Error("ERR count should be greater than or equal to -1");
    if (count == -1) count = static_cast<int64_t>(log.size());
  }
  size_t n = std::min(static_cast<size_t>(count), log.size());
  ctx.reply->Array(n);
  for (size_t i = 0; i < n; ++i) {
    const SlowLogEntry& e = log.entries()[i];
    // Redis's six fields, then ours: the queue wait. Clients read entries by position
    // (redis-py takes the first six), so an extra trailing field breaks none of them.
    ctx.reply->Array(7);
    ctx.reply->Integer(e.id);
    ctx.reply->Integer(e.time);
    ctx.reply->Integer(e.duration_us);
    ctx.reply->Array(e.args.size());
    for (const std::string& a : e.args) ctx.reply->Bulk(a);
    ctx.reply->Bulk(e.addr);
    ctx.reply->Bulk(e.name);
    ctx.reply->Integer(e.wait_us);
  }
}

void SlowlogLen(ReactorContext& ctx) {
  ctx.reply->Integer(static_cast<int64_t>(ctx.server->latency().slowlog().size()));
}

void SlowlogReset(ReactorContext& ctx) {
  ctx.server->latency().slowlog().Reset();
  ctx.reply->Ok();
}

void SlowlogHelp(ReactorContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "GET [<count>]",
      "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
      "    Entries are made of:",
      "    id, timestamp, time in microseconds, arguments array, client IP and port,",
      "    client name",
      "LEN",
      "    Return the length of the slowlog.",
      "RESET",
      "    Reset the slowlog.",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelpLines(ctx.reply, kLines);
}

void LatencyLatest(ReactorContext& ctx) {
  const auto& events = ctx.server->latency().events();
  ctx.reply->Array(events.size());
  for (const auto& [name, series] : events) {
    const LatencySeries::Sample& last =
        series.samples[(series.idx + LatencySeries::kLen - 1) % LatencySeries::kLen];
    ctx.reply->Array(4);
    ctx.reply->Bulk(name);
    ctx.reply->Integer(last.time);
    ctx.reply->Integer(last.latency);
    ctx.reply->Integer(series.max);
  }
}

void LatencyHistory(ReactorContext& ctx) {
  const LatencySeries* series = ctx.server->latency().Event(ctx.args[2]);
  if (series == nullptr) return ctx.reply->Array(0);
  std::vector<LatencySeries::Sample> samples = series->InOrder();
  ctx.reply->Array(samples.size());
  for (const LatencySeries::Sample& s : samples) {
    ctx.reply->Array(2);
    ctx.reply->Integer(s.time);
    ctx.reply->Integer(s.latency);
  }
}

void LatencyReset(ReactorContext& ctx) {
  LatencyMonitor& m = ctx.server->latency();
  if (ctx.args.size() == 2) return ctx.reply->Integer(m.ResetEvents(""));
  int64_t resets = 0;
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    if (!ctx.args[i].empty()) resets += m.ResetEvents(ctx.args[i]);
  }
  ctx.reply->Integer(resets);
}

void LatencyGraphCommand(ReactorContext& ctx) {
  const LatencySeries* series = ctx.server->latency().Event(ctx.args[2]);
  if (series == nullptr) {
    return ctx.reply->Error(StrCat("ERR No samples available for event '", ctx.args[2], "'"));
  }
  ctx.reply->Verbatim("txt", LatencyGraph(ctx.args[2], *series, NowSeconds()));
}

int64_t ConfigInt(ServerApi* server, std::string_view name) {
  auto values = server->ConfigGet(name);
  int64_t v = 0;
  if (!values.empty()) ParseInt64(values[0].second, &v);
  return v;
}

void LatencyDoctorCommand(ReactorContext& ctx) {
  const LatencyMonitor& m = ctx.server->latency();
  const LatencySettings& s = m.settings();
  ctx.reply->Verbatim("txt",
                      LatencyDoctor(m, s.latency_monitor_threshold, s.slowlog_log_slower_than,
                                    static_cast<int>(ConfigInt(ctx.server, "hz")), NowSeconds(),
                                    HasAnonHugePages()));
}

// One command's cumulative distribution, as Redis's fillCommandCDF writes it.
void ReplyCdf(ReplyBuilder* rb, std::string_view name, const LatencyHistogram& h) {
  rb->Bulk(name);
  rb->Map(2);
  rb->Bulk("calls");
  rb->Integer(h.total_count());
  rb->Bulk("histogram_usec");
  auto buckets = h.PowerOfTwoBuckets();
  rb->Map(buckets.size());
  for (auto [usec, cumulative] : buckets) {
    rb->Integer(usec);
    rb->Integer(cumulative);
  }
}

void LatencyHistogramCommand(ReactorContext& ctx) {
  const LatencyMonitor& m = ctx.server->latency();
  const CommandTable& table = ctx.server->commands();
  std::vector<const CommandSpec*> which;
  auto add_with_subcommands = [&](const CommandSpec& spec) {
    if (m.histogram(spec.id) != nullptr) which.push_back(&spec);
    if (!spec.container) return;
    for (const CommandSpec* sub : table.SubcommandsOf(spec.name)) {
      if (m.histogram(sub->id) != nullptr) which.push_back(sub);
    }
  };
  if (ctx.args.size() == 2) {
    for (const CommandSpec& spec : table.all()) {
      if (m.histogram(spec.id) != nullptr) which.push_back(&spec);
    }
  } else {
    // Unknown names are skipped; a container brings its subcommands (as Redis does).
    for (size_t i = 2; i < ctx.args.size(); ++i) {
      if (const CommandSpec* spec = table.Find(ctx.args[i])) add_with_subcommands(*spec);
    }
  }
  ctx.reply->Map(which.size());
  for (const CommandSpec* spec : which) ReplyCdf(ctx.reply, spec->name, *m.histogram(spec->id));
}

void LatencyHelp(ReactorContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "DOCTOR",
      "    Return a human readable latency analysis report.",
      "GRAPH <event>",
      "    Return an ASCII latency graph for the <event> class.",
      "HISTORY <event>",
      "    Return time-latency samples for the <event> class.",
      "LATEST",
      "    Return the latest latency samples for all events.",
      "RESET [<event> ...]",
      "    Reset latency data of one or more <event> classes.",
      "    (default: reset all data for all event classes)",
      "HISTOGRAM [COMMAND ...]",
      "    Return a cumulative distribution of latencies in the format of a histogram for the "
      "specified command names.",
      "    If no commands are specified then all histograms are replied.",
      "HELP",
      "    Prints this help.",
  };
  ReplyHelpLines(ctx.reply, kLines);
}

CommandDoc Doc(std::string_view summary, std::string_view since, std::string_view complexity,
               std::string_view args = "") {
  return CommandDoc{summary, since, "server", complexity, args};
}

}  // namespace

std::vector<CommandSpec> LatencyFamily() {
  constexpr auto reactor = ReactorCommand;
  constexpr uint32_t kSlowlog = kCmdAdmin | kCmdLoading | kCmdStale;
  constexpr uint32_t kLatency = kCmdAdmin | kCmdNoScript | kCmdLoading | kCmdStale;
  constexpr uint32_t kHelp = kCmdLoading | kCmdStale;
  constexpr std::string_view kAdminAcl = "@admin @slow @dangerous";
  return {
      reactor("slowlog", -2, 0, "@slow", nullptr,
              Doc("A container for slow log commands", "2.2.12", "Depends on subcommand.")),
      WithHistory(reactor("slowlog|get", -2, kSlowlog, kAdminAcl, SlowlogGet,
                          Doc("Get the slow log's entries", "2.2.12",
                              "O(N) where N is the number of entries returned", "[count:integer]")),
                  "4.0.0 Added client IP address, port and name to the reply."),
      reactor("slowlog|len", 2, kSlowlog, kAdminAcl, SlowlogLen,
              Doc("Get the slow log's length", "2.2.12", "O(1)")),
      reactor("slowlog|reset", 2, kSlowlog, kAdminAcl, SlowlogReset,
              Doc("Clear all entries from the slow log", "2.2.12",
                  "O(N) where N is the number of entries in the slowlog")),
      reactor("slowlog|help", 2, kHelp, "@slow", SlowlogHelp,
              Doc("Show helpful text about the different subcommands", "6.2.0", "O(1)")),
      reactor(
          "latency", -2, 0, "@slow", nullptr,
          Doc("A container for latency diagnostics commands", "2.8.13", "Depends on subcommand.")),
      reactor("latency|doctor", 2, kLatency, kAdminAcl, LatencyDoctorCommand,
              Doc("Return a human readable latency analysis report.", "2.8.13", "O(1)")),
      reactor("latency|graph", 3, kLatency, kAdminAcl, LatencyGraphCommand,
              Doc("Return a latency graph for the event.", "2.8.13", "O(1)", "event:string")),
      reactor(
          "latency|history", 3, kLatency, kAdminAcl, LatencyHistory,
          Doc("Return timestamp-latency samples for the event.", "2.8.13", "O(1)", "event:string")),
      reactor("latency|latest", 2, kLatency, kAdminAcl, LatencyLatest,
              Doc("Return the latest latency samples for all events.", "2.8.13", "O(1)")),
      reactor(
          "latency|reset", -2, kLatency, kAdminAcl, LatencyReset,
          Doc("Reset latency data for one or more events.", "2.8.13", "O(1)", "[event:string...]")),
      reactor("latency|histogram", -2, kLatency, kAdminAcl, LatencyHistogramCommand,
              Doc("Return the cumulative distribution of latencies of a subset of commands or "
                  "all.",
                  "7.0.0",
                  "O(N) where N is the number of commands with latency information being "
                  "retrieved.",
                  "[command:string...]")),
      reactor("latency|help", 2, kHelp, "@slow", LatencyHelp,
              Doc("Show helpful text about the different subcommands.", "2.8.13", "O(1)")),
  };
}

}  // namespace omnibus
