#!/usr/bin/python3
"""Cache benchmark (issue 13, part 3): redis-server and Omnibus at the same maxmemory.

Mode "hit-ratio": starts redis-server and the given Omnibus binary on free ports of their own,
picks one maxmemory for all (by default: redis-server's empty used_memory plus --cache-fraction
of the bytes redis-server needs to hold every zipf key of the trace, measured by loading them),
and for every trace and every server/policy pair (redis-server: --redis-policies; Omnibus:
--omnibus-policies) does FLUSHALL, CONFIG SET maxmemory-policy, CONFIG SET maxmemory and runs
omnibus-cache-trace (cache-aside GET, SET on a miss). A policy a server refuses fails that
column, loudly, and the script exits 1: it is never skipped.

Mode "eviction": what eviction costs when every SET evicts. Per server/policy, redis-benchmark
-t set -P 16 -r 10000000 -n N with maxmemory 0 (no eviction) and with a maxmemory so small
that (after a fill run) every SET of a new key evicts one; reports requests/s of both, their
ratio, the share of SETs that evicted, and the server's CPU per request (utime+stime of the
server from /proc/PID/stat over the run, divided by N).

Prints Markdown tables and the exact commands run, for docs/benchmarks.md. Timing figures are
only worth publishing from a quiet machine.

  bench/load/cache_bench.py --omnibus build/omnibus-server \\
      --trace-bin build/bench/omnibus-cache-trace --omnibus-policies allkeys-lru,allkeys-lfu
  bench/load/cache_bench.py --no-omnibus --quick            # redis-server only, small traces
"""
import argparse
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import cpu_seconds, free_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ServerError(Exception):
    pass


class Client:
    """A minimal RESP client that tells errors from status replies."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.f = self.sock.makefile("rb")

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self.read()

    def read(self):
        line = self.f.readline()
        if not line:
            raise ServerError("connection closed")
        t, body = line[:1], line[1:-2]
        if t == b"-":
            raise ServerError(body.decode(errors="replace"))
        if t == b"+":
            return body.decode()
        if t == b":":
            return int(body)
        if t == b"$":
            n = int(body)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode(errors="replace")
        if t == b"*":
            return [self.read() for _ in range(int(body))]
        raise ServerError("bad reply %r" % line)

    def info(self):
        fields = {}
        for line in self.cmd("INFO").splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                fields[k] = v
        return fields

    def close(self):
        self.sock.close()


class Server:
    def __init__(self, kind, argv, port):
        self.kind, self.argv, self.port = kind, argv, port
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise RuntimeError("%s did not start: %s" % (kind, shlex.join(argv)))
                time.sleep(0.05)
        self.client = Client(port)

    def stop(self):
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Log:
    """Every command that changes what is measured, to print with the results."""

    def __init__(self):
        self.lines = []

    def config(self, server, *args):
        self.lines.append("redis-cli -p %d %s   # %s" % (server.port, shlex.join(args),
                                                          server.kind))
        return server.client.cmd(*args)

    def run(self, argv, **kw):
        self.lines.append(shlex.join(argv))
        return subprocess.run(argv, capture_output=True, text=True, **kw)


def traces(args):
    """(name, harness arguments) for each trace asked for."""
    base = ["--keys", args.keys, "--requests", args.requests, "--value-size", args.value_size,
            "--window", args.window, "--warmup", args.warmup, "--seed", args.seed]
    out = []
    for name in args.traces.split(","):
        if name.startswith("zipf"):
            out.append((name + " (s=%s)" % name[4:], base + ["--trace", "zipf", "--zipf-s",
                                                             name[4:]]))
        elif name == "scan":
            out.append(("scan (zipf s=%s + %d%% one-time scans)" % (
                args.scan_zipf_s, round(args.scan_fraction * 100)),
                base + ["--trace", "scan", "--zipf-s", args.scan_zipf_s, "--scan-fraction",
                        args.scan_fraction, "--scan-len", args.scan_len]))
        elif name == "loop":
            out.append(("loop (%d keys)" % args.keys, base + ["--trace", "loop", "--loop-len",
                                                              args.keys]))
        else:
            sys.exit("unknown trace %r (zipfS, scan, loop)" % name)
    return [(n, [str(a) for a in argv]) for n, argv in out]


def replay(log, args, server, trace_args):
    out = log.run([args.trace_bin, "--port", str(server.port), "--quiet"] + trace_args,
                  timeout=3600)
    if out.returncode != 0:
        raise ServerError("omnibus-cache-trace failed: %s" % (out.stderr.strip() or out.stdout))
    return json.loads(out.stdout.strip().splitlines()[-1])


def setup_policy(log, server, policy, maxmemory):
    """FLUSHALL, then the policy and maxmemory; ServerError if the server refuses either."""
    for args in (("FLUSHALL",), ("CONFIG", "SET", "maxmemory-policy", policy),
                 ("CONFIG", "SET", "maxmemory", str(maxmemory))):
        try:
            log.config(server, *args)
        except (ServerError, OSError) as e:
            raise ServerError("%s: %s" % (" ".join(args), e))
    got = server.client.cmd("CONFIG", "GET", "maxmemory-policy")
    if got != ["maxmemory-policy", policy]:
        raise ServerError("CONFIG GET maxmemory-policy answers %r after setting %s" %
                          (got, policy))


def auto_maxmemory(log, args, redis):
    """redis-server's empty used_memory + cache_fraction of what all zipf keys take there."""
    log.config(redis, "FLUSHALL")
    log.config(redis, "CONFIG", "SET", "maxmemory", "0")
    empty = int(redis.client.info()["used_memory"])
    r = replay(log, args, redis, ["--trace", "loop", "--loop-len", str(args.keys), "--requests",
                                  str(args.keys), "--value-size", str(args.value_size)])
    full = r["used_memory"]
    log.config(redis, "FLUSHALL")
    per_key = (full - empty) / args.keys
    maxmemory = int(empty + args.cache_fraction * (full - empty))
    note = ("maxmemory %d B = redis-server's empty used_memory (%d B) + %.0f%% of the %d B it "
            "takes to hold all %d keys (%.0f B a key with %d B values)" % (
                maxmemory, empty, args.cache_fraction * 100, full - empty, args.keys, per_key,
                args.value_size))
    return maxmemory, note


def columns(args, redis, omnibus):
    cols = []
    for p in filter(None, args.redis_policies.split(",")):
        cols.append((redis, p))
    if omnibus:
        for p in filter(None, args.omnibus_policies.split(",")):
            cols.append((omnibus, p))
    return cols


def hit_ratio_mode(log, args, redis, omnibus):
    if args.maxmemory:
        maxmemory, note = args.maxmemory, "maxmemory %d B (given)" % args.maxmemory
    else:
        maxmemory, note = auto_maxmemory(log, args, redis)
    cols = columns(args, redis, omnibus)
    # refused: a server/policy pair whose setup failed (the rest of its column is not run);
    # failures: every failed cell, refused or not.
    rows, refused, failures = [], set(), {}
    for name, trace_args in traces(args):
        row = {"trace": name, "cells": []}
        for server, policy in cols:
            key = (server.kind, policy)
            if key in refused:
                row["cells"].append(None)
                continue
            try:
                try:
                    setup_policy(log, server, policy, maxmemory)
                except (ServerError, OSError):
                    refused.add(key)
                    raise
                r = replay(log, args, server, trace_args)
                if r["maxmemory_policy"] != policy or r["maxmemory"] != maxmemory:
                    refused.add(key)
                    raise ServerError("INFO reports maxmemory %s, policy %s" % (
                        r["maxmemory"], r["maxmemory_policy"]))
                if r["errors"] or r["set_errors"]:
                    raise ServerError("errors during the replay: %s" % r["error_kinds"])
            except (ServerError, OSError) as e:
                failures[key + (name,)] = str(e)
                print("FAILED %s %s on %s: %s" % (server.kind, policy, name, e), file=sys.stderr)
                row["cells"].append(None)
                continue
            row["infinite"] = r["infinite_cache_hit_ratio"]
            row["cells"].append(r)
            print("%-45s %-8s %-12s hit ratio %.4f  %8.0f req/s  evicted %s" % (
                name, server.kind, policy, r["hit_ratio"], r["requests_per_sec"],
                r["evicted_keys"]), file=sys.stderr)
        rows.append(row)

    md = ["### Hit ratio, cache-aside replay at the same maxmemory", ""]
    md.append("%d keys, %d requests a trace, %d B values, one connection with a window of %d "
              "GETs, seed %d; %s. The hit ratio counts the requests after the first %.0f%% "
              "(warm-up); \"infinite\" is what a cache that never evicts would hit." % (
                  args.keys, args.requests, args.value_size, args.window, args.seed, note,
                  args.warmup * 100))
    md.append("")
    header = ["trace", "infinite"] + ["%s %s" % (s.kind, p) for s, p in cols]
    md.append("| " + " | ".join(header) + " |")
    md.append("|" + "---|" * len(header))
    for row in rows:
        cells = [row["trace"], "%.3f" % row["infinite"] if "infinite" in row else "-"]
        for r in row["cells"]:
            cells.append("FAILED" if r is None else "%.3f (%.0fk/s, %d keys)" % (
                r["hit_ratio"], r["requests_per_sec"] / 1000, r["dbsize"]))
        md.append("| " + " | ".join(cells) + " |")
    md.append("")
    md.append("Cells: hit ratio after warm-up (requests/s of the replay; keys the cache held at "
              "the end: at one maxmemory, less overhead a key holds more keys).")
    for (kind, policy, trace), why in failures.items():
        md.append("")
        md.append("FAILED: %s with maxmemory-policy %s on %s: %s" % (kind, policy, trace, why))
    return md, failures


def redis_benchmark(log, port, n, clients, pipeline):
    argv = ["redis-benchmark", "-p", str(port), "-t", "set", "-P", str(pipeline), "-r",
            "10000000", "-n", str(n), "-c", str(clients), "--csv", "-q"]
    out = log.run(argv, timeout=3600)
    if out.returncode != 0:
        raise ServerError("redis-benchmark failed: %s" % out.stderr)
    rows = [[p.strip('"') for p in line.split(",")] for line in out.stdout.splitlines()]
    rows = [r for r in rows if len(r) >= 2 and r[0] != "test"]
    if not rows:
        raise ServerError("no result from redis-benchmark: %r" % out.stdout)
    return float(rows[-1][1])


def measured_run(log, args, server):
    """(requests/s, server CPU seconds per request, evicted_keys during the run)."""
    before_evicted = int(server.client.info().get("evicted_keys", 0))
    cpu0 = cpu_seconds(server.proc.pid)
    rps = redis_benchmark(log, server.port, args.eviction_requests, args.clients, 16)
    cpu = cpu_seconds(server.proc.pid) - cpu0
    evicted = int(server.client.info().get("evicted_keys", 0)) - before_evicted
    return rps, cpu / args.eviction_requests, evicted


def eviction_mode(log, args, redis, omnibus):
    cols = columns(args, redis, omnibus)
    rows, failures = [], {}
    for server, policy in cols:
        free, full, evicted_share = [], [], []
        try:
            for _ in range(args.rounds):
                setup_policy(log, server, policy, 0)
                free.append(measured_run(log, args, server))
                setup_policy(log, server, policy, 0)  # FLUSHALL: measure the empty server
                empty = int(server.client.info()["used_memory"])
                maxmemory = empty + args.eviction_maxmemory
                setup_policy(log, server, policy, maxmemory)
                # Fill to maxmemory first, so that every SET of the measured run evicts.
                evicted_before = int(server.client.info().get("evicted_keys", 0))
                for _ in range(20):
                    redis_benchmark(log, server.port, 100_000, args.clients, 16)
                    if int(server.client.info().get("evicted_keys", 0)) > evicted_before:
                        break
                else:
                    raise ServerError("20 runs of 100000 SETs evicted nothing at maxmemory %d"
                                      % maxmemory)
                rps, cpu, evicted = measured_run(log, args, server)
                full.append((rps, cpu))
                evicted_share.append(evicted / args.eviction_requests)
        except (ServerError, OSError) as e:
            failures[(server.kind, policy)] = str(e)
            print("FAILED %s %s: %s" % (server.kind, policy, e), file=sys.stderr)
            continue
        free_rps = statistics.median(r for r, _, _ in free)
        free_cpu = statistics.median(c for _, c, _ in free)
        full_rps = statistics.median(r for r, _ in full)
        full_cpu = statistics.median(c for _, c in full)
        share = min(evicted_share)
        rows.append((server.kind, policy, free_rps, full_rps, share, free_cpu, full_cpu))
        print("%-8s %-12s %9.0f -> %9.0f req/s (%.3f), at least %.2f of SETs evicted" % (
            server.kind, policy, free_rps, full_rps, full_rps / free_rps, share),
            file=sys.stderr)
    md = ["### What eviction costs: SET -P 16 when every SET evicts", ""]
    md.append("redis-benchmark -t set -P 16 -r 10000000 -n %d -c %d, with maxmemory 0 and with "
              "maxmemory = empty used_memory + %d B (filled first, by runs of 100000 SETs until one "
              "evicts); medians of %d rounds, each measuring both. \"SETs that evicted\": evicted_keys "
              "over the run ÷ requests, the lowest of the rounds." % (
                  args.eviction_requests, args.clients, args.eviction_maxmemory, args.rounds))
    md.append("")
    md.append("| server | policy | SET/s, no eviction | SET/s, evicting | ratio | SETs that "
              "evicted | CPU µs/request, no eviction | CPU µs/request, evicting |")
    md.append("|---|---|---|---|---|---|---|---|")
    for kind, policy, free_rps, full_rps, frac, free_cpu, full_cpu in rows:
        md.append("| %s | %s | %.0f | %.0f | %.3f | %.2f | %.2f | %.2f |" % (
            kind, policy, free_rps, full_rps, full_rps / free_rps, frac, free_cpu * 1e6,
            full_cpu * 1e6))
    for (kind, policy), why in failures.items():
        md.append("")
        md.append("FAILED: %s with maxmemory-policy %s: %s" % (kind, policy, why))
    return md, failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--omnibus", help="omnibus-server binary")
    ap.add_argument("--no-omnibus", action="store_true", help="redis-server only")
    ap.add_argument("--omnibus-args", default="--shards 2",
                    help="extra arguments for omnibus-server (default: --shards 2)")
    ap.add_argument("--redis-server", default="redis-server")
    ap.add_argument("--trace-bin", default=os.path.join(ROOT, "build/bench/omnibus-cache-trace"))
    ap.add_argument("--mode", choices=["hit-ratio", "eviction", "both"], default="hit-ratio")
    ap.add_argument("--redis-policies", default="allkeys-lru,allkeys-lfu")
    ap.add_argument("--omnibus-policies", default="allkeys-lru,allkeys-lfu")
    ap.add_argument("--traces", default="zipf0.8,zipf1.0,zipf1.2,scan,loop")
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=5_000_000)
    ap.add_argument("--value-size", type=int, default=200)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scan-fraction", type=float, default=0.3)
    ap.add_argument("--scan-len", type=int, default=20_000)
    ap.add_argument("--scan-zipf-s", default="1.0")
    ap.add_argument("--cache-fraction", type=float, default=0.1)
    ap.add_argument("--maxmemory", type=int, default=0, help="bytes; default: measured")
    ap.add_argument("--eviction-requests", type=int, default=2_000_000)
    ap.add_argument("--eviction-maxmemory", type=int, default=4 << 20,
                    help="bytes above the empty used_memory (default 4 MB)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3, help="eviction mode: rounds (medians)")
    ap.add_argument("--quick", action="store_true",
                    help="100k keys, 1M requests, 200k SETs: for checking the script")
    ap.add_argument("--output", help="also write the Markdown here")
    args = ap.parse_args()
    if args.quick:
        args.keys, args.requests, args.scan_len = 100_000, 1_000_000, 5_000
        args.eviction_requests = 200_000
    if not args.omnibus and not args.no_omnibus:
        ap.error("--omnibus PATH (or --no-omnibus for redis-server alone)")
    if not os.access(args.trace_bin, os.X_OK):
        ap.error("%s is not built (cmake -DOMNIBUS_BUILD_BENCH=ON; ninja omnibus-cache-trace)"
                 % args.trace_bin)

    log = Log()
    servers = []
    try:
        port = free_port()
        redis = Server("redis", [args.redis_server, "--port", str(port), "--save", "",
                                 "--appendonly", "no"], port)
        servers.append(redis)
        omnibus = None
        if args.omnibus:
            port = free_port()
            omnibus = Server("omnibus", [args.omnibus, "--port", str(port)] +
                             shlex.split(args.omnibus_args), port)
            servers.append(omnibus)
        md, failures = [], {}
        if args.mode in ("hit-ratio", "both"):
            part, f = hit_ratio_mode(log, args, redis, omnibus)
            md += part + [""]
            failures.update(f)
        if args.mode in ("eviction", "both"):
            part, f = eviction_mode(log, args, redis, omnibus)
            md += part + [""]
            failures.update(f)
    finally:
        for s in servers:
            s.stop()
    md.append("Servers: " + "; ".join("%s = `%s`" % (s.kind, shlex.join(s.argv))
                                      for s in servers) + ".")
    md.append("")
    md.append("Commands, in order:")
    md.append("")
    md.append("```")
    md += log.lines
    md.append("```")
    text = "\n".join(md) + "\n"
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    if failures:
        print("cache_bench: %d cells FAILED (see above)" % len(failures),
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
