#pragma once

#include <string>

namespace omnibus {

// Opens a non-blocking listening TCP socket on addr:port (IPv4 or IPv6 literal; a leading
// '-' marks an address that may be missing, as in Redis's "bind 127.0.0.1 -::1").
// Returns -1 with `error` set on failure.
int ListenTcp(const std::string& addr, int port, int backlog, std::string* error);
// An accepted connection's peer and local addresses ("ip:port", Redis's format).
void SocketAddresses(int fd, std::string* peer, std::string* local);
void SetTcpNoDelay(int fd);
void SetTcpKeepAlive(int fd, int interval_seconds);
// The port a socket is bound to (for --port 0 in tests).
int BoundPort(int fd);

}  // namespace omnibus
