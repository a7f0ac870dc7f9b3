// omnibus-server: a Redis-compatible server. Usage mirrors redis-server:
//   omnibus-server [/path/to/omnibus.conf] [--name value ...]
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstring>

#include "omnibus/base/logging.h"
#include "omnibus/commands/version.h"
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
        "Usage: omnibus-server [/path/to/omnibus.conf] [options]\n"
        "       omnibus-server -v or --version\n\n"
        "Options use redis.conf names: --port 7000 --bind 127.0.0.1 --requirepass pw\n"
        "--databases 16 --maxclients 10000 --timeout 0 --loglevel notice\n"
        "--proto-max-bulk-len 512mb --client-query-buffer-limit 1gb\n"
        "Ours: --shards N (default: cores - 1) --io-backend epoll|kqueue\n");
    return 0;
  }
  omnibus::Config config;
  std::string error;
  if (!omnibus::LoadConfigFromArgs(argc, argv, &config, &error)) {
    fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  omnibus::InitLogging(ParseLevel(config.loglevel), config.logfile);
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
    OMNIBUS_LOG(kWarning, error);
    return 1;
  }
  g_server = &server;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  server.Run();
  g_server = nullptr;
  return 0;
}
