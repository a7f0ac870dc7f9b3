#!/usr/bin/python3
"""Scripting, Omnibus vs Debian's redis-server side by side in one run (issue 10).

Workloads (redis-benchmark with a custom command, 50 clients, random keys from 100,000):
  ratelimit    EVALSHA of a rate limiter: INCR + PEXPIRE + a comparison, one random key
  5keys-tag    EVALSHA of a script reading and writing 5 keys that share a {hash tag}
               (one shard: runs there in one step)
  5keys-spread the same script on 5 random keys (several shards: runs parked over all)
  undeclared   the rate limiter on a key passed in ARGV (not declared): on Omnibus it runs on
               its spread shard, reaches out, and is run parked from then on
  fcall        FCALL of the rate limiter as a function (skipped where FUNCTION is missing)
each at -P1 and -P16. Reports the median throughput of the rounds and each server's CPU time
per request (utime+stime from /proc/PID/stat over the run / requests); for Omnibus also per
thread (reactor, shards) from /proc/PID/task.

Run: bench/load/script_bench.py --omnibus build/release/omnibus-server [--shards 2]
     [--rounds 3] [--requests 100000] [--only ratelimit,fcall]
Prints a Markdown table and the command line that produced it.
"""
import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import CLK_TCK, Server, cpu_seconds, free_port  # noqa: E402

RATE_LIMITER = ("local c = redis.call('incr', KEYS[1]) "
                "redis.call('pexpire', KEYS[1], ARGV[2]) "
                "if c > tonumber(ARGV[1]) then return 0 end return 1")
FIVE_KEYS = ("local s = 0 for i, k in ipairs(KEYS) do "
             "s = s + redis.call('incrby', k, ARGV[1]) end return s")
UNDECLARED = RATE_LIMITER.replace("KEYS[1]", "ARGV[3]")
LIBRARY = ("#!lua name=bench\n"
           "redis.register_function('ratelimit', function(keys, args) "
           "local c = redis.call('incr', keys[1]) "
           "redis.call('pexpire', keys[1], args[2]) "
           "if c > tonumber(args[1]) then return 0 end return 1 end)")


def thread_cpu(pid):
    """utime+stime per thread name (reactor, shard-N, ...), seconds."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                data = f.read()
        except OSError:
            continue
        name = data[data.index("(") + 1:data.rindex(")")]
        fields = data.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def bench(port, command, n, pipeline):
    argv = ["redis-benchmark", "-p", str(port), "-n", str(n), "-c", "50", "-P", str(pipeline),
            "-r", "100000", "--csv", "-q"] + command
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rows = [[p.strip('"') for p in line.split(",")] for line in out.splitlines()]
    rows = [r for r in rows if len(r) >= 2 and r[0] != "test"]
    return float(rows[-1][1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnibus", required=True)
    ap.add_argument("--shards", default="")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--only", default="")
    args = ap.parse_args()

    omni = [args.omnibus, "--port", "{port}"] + (["--shards", args.shards] if args.shards else [])
    defs = [("redis", ["redis-server", "--port", "{port}", "--save", "", "--appendonly", "no"]),
            ("omnibus", omni)]
    servers = []
    for name, argv in defs:
        port = free_port()
        servers.append(Server(name, [a.replace("{port}", str(port)) for a in argv], port))
    try:
        sha = {}
        for s in servers:
            for body in (RATE_LIMITER, FIVE_KEYS, UNDECLARED):
                sha[body] = s.cmd("SCRIPT", "LOAD", body).decode()
            s.has_functions = not s.cmd("FUNCTION", "LOAD", "REPLACE", LIBRARY).startswith(b"ERR")
        five_tag = ["{t}:__rand_int__"] * 5
        five_spread = ["k:__rand_int__"] * 5
        workloads = [
            ("ratelimit", ["EVALSHA", sha[RATE_LIMITER], "1", "rl:__rand_int__", "100", "60000"]),
            ("5keys-tag", ["EVALSHA", sha[FIVE_KEYS], "5"] + five_tag + ["1"]),
            ("5keys-spread", ["EVALSHA", sha[FIVE_KEYS], "5"] + five_spread + ["1"]),
            ("undeclared", ["EVALSHA", sha[UNDECLARED], "0", "100", "60000", "rl:__rand_int__"]),
            ("fcall", ["FCALL", "ratelimit", "1", "rl:__rand_int__", "100", "60000"]),
        ]
        only = set(args.only.split(",")) if args.only else None
        rows = []
        for title, command in workloads:
            if only and title not in only:
                continue
            if title == "fcall" and not all(s.has_functions for s in servers):
                print("fcall: skipped (FUNCTION LOAD failed on a server)", flush=True)
                continue
            for pipeline in (1, 16):
                n = args.requests * (4 if pipeline > 1 else 1)
                rps = {s.name: [] for s in servers}
                cpu = {s.name: [] for s in servers}
                threads = {}
                for _ in range(args.rounds):
                    for s in servers:
                        t0, c0 = thread_cpu(s.proc.pid), cpu_seconds(s.proc.pid)
                        rps[s.name].append(bench(s.port, command, n, pipeline))
                        t1, c1 = thread_cpu(s.proc.pid), cpu_seconds(s.proc.pid)
                        cpu[s.name].append((c1 - c0) / n * 1e6)
                        if s.name == "omnibus":
                            for k in t1:
                                threads.setdefault(k, []).append((t1[k] - t0.get(k, 0)) / n * 1e6)
                per_thread = ", ".join("%s %.2f" % (k, statistics.median(v))
                                       for k, v in sorted(threads.items())
                                       if statistics.median(v) >= 0.01)
                row = ("%s, -P%d" % (title, pipeline), statistics.median(rps["omnibus"]),
                       statistics.median(rps["redis"]), statistics.median(cpu["omnibus"]),
                       statistics.median(cpu["redis"]), per_thread)
                rows.append(row)
                print("%-20s omnibus %9.0f rps  redis %9.0f rps  ratio %.2f  cpu/req %.2f vs "
                      "%.2f us  [%s]" % (row[0], row[1], row[2], row[1] / row[2], row[3], row[4],
                                         row[5]), flush=True)
    finally:
        for s in servers:
            s.stop()
    cmdline = " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:])
    print()
    print("`%s`" % cmdline)
    print()
    print("| workload | Omnibus rps | redis rps | ratio | CPU µs/req Omnibus | redis | "
          "Omnibus per thread (µs/req) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print("| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %s |" % (r[0], r[1], r[2], r[1] / r[2],
                                                               r[3], r[4], r[5]))


if __name__ == "__main__":
    main()
