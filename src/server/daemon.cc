#include "omnibus/server/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "omnibus/base/logging.h"
#include "omnibus/base/str_cat.h"

namespace omnibus {

int Daemonize(std::string* error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    *error = StrCat("pipe: ", strerror(errno));
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    *error = StrCat("fork: ", strerror(errno));
    return -1;
  }
  if (pid > 0) {
    // The parent: wait for the child's word. "" then EOF: it listens. Text: its error. EOF
    // without a word: it died while starting.
    close(fds[1]);
    std::string msg;
    bool got_word = false;
    char buf[512];
    while (true) {
      ssize_t n = read(fds[0], buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got_word = true;
      msg.append(buf, static_cast<size_t>(n));
    }
    // The first byte says which: '+' started, '-' failed (then the text).
    if (got_word && msg[0] == '+') _exit(0);
    if (got_word && msg.size() > 1) {
      fprintf(stderr, "%s\n", msg.c_str() + 1);
    } else {
      int status = 0;
      waitpid(pid, &status, WNOHANG);
      fprintf(stderr, "omnibus-server: the daemonized server exited while starting\n");
    }
    _exit(1);
  }
  close(fds[0]);
  setsid();
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) close(null);
  }
  return fds[1];
}

void ReportStarted(int fd, std::string_view error) {
  if (fd < 0) return;
  std::string msg = error.empty() ? std::string("+") : StrCat("-", error);
  ssize_t n = write(fd, msg.data(), msg.size());
  (void)n;
  close(fd);
}

bool WritePidFile(const std::string& path, std::string* error) {
  FILE* f = fopen(path.c_str(), "w");
  if (f == nullptr) {
    *error = strerror(errno);
    return false;
  }
  fprintf(f, "%d\n", static_cast<int>(getpid()));
  if (fclose(f) != 0) {
    *error = strerror(errno);
    return false;
  }
  return true;
}

std::string ResolveSupervised(const std::string& mode) {
  const char* upstart = getenv("UPSTART_JOB");
  const char* notify = getenv("NOTIFY_SOCKET");
  if (mode == "auto") {
    if (upstart != nullptr) return "upstart";
    if (notify != nullptr) return "systemd";
    return "no";
  }
  if (mode == "upstart") {
    if (upstart == nullptr) {
      OMNIBUS_LOG(kWarning, "upstart supervision requested, but UPSTART_JOB not found!");
      return "no";
    }
    return "upstart";
  }
  if (mode == "systemd") {
    if (notify == nullptr) {
      OMNIBUS_LOG(kWarning,
                  "systemd supervision requested or auto-detected, but NOTIFY_SOCKET not found!");
      return "no";
    }
    return "systemd";
  }
  return "no";
}

bool NotifySystemd(std::string_view state) {
  const char* path = getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = strlen(path);
  if (len >= sizeof(addr.sun_path)) {
    OMNIBUS_LOG(kWarning, "NOTIFY_SOCKET path too long");
    return false;
  }
  memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';  // the abstract namespace
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    OMNIBUS_LOG(kWarning, "Can't connect to systemd socket ", path, ": ", strerror(errno));
    return false;
  }
  socklen_t addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  ssize_t n;
  do {
    n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&addr), addr_len);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0) {
    OMNIBUS_LOG(kWarning, "Can't send notification to systemd: ", strerror(err));
    return false;
  }
  return true;
}

}  // namespace omnibus
