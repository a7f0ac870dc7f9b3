#!/usr/bin/python3
"""Hot keys, Omnibus vs Debian's redis-server side by side (issue 11, part 9).

Workloads, each driven by omnibus-load (bench/load/omnibus_load.cc), closed loop:
  - one hot 100 KB key read (GET) by 50 and by 500 clients;
  - zipfian (s = 0.99) GET over --keys keys (1M by default) with 1 KB values.
Every key is SET first (--prefill, not measured). Each Omnibus run happens twice on the same
server, after `CONFIG SET singleflight yes` and `no`; if the parameter is unknown the server
runs once as it is. Reports throughput, p99 latency and the server's CPU time per request
(utime+stime from /proc/PID/stat over the run, divided by requests), with ratios to
redis-server's.

Run: bench/load/hotkey_bench.py --omnibus build/release/omnibus-server [--shards 2]
     [--load build/release/bench/omnibus-load] [--seconds 10] [--keys 1000000] [--quick]
"""
import argparse
import json
import os
import resource
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Server, cpu_seconds, encode, free_port  # noqa: E402


def config_set(server, name, value):
    """CONFIG SET; True if the server answered +OK (False: an unknown parameter)."""
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(encode(["CONFIG", "SET", name, value]))
        return s.makefile("rb").readline().startswith(b"+OK")


def load(args, port, extra):
    argv = [args.load, "--port", str(port), "--threads", str(args.threads)] + extra
    out = subprocess.run(argv, capture_output=True, text=True)
    if "--prefill" in extra:
        if out.returncode != 0:
            raise RuntimeError("prefill failed: %s" % out.stderr)
        return None
    lines = out.stdout.strip().splitlines()
    if not lines or not lines[-1].startswith("{"):
        raise RuntimeError("omnibus-load failed (%d): %s %s" % (out.returncode, out.stdout,
                                                                 out.stderr))
    return json.loads(lines[-1])


def measure(args, server, workload):
    c0 = cpu_seconds(server.proc.pid)
    r = load(args, server.port, workload + ["--seconds", str(args.seconds)])
    cpu = cpu_seconds(server.proc.pid) - c0
    r["cpu_us_per_request"] = cpu / max(r["requests"], 1) * 1e6
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnibus", required=True)
    ap.add_argument("--shards", default="")
    ap.add_argument("--load", default="", help="omnibus-load (default: next to --omnibus)")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--keys", type=int, default=1000000, help="keys of the zipfian workload")
    ap.add_argument("--threads", type=int, default=1, help="omnibus-load threads")
    ap.add_argument("--quick", action="store_true", help="2 s runs over 10,000 keys")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.keys = 2, min(args.keys, 10000)
    if not args.load:
        args.load = os.path.join(os.path.dirname(os.path.abspath(args.omnibus)), "bench",
                                 "omnibus-load")
    if not os.path.exists(args.load):
        sys.exit("no omnibus-load at %s (build it with -DOMNIBUS_BUILD_BENCH=ON, or --load)"
                 % args.load)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    hot = ["--hot-key", "hot", "--value-size", "102400", "--ratio", "1:0"]
    workloads = [
        ("hot 100 KB key, 50 clients", hot + ["--connections", "50"]),
        ("hot 100 KB key, 500 clients", hot + ["--connections", "500"]),
        ("zipf 0.99 GET, %d keys of 1 KB, 50 clients" % args.keys,
         ["--keys", str(args.keys), "--dist", "zipf", "--zipf-s", "0.99", "--value-size", "1024",
          "--ratio", "1:0", "--connections", "50"]),
    ]
    omni = [args.omnibus, "--port", "{port}", "--maxclients", "20000"] + (
        ["--shards", args.shards] if args.shards else [])
    redis = ["redis-server", "--port", "{port}", "--save", "", "--appendonly", "no",
             "--maxclients", "20000"]

    print("| workload | server | req/s | p99 µs | CPU µs/req | req/s vs redis | p99 vs redis "
          "| CPU/req vs redis |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    results = []
    for title, workload in workloads:
        rows = []
        for name, argv in (("redis", redis), ("omnibus", omni)):
            port = free_port()
            server = Server(name, [a.replace("{port}", str(port)) for a in argv], port)
            try:
                load(args, port, workload + ["--prefill", "--requests", "0"])
                if name == "redis":
                    rows.append(("redis-server", measure(args, server, workload)))
                    continue
                for sf in ("yes", "no"):
                    if not config_set(server, "singleflight", sf):
                        if sf == "yes":
                            rows.append(("omnibus", measure(args, server, workload)))
                        break
                    rows.append(("omnibus singleflight " + sf, measure(args, server, workload)))
            finally:
                server.stop()
        base = rows[0][1]
        for label, r in rows:
            print("| %s | %s | %.0f | %.0f | %.2f | %.2f× | %.2f× | %.2f× |" % (
                title, label, r["throughput"], r["p99_us"], r["cpu_us_per_request"],
                r["throughput"] / max(base["throughput"], 1e-9),
                r["p99_us"] / max(base["p99_us"], 1e-9),
                r["cpu_us_per_request"] / max(base["cpu_us_per_request"], 1e-9)), flush=True)
            if r.get("errors") or r.get("unanswered"):
                print("|  | (errors %s, unanswered %d) |  |  |  |  |  |  |" % (
                    r["errors"], r["unanswered"]), flush=True)
            results.append(dict(r, workload=title, server=label))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
