#!/usr/bin/python3
"""Differential compatibility test: runs the same command script against a real redis-server
and against omnibus-server, and compares the raw RESP replies byte for byte.

Usage:
  run_differential.py --omnibus BIN --script FILE [--redis /usr/bin/redis-server]
                      [--shards 1 3] [--verbose]

Each value of --shards is one full pass: a fresh redis-server and a fresh omnibus-server with
that many shards, the whole script sent to both. The script format is described in README.md.
Exit status: 0 when every reply matched, 1 on any mismatch, 2 on a usage or setup error.
"""

import argparse
import fcntl
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PORT_RANGE = range(7100, 7200)
START_DEADLINE_S = 10.0
REPLY_TIMEOUT_S = 5.0
SCAN_MAX_CALLS = 100000


class ScriptError(Exception):
  pass


# ---------------------------------------------------------------------------------------------
# Script parsing.

def split_args(line):
  """Splits a line like redis-cli (sdssplitargs): "double quoted" args understand \\xHH, \\n,
  \\r, \\t, \\b, \\a, \\\\ and \\"; 'single quoted' args understand only \\'. A closing quote
  must be followed by a space or the end of the line. Returns a list of bytes."""
  args = []
  i, n = 0, len(line)
  while True:
    while i < n and line[i].isspace():
      i += 1
    if i >= n:
      return args
    cur = bytearray()
    in_dq = in_sq = False
    while True:
      if in_dq:
        if i >= n:
          raise ScriptError('unbalanced double quotes')
        c = line[i]
        if (c == '\\' and i + 3 < n and line[i + 1] == 'x' and
            re.fullmatch(r'[0-9a-fA-F]{2}', line[i + 2:i + 4])):
          cur.append(int(line[i + 2:i + 4], 16))
          i += 3
        elif c == '\\' and i + 1 < n:
          i += 1
          cur += {'n': b'\n', 'r': b'\r', 't': b'\t', 'b': b'\b',
                  'a': b'\a'}.get(line[i], line[i].encode())
        elif c == '"':
          if i + 1 < n and not line[i + 1].isspace():
            raise ScriptError('closing quote must be followed by a space')
          i += 1
          break
        else:
          cur += c.encode()
      elif in_sq:
        if i >= n:
          raise ScriptError('unbalanced single quotes')
        c = line[i]
        if c == '\\' and i + 1 < n and line[i + 1] == "'":
          i += 1
          cur += b"'"
        elif c == "'":
          if i + 1 < n and not line[i + 1].isspace():
            raise ScriptError('closing quote must be followed by a space')
          i += 1
          break
        else:
          cur += c.encode()
      else:
        if i >= n or line[i].isspace():
          break
        c = line[i]
        if c == '"':
          in_dq = True
        elif c == "'":
          in_sq = True
        else:
          cur += c.encode()
      i += 1
    args.append(bytes(cur))


DIRECTIVES = {'sorted', 'sorted-pairs', 'skip-value', 'scan-all', 'mask-field', 'reconnect',
              'client', 'replies', 'read', 'slowlog'}


class Step:
  """One script command plus the directives that apply to it."""

  def __init__(self, lineno, text, args, opts):
    self.lineno = lineno
    self.text = text
    self.args = args
    self.opts = opts  # {'sorted': True, 'mask-field': [b'id'], ...}


def parse_script(path):
  """Returns a list of Step; a bare `!reconnect` becomes a Step with no args."""
  steps = []
  pending = {}
  with open(path, encoding='utf-8') as f:
    for lineno, raw in enumerate(f, 1):
      line = raw.rstrip('\n')
      stripped = line.strip()
      if not stripped or stripped.startswith('#'):
        continue
      if stripped.startswith('!'):
        words = stripped[1:].split()
        name = words[0] if words else ''
        if name not in DIRECTIVES:
          raise ScriptError(f'{path}:{lineno}: unknown directive !{name}')
        if name == 'reconnect':
          steps.append(Step(lineno, stripped, [], {'reconnect': True}))
        elif name == 'read':
          if len(words) != 3 or not words[2].isdigit():
            raise ScriptError(f'{path}:{lineno}: !read takes a client name and a count')
          steps.append(Step(lineno, stripped, [], {'read': (words[1], int(words[2]))}))
        elif name == 'client':
          if len(words) != 2:
            raise ScriptError(f'{path}:{lineno}: !client takes one client name')
          pending['client'] = words[1]
        elif name == 'replies':
          if len(words) != 2 or not words[1].isdigit() or int(words[1]) < 1:
            raise ScriptError(f'{path}:{lineno}: !replies takes a count (>= 1)')
          pending['replies'] = int(words[1])
        elif name == 'mask-field':
          if len(words) != 2:
            raise ScriptError(f'{path}:{lineno}: !mask-field takes one field name')
          pending.setdefault('mask-field', []).append(words[1].encode())
        else:
          if len(words) != 1:
            raise ScriptError(f'{path}:{lineno}: !{name} takes no argument')
          pending[name] = True
        continue
      try:
        args = split_args(stripped)
      except ScriptError as e:
        raise ScriptError(f'{path}:{lineno}: {e}') from None
      steps.append(Step(lineno, stripped, args, pending))
      pending = {}
  if pending:
    raise ScriptError(f'{path}: directives at the end of the script apply to no command')
  return steps


# ---------------------------------------------------------------------------------------------
# RESP encoding, reading and parsing.

def encode_command(args):
  out = [b'*%d\r\n' % len(args)]
  for a in args:
    out.append(b'$%d\r\n%s\r\n' % (len(a), a))
  return b''.join(out)


class ConnectionClosed(Exception):
  pass


class RespReader:
  """Reads exactly one complete RESP2/RESP3 reply from a socket and returns its raw bytes."""

  def __init__(self, sock):
    self.sock = sock
    self.buf = bytearray()

  def _fill(self):
    chunk = self.sock.recv(65536)
    if not chunk:
      raise ConnectionClosed()
    self.buf += chunk

  def _line(self):
    while True:
      pos = self.buf.find(b'\r\n')
      if pos >= 0:
        line = bytes(self.buf[:pos + 2])
        del self.buf[:pos + 2]
        return line
      self._fill()

  def _exact(self, n):
    while len(self.buf) < n:
      self._fill()
    data = bytes(self.buf[:n])
    del self.buf[:n]
    return data

  def read(self):
    line = self._line()
    kind, body = line[:1], line[1:-2]
    if kind in b'+-:_,#(':
      return line
    if kind in b'$!=':
      n = int(body)
      return line if n < 0 else line + self._exact(n + 2)
    if kind in b'*~>':
      n = int(body)
      return line + b''.join(self.read() for _ in range(max(n, 0)))
    if kind == b'%':
      return line + b''.join(self.read() for _ in range(2 * int(body)))
    if kind == b'|':  # attribute map, then the reply it annotates
      attrs = b''.join(self.read() for _ in range(2 * int(body)))
      return line + attrs + self.read()
    raise ValueError(f'not a RESP reply: {line!r}')


class Node:
  """A parsed reply: kind (one byte), header (first line), payload (bulk data), children."""

  def __init__(self, kind, header, payload=b'', children=()):
    self.kind, self.header, self.payload, self.children = kind, header, payload, list(children)

  def raw(self):
    return self.header + self.payload + b''.join(c.raw() for c in self.children)


def parse_reply(data, pos=0):
  end = data.index(b'\r\n', pos) + 2
  header = data[pos:end]
  kind, body = header[:1], header[1:-2]
  if kind in b'$!=':
    n = int(body)
    if n < 0:
      return Node(kind, header), end
    return Node(kind, header, data[end:end + n + 2]), end + n + 2
  count = 0
  if kind in b'*~>':
    count = max(int(body), 0)
  elif kind in b'%|':
    count = 2 * int(body)
  children = []
  for _ in range(count):
    child, end = parse_reply(data, end)
    children.append(child)
  if kind == b'|':
    child, end = parse_reply(data, end)
    children.append(child)
  return Node(kind, header, b'', children), end


def bulk_value(node):
  if node.kind in b'$+' and node.header != b'$-1\r\n':
    return node.payload[:-2] if node.kind == b'$' else node.header[1:-2]
  return None


def normalize(raw, opts):
  """Applies the directives to one raw reply; returns bytes to compare."""
  if opts.get('skip-value'):
    return raw[:1]
  if not (opts.get('sorted') or opts.get('sorted-pairs') or opts.get('mask-field') or
          opts.get('slowlog')):
    return raw
  node, _ = parse_reply(raw)
  if opts.get('slowlog') and node.kind == b'*':
    # SLOWLOG GET: Redis's six fields of each entry, with the time, the duration and the
    # client's address masked; omnibus's 7th field (the queue wait) is not compared.
    for entry in node.children:
      if entry.kind != b'*' or len(entry.children) < 6:
        continue
      for i in (1, 2, 4):
        entry.children[i] = Node(entry.children[i].kind, entry.children[i].kind + b'<masked>\r\n')
      entry.children = entry.children[:6]
      entry.header = b'*6\r\n'
  if opts.get('mask-field') and node.kind in b'%*':
    for i in range(0, len(node.children) - 1, 2):
      if bulk_value(node.children[i]) in opts['mask-field']:
        value = node.children[i + 1]
        node.children[i + 1] = Node(value.kind, value.kind + b'<masked>\r\n')
  if opts.get('sorted') and node.kind in b'*~>':
    node.children.sort(key=Node.raw)
  if opts.get('sorted-pairs') or (opts.get('sorted') and node.kind == b'%'):
    if node.kind in b'*%':
      pairs = [node.children[i:i + 2] for i in range(0, len(node.children), 2)]
      pairs.sort(key=lambda p: p[0].raw() + p[1].raw())
      node.children = [c for p in pairs for c in p]
  return node.raw()


# ---------------------------------------------------------------------------------------------
# Servers and connections.

def port_is_free(port):
  s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
  # Like the servers do, so ports left in TIME_WAIT by an earlier run count as free.
  s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  try:
    s.bind(('127.0.0.1', port))
    return True
  except OSError:
    return False
  finally:
    s.close()


class Server:
  """A server process we started, on a free port of PORT_RANGE. While it runs we hold a lock
  file for its port, so concurrent runs of this harness never pick the same port."""

  def __init__(self, name, make_argv, taken):
    self.name = name
    self.proc = None
    self.port_lock = None
    self.log = tempfile.TemporaryFile()
    self.workdir = tempfile.mkdtemp(prefix=f'diff-{name}-')
    for port in PORT_RANGE:
      if port in taken or not self._lock_port(port):
        continue
      if not port_is_free(port):
        self._unlock_port()
        continue
      taken.add(port)
      self.port = port
      self.proc = subprocess.Popen(make_argv(port), stdout=self.log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=self.workdir)
      if self._wait_ready():
        return
      self._kill()  # lost a race for the port (or failed to start): try the next one
      self._unlock_port()
    log = self.log_tail()
    self.stop()
    raise RuntimeError(f'could not start {name} on any port in {PORT_RANGE}:\n{log}')

  def _lock_port(self, port):
    path = os.path.join(tempfile.gettempdir(), f'omnibus-differential-port-{port}.lock')
    f = open(path, 'a')
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      f.close()
      return False
    self.port_lock = f
    return True

  def _unlock_port(self):
    if self.port_lock is not None:
      self.port_lock.close()  # releases the flock
      self.port_lock = None

  def _wait_ready(self):
    """Polls until our process accepts connections. The process_id in INFO server (both
    servers report it) must be our child's, so a stranger's server on the port is refused."""
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
      if self.proc.poll() is not None:
        return False
      try:
        with socket.create_connection(('127.0.0.1', self.port), timeout=2) as sock:
          sock.sendall(encode_command([b'INFO', b'server']))
          info = RespReader(sock).read()
      except (OSError, ConnectionClosed, ValueError):
        time.sleep(0.02)  # polling interval, not synchronization
        continue
      m = re.search(rb'process_id:(\d+)', info)
      return self.proc.poll() is None and (m is None or int(m.group(1)) == self.proc.pid)
    return False

  def alive(self):
    return self.proc is not None and self.proc.poll() is None

  def log_tail(self, n=20):
    self.log.seek(0)
    return b'\n'.join(self.log.read().splitlines()[-n:]).decode(errors='replace')

  def _kill(self):
    if self.proc is None:
      return
    if self.proc.poll() is None:
      self.proc.terminate()
      try:
        self.proc.wait(timeout=5)
      except subprocess.TimeoutExpired:
        self.proc.kill()
        self.proc.wait()
    self.proc = None

  def stop(self):
    """Stops the server and removes its scratch directory."""
    self._kill()
    self._unlock_port()
    shutil.rmtree(self.workdir, ignore_errors=True)


class Client:
  def __init__(self, server):
    self.server = server
    self.sock = None
    self.connect()

  def connect(self):
    self.close()
    self.sock = socket.create_connection(('127.0.0.1', self.server.port), timeout=REPLY_TIMEOUT_S)
    self.reader = RespReader(self.sock)

  def close(self):
    if self.sock is not None:
      self.sock.close()
      self.sock = None

  def call(self, args, replies=1):
    """Sends one command (none if `args` is empty: reads pushed messages); returns its
    `replies` raw replies concatenated, or a <...> marker on EOF/timeout (after which the
    connection is reopened so the next command starts in sync)."""
    try:
      if self.sock is None:
        self.connect()
      if args:
        self.sock.sendall(encode_command(args))
      reply = b''.join(self.reader.read() for _ in range(replies))
      if not self.reader.buf:
        return reply
      # More bytes than one reply: the server answered twice (or its reply was malformed).
      marker = b'<extra bytes after reply: %r> ' % bytes(self.reader.buf[:200]) + reply
    except ConnectionClosed:
      marker = b'<connection closed>'
    except socket.timeout:
      marker = b'<timeout>'
    except OSError as e:
      marker = f'<socket error: {e}>'.encode()
    except ValueError as e:
      marker = f'<protocol error: {e}>'.encode()
    self.close()
    if not self.server.alive():
      marker += b' <server exited>'
    return marker


# ---------------------------------------------------------------------------------------------
# Running a script.

def scan_all(client, args):
  """Iterates a SCAN-family command to cursor 0; returns (normalized, shown) bytes. The
  cursor is args[1] for SCAN and args[2] for HSCAN/SSCAN/ZSCAN; pairs are kept together for
  HSCAN and ZSCAN. The result is the sorted set of elements, or the first non-scan reply."""
  name = args[0].lower()
  cursor_at = 1 if name == b'scan' else 2
  paired = name in (b'hscan', b'zscan')
  args = list(args)
  items = set()
  calls = 0
  while True:
    raw = client.call(args)
    calls += 1
    if not raw.startswith(b'*2\r\n'):
      return raw, raw
    node, _ = parse_reply(raw)
    cursor, elements = node.children
    values = [bulk_value(e) if bulk_value(e) is not None else e.raw()
              for e in elements.children]
    if paired:
      values = [tuple(values[i:i + 2]) for i in range(0, len(values), 2)]
    items.update(values)
    nxt = bulk_value(cursor)
    if nxt == b'0' or nxt is None:
      break
    if calls >= SCAN_MAX_CALLS:
      return b'<scan did not finish>', b'<scan did not finish>'
    args[cursor_at] = nxt
  result = repr(sorted(items)).encode()
  return result, result


def run_step(client, step):
  if step.opts.get('scan-all'):
    return scan_all(client, step.args)
  if 'read' in step.opts:
    raw = client.call([], step.opts['read'][1])
    return raw, raw
  replies = step.opts.get('replies', 1)
  raw = client.call(step.args, replies)
  if replies > 1:
    return raw, raw
  if step.args and step.args[0].lower() == b'quit':
    client.close()  # the server hangs up after QUIT's reply; reconnect for the next command
  if raw.startswith(b'<'):
    return raw, raw
  try:
    return normalize(raw, step.opts), raw
  except (ValueError, IndexError) as e:
    return f'<unparsable reply: {e}>'.encode() + raw, raw


def run_pass(args, steps, shards):
  """One pass of the whole script against fresh servers; returns (passed, failed)."""
  taken = set()
  redis = omnibus = None
  passed = failed = 0
  try:
    redis = Server('redis', lambda p: [args.redis, '--port', str(p), '--bind', '127.0.0.1',
                                       '--save', '', '--appendonly', 'no',
                                       '--daemonize', 'no'], taken)
    omnibus = Server('omnibus', lambda p: [args.omnibus, '--port', str(p), '--bind', '127.0.0.1',
                                           '--shards', str(shards)], taken)
    # Named clients (`!client NAME`, `!read NAME N`), opened on first use; 'main' by default.
    clients = {'main': (Client(redis), Client(omnibus))}
    print(f'--- shards={shards}: redis on port {redis.port}, omnibus on port {omnibus.port}')
    for step in steps:
      if step.opts.get('reconnect'):
        for rc, oc in clients.values():
          rc.connect()
          oc.connect()
        continue
      name = step.opts['read'][0] if 'read' in step.opts else step.opts.get('client', 'main')
      if name not in clients:
        clients[name] = (Client(redis), Client(omnibus))
      rc, oc = clients[name]
      r_norm, r_raw = run_step(rc, step)
      o_norm, o_raw = run_step(oc, step)
      if r_norm == o_norm:
        passed += 1
        if args.verbose:
          print(f'ok   line {step.lineno}: {step.text}')
        continue
      failed += 1
      print(f'FAIL shards={shards} line {step.lineno}: {step.text}')
      print(f'  redis:   {r_raw!r}')
      print(f'  omnibus: {o_raw!r}')
      if r_norm != r_raw or o_norm != o_raw:
        print(f'  (compared after directives: redis {r_norm!r} vs omnibus {o_norm!r})')
    if not omnibus.alive():
      print(f'omnibus exited during the run; last log lines:\n{omnibus.log_tail()}')
    for rc, oc in clients.values():
      rc.close()
      oc.close()
  finally:
    for server in (omnibus, redis):
      if server is not None:
        server.stop()
  print(f'--- shards={shards}: {passed} passed, {failed} failed')
  return passed, failed


def main():
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--omnibus', required=True, help='path to omnibus-server')
  ap.add_argument('--script', required=True, help='command script (see README.md)')
  ap.add_argument('--redis', default='/usr/bin/redis-server', help='path to redis-server')
  ap.add_argument('--shards', type=int, nargs='+', default=[1, 3],
                  help='omnibus shard counts, one full pass each (default: 1 3)')
  ap.add_argument('--verbose', action='store_true', help='also print every matching command')
  args = ap.parse_args()
  # The servers run in scratch directories, so relative paths must be made absolute.
  args.omnibus = os.path.abspath(args.omnibus)
  args.redis = os.path.abspath(args.redis)
  try:
    steps = parse_script(args.script)
  except (ScriptError, OSError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  for path in (args.omnibus, args.redis):
    if not os.access(path, os.X_OK):
      print(f'error: {path} is not executable', file=sys.stderr)
      return 2
  total_passed = total_failed = 0
  try:
    for shards in args.shards:
      p, f = run_pass(args, steps, shards)
      total_passed += p
      total_failed += f
  except (RuntimeError, OSError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  print(f'{total_passed} passed, {total_failed} failed')
  return 1 if total_failed else 0


if __name__ == '__main__':
  sys.exit(main())
