#!/usr/bin/python3
"""Side-by-side whole-server benchmark: Omnibus vs Debian's redis-server, in one run.

For each workload, runs redis-benchmark against both servers in alternating rounds and
reports the median throughput and each server's CPU time per request (utime+stime from
/proc/PID/stat over the run, divided by requests). Then measures RSS per key after loading
1M keys (16 B keys, 16 B values) and RSS per idle connection after 10k connections.
Writes a Markdown report (docs/benchmarks.md by default).
"""
import argparse
import datetime
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
NOTES_MARKER = "<!-- notes: kept by bench.py -->"
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[11], fields[12] are utime, stime (fields 14 and 15 of the full line).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * PAGE


class Server:
    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise RuntimeError("%s did not start" % name)
                time.sleep(0.05)

    def cmd(self, *args):
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(encode(args))
            return read_reply(s.makefile("rb"))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def encode(args):
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
        return [read_reply(f) for _ in range(int(line[1:-2]))]
    raise RuntimeError("bad reply %r" % line)


def redis_benchmark(port, test, n, clients, pipeline, size, keyspace):
    argv = ["redis-benchmark", "-p", str(port), "-t", test, "-n", str(n), "-c", str(clients),
            "-P", str(pipeline), "-d", str(size), "-r", str(keyspace), "--csv", "-q"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    # The last row is the test asked for: LRANGE_* first reports the LPUSH that fills the list.
    rows = [[p.strip('"') for p in line.split(",")] for line in out.splitlines()]
    rows = [r for r in rows if len(r) >= 2 and r[0] != "test"]
    if not rows:
        raise RuntimeError("no result from redis-benchmark: %r" % out)
    return float(rows[-1][1])


def load_keys(port, count, ttl=False):
    """Pipelines `count` SETs of 16 B keys with 16 B values."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rb")
        batch = 10000
        for start in range(0, count, batch):
            chunk = []
            for i in range(start, min(count, start + batch)):
                k = b"key:%012d" % i
                v = b"val:%012d" % i
                if ttl:
                    chunk.append(b"*5\r\n$3\r\nSET\r\n$16\r\n%s\r\n$16\r\n%s\r\n$2\r\nEX\r\n$6\r\n100000\r\n" % (k, v))
                else:
                    chunk.append(b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$16\r\n%s\r\n" % (k, v))
            s.sendall(b"".join(chunk))
            for _ in chunk:
                f.readline()


def load_pipelined(port, commands):
    """Sends an iterable of argument tuples, pipelined in batches, reading every reply."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rb")
        batch = []
        def flush():
            s.sendall(b"".join(encode(c) for c in batch))
            for _ in batch:
                reply = read_reply(f)
                if isinstance(reply, bytes) and reply.startswith(b"ERR"):
                    raise RuntimeError("load failed: %r" % reply)
            batch.clear()
        for c in commands:
            batch.append(c)
            if len(batch) == 5000:
                flush()
        if batch:
            flush()


# Containers whose RSS is compared: (title, generator of commands for `n` items).
CONTAINER_LOADS = [
    ("1M small hashes (5 fields)", lambda n: (
        ("HSET", b"hash:%09d" % i, b"field1", b"value1", b"field2", b"value2", b"field3",
         b"value3", b"field4", b"value4", b"field5", b"value5") for i in range(n))),
    ("1M small sets (5 members)", lambda n: (
        ("SADD", b"set:%09d" % i, b"member1", b"member2", b"member3", b"member4", b"member5")
        for i in range(n))),
    ("one sorted set, 1M members", lambda n: (
        ("ZADD", b"zset", *[x for j in range(i, i + 100) for x in (b"%d" % j, b"member:%09d" % j)])
        for i in range(0, n, 100))),
    ("one list, 1M elements", lambda n: (
        ("RPUSH", b"list", *[b"element:%09d" % j for j in range(i, i + 100)])
        for i in range(0, n, 100))),
]


def default_redis_benchmark(port, n):
    """Plain redis-benchmark with its default test list: True if every test ran to the end."""
    proc = subprocess.run(["redis-benchmark", "-p", str(port), "-n", str(n), "-q", "--csv"],
                          capture_output=True, text=True, timeout=600)
    tests = [l.split(",")[0].strip('"') for l in proc.stdout.splitlines()
             if l and not l.startswith('"test"')]
    return proc.returncode == 0 and "MSET (10 keys)" in tests, tests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnibus", required=True)
    ap.add_argument("--shards", default="")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--out", default="docs/benchmarks.md")
    ap.add_argument("--quick", action="store_true", help="few requests, for a smoke run")
    ap.add_argument("--container-items", type=int, default=1000000)
    ap.add_argument("--only-types", action="store_true",
                    help="only the data-type workloads, container memory and the default run")
    args = ap.parse_args()
    if args.quick:
        args.requests, args.keys, args.connections, args.rounds = 20000, 100000, 1000, 1
        args.container_items = 100000
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    omni_argv = [args.omnibus, "--port", "{port}"]
    if args.shards:
        omni_argv += ["--shards", args.shards]
    defs = [
        ("redis", ["redis-server", "--port", "{port}", "--save", "", "--appendonly", "no",
                   "--maxclients", "20000"]),
        ("omnibus", omni_argv + ["--maxclients", "20000"]),
    ]
    def start_servers():
        out = []
        for name, argv in defs:
            port = free_port()
            out.append(Server(name, [a.replace("{port}", str(port)) for a in argv], port))
        return out

    def restart(old):
        # Memory is measured on fresh processes: memory freed by an earlier workload and kept
        # by the allocator would otherwise hide the cost of new keys.
        for s in old:
            s.stop()
        return start_servers()

    servers = start_servers()

    workloads = [
        ("SET 3 B, -P1", "set", 1, 3), ("GET 3 B, -P1", "get", 1, 3),
        ("SET 1 KB, -P1", "set", 1, 1024), ("GET 1 KB, -P1", "get", 1, 1024),
        ("SET 3 B, -P16", "set", 16, 3), ("GET 3 B, -P16", "get", 16, 3),
        ("SET 1 KB, -P16", "set", 16, 1024), ("GET 1 KB, -P16", "get", 16, 1024),
        ("INCR, -P1", "incr", 1, 3), ("INCR, -P16", "incr", 16, 3),
        ("MSET (10 keys), -P1", "mset", 1, 3), ("MSET (10 keys), -P16", "mset", 16, 3),
    ]
    type_workloads = []
    for test in ("lpush", "rpush", "lpop", "rpop", "sadd", "spop", "hset", "zadd", "zpopmin",
                 "lrange_100", "lrange_600"):
        for pipeline in (1, 16):
            type_workloads.append(("%s, -P%d" % (test.upper(), pipeline), test, pipeline, 3))
    workloads = type_workloads if args.only_types else workloads + type_workloads
    results = []
    try:
        for title, test, pipeline, size in workloads:
            rps = {s.name: [] for s in servers}
            cpu = {s.name: [] for s in servers}
            n = args.requests * (4 if pipeline > 1 else 1)
            for _ in range(args.rounds):
                for s in servers:  # alternate servers round by round
                    c0 = cpu_seconds(s.proc.pid)
                    r = redis_benchmark(s.port, test, n, 50, pipeline, size, 100000)
                    c1 = cpu_seconds(s.proc.pid)
                    rps[s.name].append(r)
                    cpu[s.name].append((c1 - c0) / n * 1e6)
            row = (title, statistics.median(rps["omnibus"]), statistics.median(rps["redis"]),
                   statistics.median(cpu["omnibus"]), statistics.median(cpu["redis"]))
            results.append(row)
            print("%-22s omnibus %10.0f rps  redis %10.0f rps  ratio %.2f   cpu/req %.2f vs %.2f us"
                  % (row[0], row[1], row[2], row[1] / row[2], row[3], row[4]), flush=True)

        default_run = {}
        for s in servers:
            default_run[s.name] = default_redis_benchmark(s.port, 2000 if args.quick else 10000)
            print("%s: plain redis-benchmark %s (%d tests)" % (
                s.name, "completed" if default_run[s.name][0] else "DID NOT COMPLETE",
                len(default_run[s.name][1])), flush=True)

        containers = []
        for title, gen in CONTAINER_LOADS:
            servers = restart(servers)
            row = {}
            for s in servers:
                base = rss_bytes(s.proc.pid)
                load_pipelined(s.port, gen(args.container_items))
                row[s.name] = (rss_bytes(s.proc.pid) - base) / 1e6
            containers.append((title.replace("1M", "%dk" % (args.container_items // 1000))
                               if args.container_items != 1000000 else title,
                               row["omnibus"], row["redis"]))
            print("%-30s omnibus %.1f MB  redis %.1f MB  ratio %.2f" % (
                title, row["omnibus"], row["redis"], row["omnibus"] / row["redis"]), flush=True)

        mem = {}
        for ttl in ((False, True) if not args.only_types else ()):
            servers = restart(servers)
            for s in servers:
                base = rss_bytes(s.proc.pid)
                load_keys(s.port, args.keys, ttl=ttl)
                per_key = (rss_bytes(s.proc.pid) - base) / args.keys
                mem.setdefault(s.name, []).append(per_key)
        servers = restart(servers)
        for s in (servers if not args.only_types else ()):
            print("%s: %.1f B/key, %.1f B/key with TTL" % (s.name, *mem[s.name]), flush=True)


        conn = {}
        for s in (servers if not args.only_types else ()):
            base = rss_bytes(s.proc.pid)
            socks = []
            for _ in range(args.connections):
                c = socket.create_connection(("127.0.0.1", s.port))
                c.sendall(b"PING\r\n")
                socks.append(c)
            for c in socks:
                c.recv(16)
            held = rss_bytes(s.proc.pid)
            for c in socks:
                c.close()
            conn[s.name] = (held - base) / args.connections
            print("%s: %.0f B per idle connection" % (s.name, conn[s.name]), flush=True)
    finally:
        for s in servers:
            s.stop()

    cmdline = " ".join([os.path.relpath(sys.argv[0])] + [os.path.relpath(a) if os.path.isabs(a) else a for a in sys.argv[1:]])
    lines = [
        "# Benchmarks: Omnibus vs redis-server, side by side",
        "",
        "Produced by `scripts/bench.sh` (`%s`) on %s." % (cmdline, datetime.date.today()),
        "Machine: %s, %d cores, kernel %s. redis-server: %s." % (
            platform.machine(), os.cpu_count(), platform.release(),
            subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]),
        "Each cell is the median of %d alternating rounds; 50 clients, keyspace 100k (`-r 100000`)." % args.rounds,
        "CPU/request = server utime+stime over the run divided by requests (lower is better).",
        "",
        "| workload | Omnibus rps | redis rps | ratio | Omnibus CPU µs/req | redis CPU µs/req | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t, o, r, co, cr in results:
        lines.append("| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f |" % (t, o, r, o / r, co, cr, co / cr if cr else 0))
    lines += [
        "",
        "Plain `redis-benchmark` (default test list, `-n %d`): Omnibus %s (%d tests), redis %s." % (
            2000 if args.quick else 10000,
            "ran every test to the end" if default_run["omnibus"][0] else "did NOT complete",
            len(default_run["omnibus"][1]),
            "completed" if default_run["redis"][0] else "did not complete"),
        "",
        "| container memory (RSS growth) | Omnibus | redis | ratio |",
        "|---|---:|---:|---:|",
    ]
    for title, o, r in containers:
        lines.append("| %s | %.1f MB | %.1f MB | %.2f |" % (title, o, r, o / r))
    if args.only_types:
        mem = conn = None
    lines += [] if mem is None else [
        "",
        "| memory | Omnibus | redis | ratio |",
        "|---|---:|---:|---:|",
        "| RSS per key, %d keys (16 B key, 16 B value) | %.1f B | %.1f B | %.2f |" % (
            args.keys, mem["omnibus"][0], mem["redis"][0], mem["omnibus"][0] / mem["redis"][0]),
        "| same, with a TTL on every key | %.1f B | %.1f B | %.2f |" % (
            mem["omnibus"][1], mem["redis"][1], mem["omnibus"][1] / mem["redis"][1]),
        "| RSS per idle connection, %d connections | %.0f B | %.0f B | %.2f |" % (
            args.connections, conn["omnibus"], conn["redis"], conn["omnibus"] / conn["redis"]),
        "",
    ]
    # Hand-written analysis below the notes marker survives re-runs.
    notes = ""
    if os.path.exists(args.out):
        with open(args.out) as f:
            old = f.read()
        marker = old.find(NOTES_MARKER)
        if marker >= 0:
            notes = old[marker:]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
        if notes:
            f.write("\n" + notes)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
