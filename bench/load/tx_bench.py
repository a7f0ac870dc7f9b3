#!/usr/bin/python3
"""Transactions and blocking pops, Omnibus vs Debian's redis-server side by side in one run.

Workloads (each server gets the same load, rounds alternate between the servers):
  multi-tag    MULTI / 5 x SET / EXEC, the five keys share a {hash tag} (one shard), closed loop
  multi-spread same, keys without a tag chosen to span as many shards as there are (Omnibus
               --shards; the shard of a key is CRC16 slot mod shards, as src/shard/router.h)
  watch        WATCH c / GET c, then MULTI / SET c v+1 / EXEC, retried on a nil EXEC, many
               clients on one counter: successful increments/s, retries per success; the final
               counter is checked against the number of successes the clients saw
  pingpong     two clients bouncing one element between two lists with BLPOP/LPUSH
               (each sends "LPUSH other x" + "BLPOP mine 0" in one write): round trip latency
               (pingpong-blmove and pingpong-bzpopmin: the same with BLMOVE, ZADD/BZPOPMIN)
  blocked      10,000 clients blocked in BLPOP on distinct keys (timeout 0): RSS growth, server
               CPU over 5 s of idling, then the time to wake them all with pipelined LPUSHes

Throughput workloads report the server's CPU per transaction: utime+stime of the server
process (all threads) from /proc/PID/stat over the measured window, divided by the
transactions completed in that window. That figure is valid whether or not the Python load
generator saturates first; the generator's own CPU use is printed so you can tell.

Run: bench/load/tx_bench.py --omnibus build/release/omnibus-server [--shards 2] [--quick]
     [--only multi-tag,watch,...] [--rounds 3 --duration 5]; about 4 minutes with the defaults.

Prints a Markdown table (and the command line that produced it) to paste into
docs/benchmarks.md. Without --omnibus it runs redis-server alone (to develop the script).
"""
import argparse
import datetime
import gc
import multiprocessing
import os
import platform
import resource
import select
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
HOST = "127.0.0.1"


# ---------------------------------------------------------------------------- servers

def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds_precise(pid):
    """Sum of every thread's on-CPU time in ns (/proc/PID/task/*/schedstat): for windows where
    the 10 ms tick of utime+stime would dominate (idle clients, one wake-up burst)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e9


def rss_bytes(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * PAGE


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_reply(f):
    line = f.readline()
    t = line[:1]
    if t in (b"+", b"-", b":"):
        return line[1:-2]
    if t == b"$":
        n = int(line[1:-2])
        return None if n < 0 else f.read(n + 2)[:-2]
    if t == b"*":
        n = int(line[1:-2])
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise RuntimeError("bad reply %r" % line)


class Server:
    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise RuntimeError("%s did not start: %s" % (name, " ".join(argv)))
                time.sleep(0.05)

    def cmd(self, *args):
        with socket.create_connection((HOST, self.port)) as s:
            s.sendall(encode(*args))
            return read_reply(s.makefile("rb"))

    def info_field(self, section, field):
        text = self.cmd("INFO", section)
        if not isinstance(text, bytes):
            return None
        for line in text.decode().splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1]
        return None

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def cpu_precise(self):
        return cpu_seconds_precise(self.proc.pid)

    def rss(self):
        return rss_bytes(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def connect(port):
    s = socket.create_connection((HOST, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def hard_close(s):
    # RST instead of FIN: no TIME_WAIT left behind by thousands of client sockets.
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    s.close()


# ---------------------------------------------------------------------------- key choice

def _crc16_table():
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


CRC16 = _crc16_table()


def key_slot(key):
    """Redis Cluster's hash slot, {hash tag} included (as src/shard/router.cc)."""
    o = key.find(b"{")
    if o >= 0:
        c = key.find(b"}", o + 1)
        if c > o + 1:
            key = key[o + 1:c]
    crc = 0
    for ch in key:
        crc = ((crc << 8) & 0xFFFF) ^ CRC16[((crc >> 8) ^ ch) & 0xFF]
    return crc & 16383


def tx_keys(conn_id, tagged, shards, nkeys=5):
    """Keys of one connection's transaction: one {tag}, or spread over min(nkeys, shards) shards."""
    if tagged:
        return [b"{tx%d}:k%d" % (conn_id, j) for j in range(nkeys)]
    want = min(nkeys, shards)
    keys, seen, i = [], set(), 0
    while len(keys) < nkeys:
        k = b"tx%d:k%d" % (conn_id, i)
        i += 1
        shard = key_slot(k) % shards
        if len(seen) < want and shard in seen:
            continue
        seen.add(shard)
        keys.append(k)
    return keys


# ---------------------------------------------------------------------------- workload 1

def multi_payload(keys, value):
    return (encode("MULTI") + b"".join(encode("SET", k, value) for k in keys) + encode("EXEC"))


MULTI_REPLY = b"+OK\r\n" + b"+QUEUED\r\n" * 5 + b"*5\r\n" + b"+OK\r\n" * 5


def multi_worker(port, payloads, t_start, t_end, out):
    """Closed loop: each connection has one transaction (7 commands, one write) in flight."""
    try:
        ep = select.epoll()
        conns = {}
        for p in payloads:
            s = connect(port)
            s.setblocking(False)
            conns[s.fileno()] = [s, p, b""]
            ep.register(s.fileno(), select.EPOLLIN)
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        w0 = time.monotonic()
        for c in conns.values():
            c[0].send(c[1])
        L = len(MULTI_REPLY)
        done = 0
        error = None
        now = time.monotonic()
        while now < t_end and error is None:
            for fd, _ in ep.poll(0.05):
                c = conns[fd]
                data = c[0].recv(65536)
                if not data:
                    error = "connection closed by server"
                    break
                buf = c[2] + data
                if len(buf) < L:
                    c[2] = buf
                    continue
                if buf != MULTI_REPLY:
                    error = "unexpected reply %r" % buf[:200]
                    break
                c[2] = b""
                now = time.monotonic()
                if t_start <= now < t_end:
                    done += 1
                c[0].send(c[1])
            now = time.monotonic()
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        busy = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / (time.monotonic() - w0)
        for c in conns.values():
            hard_close(c[0])
        out.put((done, busy, error))
    except Exception as e:  # noqa: BLE001 - reported to the parent
        out.put((0, 0.0, repr(e)))


def split(items, parts):
    return [items[i::parts] for i in range(parts) if items[i::parts]]


def run_workers(server, target, per_proc_args, warmup, duration):
    """Starts one process per argument tuple; returns (server CPU s, results, window s)."""
    q = multiprocessing.Queue()
    t_start = time.monotonic() + warmup + 0.5   # time to connect
    t_end = t_start + duration
    procs = [multiprocessing.Process(target=target, args=(server.port, a, t_start, t_end, q))
             for a in per_proc_args]
    for p in procs:
        p.start()
    time.sleep(max(0.0, t_start - time.monotonic()))
    c0 = server.cpu()
    time.sleep(max(0.0, t_end - time.monotonic()))
    c1 = server.cpu()
    try:
        results = [q.get(timeout=60) for _ in procs]
    except Exception:  # noqa: BLE001 - queue.Empty
        results = [(0, 0.0, "load generator gave no result")]
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    errors = [r[-1] for r in results if r[-1]]
    if errors:
        raise RuntimeError("%s: %s" % (server.name, errors[0]))
    return c1 - c0, results, duration


def bench_multi(server, args, tagged, shards):
    server.cmd("FLUSHALL")
    value = b"v" * args.value_size
    payloads = [multi_payload(tx_keys(i, tagged, shards), value) for i in range(args.clients)]
    cpu, results, window = run_workers(server, multi_worker, split(payloads, args.procs),
                                       args.warmup, args.duration)
    tx = sum(r[0] for r in results)
    return {"rate": tx / window, "cpu_us": cpu / tx * 1e6 if tx else float("nan"),
            "gen": [r[1] for r in results], "server_util": cpu / window}


# ---------------------------------------------------------------------------- workload 2

WATCH_GET = encode("WATCH", "c") + encode("GET", "c")
EXEC_OK = b"+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n"
EXEC_NIL = b"+OK\r\n+QUEUED\r\n*-1\r\n"


def watch_worker(port, nclients, t_start, t_end, out):
    """Each client: WATCH c + GET c (one write), then MULTI + SET c v+1 + EXEC (one write);
    a nil EXEC is a retry. After t_end no new attempt starts, in-flight ones finish."""
    try:
        ep = select.epoll()
        conns = {}
        for _ in range(nclients):
            s = connect(port)
            s.setblocking(False)
            conns[s.fileno()] = [s, 0, b""]   # socket, state (0 WATCH/GET, 1 EXEC), buffer
            ep.register(s.fileno(), select.EPOLLIN)
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        w0 = time.monotonic()
        for c in conns.values():
            c[0].send(WATCH_GET)
        ok = nil = ok_total = 0
        active = len(conns)
        error = None
        while active and error is None:
            if time.monotonic() > t_end + 10:
                error = "%d transactions still unanswered 10 s after the end" % active
                break
            for fd, _ in ep.poll(0.05):
                c = conns[fd]
                data = c[0].recv(65536)
                if not data:
                    error = "connection closed by server"
                    break
                buf = c[2] + data
                if c[1] == 0:
                    # "+OK\r\n" then "$-1\r\n" or "$n\r\n<n bytes>\r\n"
                    e = buf.find(b"\r\n", 5)
                    if e < 0:
                        c[2] = buf
                        continue
                    if not buf.startswith(b"+OK\r\n$"):
                        error = "unexpected WATCH/GET reply %r" % buf[:200]
                        break
                    n = int(buf[6:e])
                    if n < 0:
                        v = 0
                    else:
                        if len(buf) < e + 2 + n + 2:
                            c[2] = buf
                            continue
                        v = int(buf[e + 2:e + 2 + n])
                    c[2] = b""
                    c[1] = 1
                    c[0].send(encode("MULTI") + encode("SET", "c", str(v + 1)) + encode("EXEC"))
                else:
                    if len(buf) < len(EXEC_NIL):
                        c[2] = buf
                        continue
                    if buf == EXEC_NIL:
                        success = False
                    elif buf == EXEC_OK:
                        success = True
                    elif len(buf) < len(EXEC_OK) and EXEC_OK.startswith(buf):
                        c[2] = buf
                        continue
                    else:
                        error = "unexpected EXEC reply %r" % buf[:200]
                        break
                    c[2] = b""
                    c[1] = 0
                    now = time.monotonic()
                    if success:
                        ok_total += 1
                    if t_start <= now < t_end:
                        if success:
                            ok += 1
                        else:
                            nil += 1
                    if now < t_end:
                        c[0].send(WATCH_GET)
                    else:
                        active -= 1
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        busy = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / (time.monotonic() - w0)
        for c in conns.values():
            hard_close(c[0])
        out.put((ok, nil, ok_total, busy, error))
    except Exception as e:  # noqa: BLE001
        out.put((0, 0, 0, 0.0, repr(e)))


def bench_watch(server, args):
    server.cmd("DEL", "c")
    per_proc = [len(x) for x in split(list(range(args.watch_clients)), args.procs)]
    cpu, results, window = run_workers(server, watch_worker, per_proc, args.warmup, args.duration)
    ok = sum(r[0] for r in results)
    nil = sum(r[1] for r in results)
    ok_total = sum(r[2] for r in results)
    final = server.cmd("GET", "c")
    final = int(final) if final else 0
    if final != ok_total:
        raise RuntimeError("%s: WATCH counter is %d, clients saw %d successful EXECs"
                           % (server.name, final, ok_total))
    return {"rate": ok / window, "retries": nil / ok if ok else float("nan"),
            "cpu_us": cpu / ok * 1e6 if ok else float("nan"),
            "gen": [r[3] for r in results], "server_util": cpu / window}


# ---------------------------------------------------------------------------- workload 3

class Reader:
    def __init__(self, sock):
        self.s, self.buf = sock, b""

    def exact(self, expected):
        n = len(expected)
        while len(self.buf) < n:
            data = self.s.recv(65536)
            if not data:
                raise RuntimeError("connection closed by server")
            self.buf += data
        got, self.buf = self.buf[:n], self.buf[n:]
        if got != expected:
            raise RuntimeError("unexpected reply %r, wanted %r" % (got, expected))


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values))) - 1))
    return sorted_values[i]


def bench_pingpong(server, args, variant="pingpong"):
    socks = []
    gc.disable()
    try:
        return _bench_pingpong(server, args, socks, variant)
    finally:
        gc.enable()
        for s in socks:
            hard_close(s)
        server.cmd("DEL", "{la}sink", "{lb}sink")


# Ping-pong variants: (push command, blocking pop command, the pop's reply) for a key.
# la and lb hash to different shards at --shards 2 (slots 12992 and 675);
# BLMOVE's destination shares its source's {tag}, so each move stays on one shard.
PINGPONG = {
    "pingpong": ("BLPOP/LPUSH",
                 lambda k: encode("LPUSH", k, "x"),
                 lambda k: encode("BLPOP", k, "0"),
                 lambda k: b"*2\r\n$%d\r\n%s\r\n$1\r\nx\r\n" % (len(k), k)),
    "pingpong-blmove": ("BLMOVE/LPUSH",
                        lambda k: encode("LPUSH", k, "x"),
                        lambda k: encode("BLMOVE", k, b"{%s}sink" % k, "RIGHT", "LEFT", "0"),
                        lambda k: b"$1\r\nx\r\n"),
    "pingpong-bzpopmin": ("BZPOPMIN/ZADD",
                          lambda k: encode("ZADD", k, "1", "x"),
                          lambda k: encode("BZPOPMIN", k, "0"),
                          lambda k: b"*3\r\n$%d\r\n%s\r\n$1\r\nx\r\n$1\r\n1\r\n"
                          % (len(k), k)),
}


def _bench_pingpong(server, args, socks, variant="pingpong"):
    """Two connections A, B in one thread. B waits in BLPOP lb. Each round trip:
    A writes LPUSH lb x + BLPOP la 0; B wakes with lb's element and writes LPUSH la x +
    BLPOP lb 0; A wakes with la's element. Two blocked-pop hand-offs per sample.
    (Same with BLMOVE or ZADD/BZPOPMIN for the other variants.)"""
    _, push, pop, wake = PINGPONG[variant]
    server.cmd("DEL", "la", "lb", "{la}sink", "{lb}sink")
    a, b = connect(server.port), connect(server.port)
    socks += [a, b]
    a.settimeout(5)
    b.settimeout(5)
    ra, rb = Reader(a), Reader(b)
    a_send = push(b"lb") + pop(b"la")
    b_send = push(b"la") + pop(b"lb")
    b_wake = wake(b"lb")
    a_wake = wake(b"la")
    b.sendall(pop(b"lb"))
    time.sleep(0.05)
    samples = []
    clock = time.perf_counter_ns
    t_end = time.monotonic() + args.warmup + args.duration
    t_start = time.monotonic() + args.warmup
    # B's push reply is read together with its next wake: redis-server sends it at once, but
    # Omnibus holds the replies of a pipelined group (push + blocking pop) until the pop ends.
    b_next = b_wake
    while True:
        t0 = clock()
        a.sendall(a_send)
        rb.exact(b_next)
        b.sendall(b_send)
        ra.exact(b":1\r\n" + a_wake)
        t1 = clock()
        b_next = b":1\r\n" + b_wake
        now = time.monotonic()
        if now >= t_start:
            samples.append(t1 - t0)
        if now >= t_end:
            break
    # Wake B before closing it: Omnibus (issue 9 as first merged) does not notice that a
    # blocked client disconnected, and would hand the next run's first element to it.
    a.sendall(push(b"lb"))
    rb.exact(b_next)
    ra.exact(b":1\r\n")
    ping = []
    with connect(server.port) as p:
        p.settimeout(5)
        rp = Reader(p)
        for i in range(args.ping_samples):
            t0 = clock()
            p.sendall(b"*1\r\n$4\r\nPING\r\n")
            rp.exact(b"+PONG\r\n")
            if i >= 100:
                ping.append(clock() - t0)
    return {"samples": samples, "ping": ping}


# ---------------------------------------------------------------------------- workload 4

def bench_blocked(server, n, idle_seconds):
    socks = []
    try:
        return _bench_blocked(server, n, idle_seconds, socks)
    finally:
        for s in socks:
            hard_close(s)


def _bench_blocked(server, n, idle_seconds, socks):
    base = server.rss()
    t0 = time.monotonic()
    for i in range(n):
        s = socket.create_connection((HOST, server.port))
        s.sendall(encode("BLPOP", b"blk:%d" % i, "0"))
        socks.append(s)
    connect_s = time.monotonic() - t0
    # Wait until the server reports them all blocked (if it reports blocked_clients).
    blocked = None
    end = time.monotonic() + 5
    while time.monotonic() < end:
        v = server.info_field("clients", "blocked_clients")
        if v is None:
            time.sleep(1.0)
            break
        blocked = int(v)
        if blocked >= n:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    held = server.rss()
    c0 = server.cpu_precise()
    time.sleep(idle_seconds)
    idle_cpu = server.cpu_precise() - c0
    # Wake every one of them: one connection pipelines an LPUSH to each key.
    ep = select.epoll()
    for s in socks:
        s.setblocking(False)
        ep.register(s.fileno(), select.EPOLLIN)
    by_fd = {s.fileno(): [s, b"", b"*2\r\n$%d\r\nblk:%d\r\n$1\r\nx\r\n" % (len(b"blk:%d" % i), i)]
             for i, s in enumerate(socks)}
    pusher = socket.create_connection((HOST, server.port))
    c0 = server.cpu_precise()
    t0 = time.monotonic()
    payload = b"".join(encode("LPUSH", b"blk:%d" % i, "x") for i in range(n))
    pusher.setblocking(False)
    sent = 0
    pending = n
    pusher_replies = 0
    ep.register(pusher.fileno(), select.EPOLLIN)
    deadline = t0 + 60
    while pending or pusher_replies < n:
        if sent < len(payload):
            try:
                sent += pusher.send(payload[sent:sent + 262144])
            except BlockingIOError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError("%s: %d blocked clients not woken after 60 s" % (server.name, pending))
        for fd, _ in ep.poll(0.01):
            if fd == pusher.fileno():
                data = pusher.recv(1 << 20)
                pusher_replies += data.count(b"\r\n")
                continue
            c = by_fd[fd]
            data = c[0].recv(4096)
            if not data:
                raise RuntimeError("%s: blocked client closed" % server.name)
            c[1] += data
            if len(c[1]) >= len(c[2]):
                if c[1] != c[2]:
                    raise RuntimeError("%s: unexpected BLPOP reply %r" % (server.name, c[1]))
                ep.unregister(fd)
                pending -= 1
    wake_s = time.monotonic() - t0
    wake_cpu = server.cpu_precise() - c0
    hard_close(pusher)
    return {"rss_mb": (held - base) / 1e6, "per_client": (held - base) / n,
            "idle_cpu_ms": idle_cpu * 1e3, "connect_s": connect_s,
            "blocked_info": float("nan") if blocked is None else float(blocked),
            "wake_ms": wake_s * 1e3, "wake_cpu_us": wake_cpu / n * 1e6}


# ---------------------------------------------------------------------------- main

WORKLOADS = ("multi-tag", "multi-spread", "watch", "pingpong", "pingpong-blmove",
             "pingpong-bzpopmin", "blocked")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--omnibus", help="omnibus-server binary; without it only redis-server runs")
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    ap.add_argument("--shards", type=int, default=2,
                    help="Omnibus --shards (default 2, so multi-spread really spans shards)")
    ap.add_argument("--only", default=",".join(WORKLOADS),
                    help="comma-separated subset of " + ",".join(WORKLOADS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds per round")
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--clients", type=int, default=50, help="MULTI/EXEC connections")
    ap.add_argument("--watch-clients", type=int, default=20)
    ap.add_argument("--procs", type=int, default=2, help="load generator processes")
    ap.add_argument("--value-size", type=int, default=16)
    ap.add_argument("--blocked", type=int, default=10000, help="idle blocked clients")
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    ap.add_argument("--ping-samples", type=int, default=3000)
    ap.add_argument("--quick", action="store_true", help="1 round of 2 s, 1,000 blocked clients")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup, args.blocked = 1, 2.0, 0.5, 1000
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    for w in only:
        if w not in WORKLOADS:
            ap.error("unknown workload %r" % w)

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    want = args.blocked + 1000
    if hard != resource.RLIM_INFINITY and hard < want:
        sys.exit("need RLIMIT_NOFILE >= %d for %d blocked clients, hard limit is %d"
                 % (want, args.blocked, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))   # inherited by both servers

    defs = [("redis", [args.redis, "--port", "{port}", "--save", "", "--appendonly", "no",
                       "--maxclients", "20000"])]
    if args.omnibus:
        defs.append(("omnibus", [args.omnibus, "--port", "{port}", "--shards", str(args.shards),
                                 "--maxclients", "20000"]))
    servers = []

    def start_servers():
        for name, argv in defs:
            port = free_port()
            servers.append(Server(name, [a.replace("{port}", str(port)) for a in argv], port))

    try:
        start_servers()
        omni = next((s for s in servers if s.name == "omnibus"), None)
        shards = args.shards
        if omni is not None:
            reported = omni.info_field("shards", "shards")
            if reported:
                shards = int(reported)
        names = [s.name for s in servers]
        res = {}   # workload -> server -> list of per-round dicts

        failed = {}   # (workload, server) -> error: that server is skipped from then on

        def attempt(workload, s, fn):
            if (workload, s.name) in failed:
                return None
            try:
                return fn(s)
            except (RuntimeError, OSError) as e:
                failed[(workload, s.name)] = str(e)[:300]
                print("  %-12s %-8s FAILED: %s" % (workload, s.name, e), flush=True)
                return None

        def rounds(workload, fn):
            res[workload] = {n: [] for n in names}
            for r in range(args.rounds):
                order = servers if r % 2 == 0 else servers[::-1]
                for s in order:
                    out = attempt(workload, s, fn)
                    if out is None:
                        continue
                    res[workload][s.name].append(out)
                    print("  %-12s %-8s round %d: %s" % (workload, s.name, r + 1, brief(out)),
                          flush=True)

        if "multi-tag" in only:
            rounds("multi-tag", lambda s: bench_multi(s, args, True, shards))
        if "multi-spread" in only:
            rounds("multi-spread", lambda s: bench_multi(s, args, False, shards))
        if "watch" in only:
            rounds("watch", lambda s: bench_watch(s, args))
        for v in PINGPONG:
            if v in only:
                rounds(v, lambda s, v=v: bench_pingpong(s, args, v))
        if "blocked" in only:
            # Once per server, on freshly started servers: memory freed by the earlier
            # workloads and kept by the allocator would hide the cost of the blocked clients.
            for s in servers:
                s.stop()
            servers.clear()
            start_servers()
            res["blocked"] = {n: [] for n in names}
            for s in servers:
                out = attempt("blocked", s, lambda s: bench_blocked(s, args.blocked,
                                                                    args.idle_seconds))
                if out is None:
                    continue
                res["blocked"][s.name] = [out]
                print("  %-12s %-8s: %s" % ("blocked", s.name, brief(out)), flush=True)
    finally:
        for s in servers:
            s.stop()

    print()
    print("\n".join(report(args, res, names, shards, failed)))


def brief(out):
    parts = []
    for k, v in out.items():
        if k in ("samples", "ping"):
            v = sorted(v)
            parts.append("%s p50 %.1f us p99 %.1f us (n=%d)" % (
                k, percentile(v, 50) / 1e3, percentile(v, 99) / 1e3, len(v)))
        elif isinstance(v, float):
            parts.append("%s %.2f" % (k, v))
        elif isinstance(v, list):
            parts.append("%s %s" % (k, "/".join("%.0f%%" % (x * 100) for x in v)))
        else:
            parts.append("%s %s" % (k, v))
    return ", ".join(parts)


def report(args, res, names, shards, failed):
    have_omni = "omnibus" in names
    cmdline = " ".join([os.path.relpath(sys.argv[0])] + [
        os.path.relpath(a) if os.path.isabs(a) else a for a in sys.argv[1:]])
    redis_version = subprocess.run([args.redis, "--version"], capture_output=True,
                                   text=True).stdout.split()[2]
    lines = [
        "## Transactions and blocking pops",
        "",
        "Produced by `%s` on %s." % (cmdline, datetime.date.today()),
        "Machine: %s, %d cores, kernel %s. redis-server: %s.%s" % (
            platform.machine(), os.cpu_count(), platform.release(), redis_version,
            " Omnibus `--shards %d`." % shards if have_omni else ""),
        "Throughput: median of %d alternating rounds of %.0f s (after %.1f s warm-up), closed "
        "loop, Python load generator in %d processes. Server CPU = utime+stime of the server "
        "process over the measured window ÷ completed operations (lower is better). Latency "
        "percentiles pool every round's samples." % (args.rounds, args.duration, args.warmup,
                                                    args.procs),
        "",
    ]
    if have_omni:
        lines += ["| workload | metric | Omnibus | redis | ratio O/r |", "|---|---|---:|---:|---:|"]
    else:
        lines += ["| workload | metric | redis |", "|---|---|---:|"]

    nan = float("nan")

    def cell(fmt, v):
        return "n/a" if v != v else fmt % v

    def row(title, metric, fmt, o, r, ratio=True):
        if have_omni:
            ratio = "%.2f" % (o / r) if ratio and r and o == o and r == r else "-"
            lines.append("| %s | %s | %s | %s | %s |" % (title, metric, cell(fmt, o),
                                                         cell(fmt, r), ratio))
        else:
            lines.append("| %s | %s | %s |" % (title, metric, cell(fmt, r)))

    def med(w, name, key):
        vals = [d[key] for d in res[w].get(name, [])]
        return statistics.median(vals) if vals else nan

    def get(w, key):
        return (med(w, "omnibus", key) if have_omni else nan, med(w, "redis", key))

    gen_notes = []
    for w, title in (("multi-tag", "MULTI + 5×SET + EXEC, one {tag} per connection, %d conns"
                      % args.clients),
                     ("multi-spread", "MULTI + 5×SET + EXEC, no tag, keys on %d shards, %d conns"
                      % (min(5, shards), args.clients))):
        if w not in res:
            continue
        row(title, "transactions/s", "%.0f", *get(w, "rate"))
        row("", "server CPU µs/transaction", "%.2f", *get(w, "cpu_us"))
        gen_notes.append(w)
    if "watch" in res:
        title = "WATCH c + GET c, then MULTI + SET c v+1 + EXEC, one counter, %d clients" % (
            args.watch_clients)
        row(title, "successful increments/s", "%.0f", *get("watch", "rate"))
        row("", "retries per success", "%.2f", *get("watch", "retries"))
        row("", "server CPU µs/success", "%.2f", *get("watch", "cpu_us"))
        gen_notes.append("watch")
    ping_from = None
    for v, (label, _, _, _) in PINGPONG.items():
        if v not in res:
            continue
        def pooled(name, key, v=v):
            return sorted(x for d in res[v].get(name, []) for x in d[key])

        def pct(name, key, p):
            if name not in names:
                return nan
            return percentile(pooled(name, key), p) / 1e3

        title = "%s ping-pong between 2 keys (round trip = 2 hand-offs)" % label
        for p in (50, 99):
            row(title if p == 50 else "", "round trip p%d µs" % p, "%.1f",
                pct("omnibus", "samples", p), pct("redis", "samples", p))
        row("", "round trips measured", "%d",
            len(pooled("omnibus", "samples")) if have_omni else nan,
            len(pooled("redis", "samples")), ratio=False)
        ping_from = True
    if ping_from:
        def ping50(name):
            vals = sorted(x for v in PINGPONG if v in res for d in res[v].get(name, [])
                          for x in d["ping"])
            return percentile(vals, 50) / 1e3 if vals else nan
        row("PING round trip, 1 client (baseline for the above)", "p50 µs", "%.1f",
            ping50("omnibus") if have_omni else nan, ping50("redis"))
    if "blocked" in res:
        n = args.blocked

        def g(key):
            return (med("blocked", "omnibus", key) if have_omni else nan,
                    med("blocked", "redis", key))
        title = "%d idle clients blocked in BLPOP (distinct keys, timeout 0)" % n
        row(title, "RSS growth MB", "%.1f", *g("rss_mb"))
        row("", "RSS per blocked client B", "%.0f", *g("per_client"))
        row("", "blocked_clients in INFO (before the idle window)", "%.0f",
            *g("blocked_info"), ratio=False)
        row("", "server CPU over %.0f s idle, ms" % args.idle_seconds, "%.1f", *g("idle_cpu_ms"))
        row("", "wake all (one pipelined LPUSH per key), ms", "%.0f", *g("wake_ms"))
        row("", "server CPU per woken client µs", "%.2f", *g("wake_cpu_us"))
    if gen_notes:
        lines.append("")
        parts = []
        for w in gen_notes:
            for n in names:
                rounds_ = res[w].get(n, [])
                if not rounds_:
                    continue
                util = statistics.median(sum(d["gen"]) for d in rounds_)
                srv = statistics.median(d["server_util"] for d in rounds_)
                parts.append("%s/%s: generator %.0f%%, server %.0f%%" % (
                    w, n, util * 100, srv * 100))
        lines.append("CPU busy during the throughput runs, in %% of one core (median round; "
                     "generator = its %d processes together): %s." % (args.procs, "; ".join(parts)))
    if any(v in res for v in PINGPONG):
        lines += ["", "Ping-pong: one Python thread drives both clients; a sample runs from A's "
                  "write (push to lb + blocking pop on la) to A's wake, through B's wake and "
                  "B's write (push to la + blocking pop on lb): two blocked-pop hand-offs, two "
                  "loopback round trips and one Python turn-around; PING is the floor for one. "
                  "la and lb are on different Omnibus shards at --shards 2."]
    if "blocked" in res:
        lines += ["", "Blocked clients: measured on freshly started servers; idle and wake-up "
                  "CPU are the sum of every server thread's /proc/PID/task/*/schedstat "
                  "(ns resolution); RSS growth is VmRSS after all BLPOPs are blocked minus "
                  "VmRSS before the first connection."]
    for (w, n), err in sorted(failed.items()):
        lines.append("")
        lines.append("**%s failed on %s**: `%s`" % (w, n, err.replace("`", "'")))
    return lines

if __name__ == "__main__":
    main()
