// The reactor's view of its clients for CLIENT LIST / INFO / KILL and INFO's buffer fields.
#include <algorithm>

#include "omnibus/base/clock.h"
#include "omnibus/base/str_cat.h"
#include "omnibus/base/strings.h"
#include "omnibus/net/reactor.h"

namespace omnibus {

std::string Reactor::ClientListLine(const Session& s) {
  for (auto& [c, owned] : conns_) {
    if (c->session.id == s.id) return ClientLine(c);
  }
  return "";
}

std::string Reactor::ClientLine(const Connection* conn) {
  const Session& s = conn->session;
  int64_t now = MonotonicMs();
  size_t qbuf = conn ? conn->in.size() : 0;
  size_t qfree = conn ? conn->in.capacity() - qbuf : 0;
  size_t obl = conn ? conn->out.unsent() : 0;
  size_t omem = conn ? conn->out.memory() : 0;
  // Redis's letters, in its order.
  char flag_buf[8];
  size_t nflags = 0;
  if (s.subscribed()) flag_buf[nflags++] = 'P';
  if (s.in_multi) flag_buf[nflags++] = 'x';
  if (s.blocked) flag_buf[nflags++] = 'b';
  if (s.tracking.on) flag_buf[nflags++] = 't';
  if (s.tracking.broken_redirect) flag_buf[nflags++] = 'R';
  if (s.tracking.bcast) flag_buf[nflags++] = 'B';
  if (nflags == 0) flag_buf[nflags++] = 'N';
  std::string_view flags(flag_buf, nflags);
  return StrCat(
      "id=", s.id, " addr=", s.addr, " laddr=", s.laddr, " fd=", s.fd, " name=", s.name,
      " age=", (now - s.created_ms) / 1000, " idle=", (now - s.last_interaction_ms) / 1000,
      " flags=", flags, " db=", s.db, " sub=", s.sub_channels, " psub=", s.sub_patterns,
      " ssub=", s.sub_shard_channels,
      " multi=", s.in_multi ? static_cast<int64_t>(s.queued.size()) : -1, " qbuf=", qbuf,
      " qbuf-free=", qfree, " argv-mem=0 multi-mem=0 rbs=", conn ? conn->in.capacity() : 0,
      " rbp=0 obl=", obl, " oll=0 omem=", omem,
      " tot-mem=", (conn ? conn->in.capacity() + omem : 0), " events=r cmd=", s.last_command,
      " user=default redir=", s.tracking.on ? static_cast<int64_t>(s.tracking.redirect) : -1,
      " resp=", s.resp, "\n");
}

std::string Reactor::ClientList(std::string_view type, std::span<const uint64_t> ids) {
  std::vector<const Connection*> list;
  for (auto& [c, owned] : conns_) {
    if (c->closing) continue;
    if (!type.empty() && !EqualsIgnoreCase(type, "normal")) continue;
    if (!ids.empty() && std::find(ids.begin(), ids.end(), c->session.id) == ids.end()) continue;
    list.push_back(c);
  }
  std::sort(list.begin(), list.end(),
            [](const Connection* a, const Connection* b) { return a->session.id < b->session.id; });
  std::string out;
  for (const Connection* c : list) out += ClientLine(c);
  return out;
}

int Reactor::KillClients(std::string_view addr, std::string_view laddr, uint64_t id, bool skipme,
                         const Session& self) {
  std::vector<Connection*> victims;
  for (auto& [c, owned] : conns_) {
    if (c->closing) continue;
    if (!addr.empty() && c->session.addr != addr) continue;
    if (!laddr.empty() && c->session.laddr != laddr) continue;
    if (id != 0 && c->session.id != id) continue;
    if (skipme && c->session.id == self.id) continue;
    victims.push_back(c);
  }
  for (Connection* c : victims) {
    if (c->session.id == self.id) {
      c->session.close_after_reply = true;  // reply first, as Redis does
    } else {
      Close(c);
    }
  }
  return static_cast<int>(victims.size());
}

size_t Reactor::blocked_on_write_clients() const {
  size_t n = 0;
  for (Connection* c : write_blocked_) n += !c->closing;
  return n;
}

size_t Reactor::max_input_buffer() const {
  size_t m = 0;
  for (auto& [c, owned] : conns_) m = std::max(m, c->in.size());
  return m;
}

size_t Reactor::max_output_buffer() const {
  size_t m = 0;
  for (auto& [c, owned] : conns_) m = std::max(m, c->out.unsent());
  return m;
}

}  // namespace omnibus
