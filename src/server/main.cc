// omnibus-server: a Redis-compatible server. Usage mirrors redis-server:
//   omnibus-server [/path/to/omnibus.conf] [--name value ...]
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "omnibus/base/logging.h"
#include "omnibus/base/strings.h"
#include "omnibus/commands/version.h"
#include "omnibus/server/daemon.h"
#include "omnibus/server/server.h"

namespace {

omnibus::Server* g_server = nullptr;  // only for the signal handler

void OnSignal(int) {
  if (g_server != nullptr) g_server->Stop();
}

omnibus::LogLevel ParseLevel(const std::string& s) {
  if (s == "debug") return omnibus::LogLevel::kDebug;
  if (s == "verbose") return omnibus::LogLevel::kVerbose;
  if (s == "warning") return omnibus::LogLevel::kWarning;
  return omnibus::LogLevel::kNotice;
}

// Redis's default pid file, written when daemonized without a pidfile setting.
constexpr char kDefaultPidFile[] = "/var/run/redis.pid";

std::string Executable(const char* argv0) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) return std::string(buf, static_cast<size_t>(n));
  return omnibus::AbsolutePath(argv0);
}

void LogLines(const std::string& text) {
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!line.empty()) OMNIBUS_LOG(kWarning, line);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
    printf("Omnibus server v=%.*s (Redis %.*s compatible)\n",
           static_cast<int>(omnibus::kOmnibusVersion.size()), omnibus::kOmnibusVersion.data(),
           static_cast<int>(omnibus::kRedisVersion.size()), omnibus::kRedisVersion.data());
    return 0;
  }
  if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    printf(
        "Usage: omnibus-server [/path/to/redis.conf] [options]\n"
        "       omnibus-server - (read config from stdin)\n"
        "       omnibus-server -v or --version\n\n"
        "Options use redis.conf names and come after the file (they win over it):\n"
        "--port 7000 --bind 127.0.0.1 --requirepass pw --databases 16 --maxclients 10000\n"
        "--timeout 0 --loglevel notice --daemonize yes --pidfile /tmp/omnibus.pid\n"
        "Every Redis 7.0 directive is accepted; those Omnibus does not apply yet (save,\n"
        "appendonly, replicaof, tls-*, ...) are logged at start-up.\n"
        "Ours: --shards N (default: usable CPUs - 1) --io-backend epoll|kqueue|uring "
        "--io-uring-sqpoll yes|no\n");
    return 0;
  }
  omnibus::Config config;
  std::string error;
  if (!omnibus::LoadConfigFromArgs(argc, argv, &config, &error)) {
    fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  config.executable = Executable(argv[0]);
  omnibus::InitLogging(ParseLevel(config.loglevel), config.logfile);
  config.process_supervised = omnibus::ResolveSupervised(config.supervised);
  // As Redis: a supervised server stays in the foreground whatever daemonize says.
  bool background = config.daemonize && config.process_supervised == "no";
  int report_fd = -1;
  if (background) {
    report_fd = omnibus::Daemonize(&error);
    if (report_fd < 0) {
      fprintf(stderr, "Can't daemonize: %s\n", error.c_str());
      return 1;
    }
  }
  if ((background || !config.pidfile.empty()) && config.pidfile.empty())
    config.pidfile = kDefaultPidFile;
  // Block SIGTERM/SIGINT while starting: the shard threads inherit the mask (so the signal is
  // always taken by the main thread), and a signal that arrives after the port opens but
  // before the handler is set stays pending instead of killing the process.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  omnibus::Server server(config);
  if (!server.Start(&error)) {
    LogLines(error);
    omnibus::ReportStarted(report_fd, error);
    return 1;
  }
  // Written once the port is open, as Redis does (after initServer); a daemon's parent exits
  // only after this, so whoever started it finds the file.
  bool pidfile_written = false;
  if (!config.pidfile.empty()) {
    std::string why;
    pidfile_written = omnibus::WritePidFile(config.pidfile, &why);
    if (!pidfile_written) OMNIBUS_LOG(kWarning, "Failed to write PID file: ", why);
  }
  omnibus::ReportStarted(report_fd, "");
  g_server = &server;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  if (config.process_supervised == "systemd") {
    OMNIBUS_LOG(kNotice, "supervised by systemd, will signal readiness");
    omnibus::NotifySystemd("STATUS=Ready to accept connections\n");
    omnibus::NotifySystemd("READY=1\n");
  } else if (config.process_supervised == "upstart") {
    OMNIBUS_LOG(kNotice, "supervised by upstart, will stop to signal readiness.");
    raise(SIGSTOP);
    unsetenv("UPSTART_JOB");
  }
  server.Run();
  g_server = nullptr;
  if (config.process_supervised == "systemd") omnibus::NotifySystemd("STOPPING=1\n");
  if (pidfile_written) {
    OMNIBUS_LOG(kNotice, "Removing the pid file.");
    unlink(config.pidfile.c_str());
  }
  return 0;
}
