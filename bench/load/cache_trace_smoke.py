#!/usr/bin/python3
"""Keeps omnibus-cache-trace honest (ctest: cache_trace_smoke). Needs redis-server; ~5 s.

- Without maxmemory nothing is evicted, so the replay's hits must equal the infinite-cache hits
  exactly (each key misses once, the first time): this checks the pipelined replay counts like
  a one-at-a-time replay, including GETs overtaken by an earlier miss of the same key (which
  must have happened: the trace repeats hot keys within one window). Against redis-server and,
  given --omnibus, against Omnibus.
- A file trace with known answers.
- With maxmemory and allkeys-lru: a loop larger than the cache hits (almost) never, a zipfian
  trace hits less than an infinite cache but plausibly often, keys are evicted, and
  hits + misses = requests.
- The same seed gives the same trace; a trace dumped to a file replays the same from it.

Run: bench/load/cache_trace_smoke.py --trace-bin build/bench/omnibus-cache-trace
     [--omnibus build/omnibus-server]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Server, free_port  # noqa: E402


def replay(args, port, *extra):
    out = subprocess.run([args.trace_bin, "--port", str(port)] + [str(e) for e in extra],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("omnibus-cache-trace %s failed: %s %s" % (extra, out.stdout,
                                                                       out.stderr))
    return json.loads(out.stdout.strip().splitlines()[-1])


def check(cond, what, result):
    if not cond:
        raise AssertionError("%s: %s" % (what, json.dumps(result)))
    print("ok:", what)


def check_totals(r):
    check(r["hits"] + r["misses"] == r["counted_requests"] and r["errors"] == 0
          and r["set_errors"] == 0, "hits + misses = requests, no errors", r)
    check(r["warmup_hits"] + r["warmup_misses"] + r["counted_requests"] == r["requests"],
          "warm-up and counted requests add up", r)
    tenths = r["hit_ratio_by_tenth"]
    if r["requests"] % 10 == 0 and r["warmup"] == 0.5:
        check(len(tenths) == 10 and abs(sum(tenths[5:]) / 5 - r["hit_ratio"]) < 1e-3,
              "the second half's tenths average to the hit ratio", r)


def exact_without_eviction(args, port, name):
    r = replay(args, port, "--flushall", "--trace", "zipf", "--zipf-s", "1.0", "--keys", "20000",
               "--requests", "100000", "--window", "64", "--value-size", "100")
    check_totals(r)
    check(r["hits"] == round(r["infinite_cache_hit_ratio"] * r["counted_requests"]),
          "%s without eviction: hits are exactly the infinite cache's" % name, r)
    check(r["misses"] + r["warmup_misses"] == r["distinct_keys"],
          "%s: exactly one miss per key" % name, r)
    check(r["sets"] == r["misses"] + r["warmup_misses"], "%s: one SET per miss" % name, r)
    check(r["resent"] > 0, "%s: overtaken GETs happened and were sent again" % name, r)
    check(r["evicted_keys"] in (0, None), "%s: nothing evicted" % name, r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trace-bin", required=True)
    ap.add_argument("--omnibus")
    ap.add_argument("--redis-server", default="redis-server")
    args = ap.parse_args()

    port = free_port()
    redis = Server("redis-server", [args.redis_server, "--port", str(port), "--save", "",
                                    "--appendonly", "no"], port)
    try:
        exact_without_eviction(args, port, "redis-server")
        # Infinite-cache ratio of the same zipf trace, same seed: identical; another seed: not.
        a = replay(args, port, "--flushall", "--keys", "5000", "--requests", "20000")
        b = replay(args, port, "--flushall", "--keys", "5000", "--requests", "20000")
        c = replay(args, port, "--flushall", "--keys", "5000", "--requests", "20000", "--seed", 2)
        check(a["hits"] == b["hits"] and a["infinite_cache_hit_ratio"] ==
              b["infinite_cache_hit_ratio"], "same seed, same trace", [a, b])
        check(a["infinite_cache_hit_ratio"] != c["infinite_cache_hit_ratio"],
              "another seed, another trace", [a, c])

        # The same trace dumped to a file and replayed from it: the same counts.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "zipf.trace")
            out = subprocess.run([args.trace_bin, "--keys", "5000", "--requests", "20000",
                                  "--dump-trace", path], capture_output=True, text=True,
                                 timeout=60, check=True)
            with open(path) as f:
                lines = f.read().splitlines()
            check(len(lines) == 20000 and lines[0].startswith("ct:"), "trace dumped",
                  out.stdout)
            d = replay(args, port, "--flushall", "--file", path)
        check((d["hits"], d["misses"], d["distinct_keys"]) ==
              (a["hits"], a["misses"], a["distinct_keys"]), "dumped trace replays the same",
              [a, d])

        with tempfile.NamedTemporaryFile("w", suffix=".trace", delete=False) as f:
            f.write("a\nb\na\r\nc\n\na\nb\n")
            path = f.name
        try:
            r = replay(args, port, "--flushall", "--file", path, "--warmup", "0", "--window", "4")
        finally:
            os.unlink(path)
        check(r["requests"] == 6 and r["distinct_keys"] == 3 and r["hits"] == 3 and
              r["misses"] == 3 and r["sets"] == 3, "file trace a b a c a b: 3 hits", r)

        # A cache of about 2,000 of the 20,000 keys (100 B values: ~180 B a key in Redis).
        redis.cmd("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        base = replay(args, port, "--flushall", "--trace", "loop", "--loop-len", "1",
                      "--requests", "1")["used_memory"]
        redis.cmd("CONFIG", "SET", "maxmemory", str(base + 400_000))
        r = replay(args, port, "--flushall", "--trace", "loop", "--loop-len", "20000",
                   "--requests", "100000", "--value-size", "100")
        check_totals(r)
        check(r["infinite_cache_hit_ratio"] == 1.0 and r["hit_ratio"] < 0.02,
              "LRU on a loop larger than the cache: (almost) no hits", r)
        check(r["evicted_keys"] > 50000, "the loop evicts", r)
        check(r["maxmemory_policy"] == "allkeys-lru" and r["maxmemory"] == base + 400_000,
              "INFO's maxmemory and policy reported", r)
        r = replay(args, port, "--flushall", "--trace", "zipf", "--zipf-s", "1.0", "--keys",
                   "20000", "--requests", "100000", "--value-size", "100")
        check_totals(r)
        check(0.3 < r["hit_ratio"] < r["infinite_cache_hit_ratio"] - 0.05,
              "LRU on zipf 1.0 with a 10% cache: plausible, below the infinite cache", r)
        check(r["evicted_keys"] > 0 and r["used_memory"] <= base + 400_000 + 100_000,
              "zipf evicts and used_memory stays near maxmemory", r)
        r = replay(args, port, "--flushall", "--trace", "scan", "--keys", "20000", "--requests",
                   "100000", "--scan-fraction", "0.3", "--scan-len", "3000", "--value-size", "100")
        check_totals(r)
        # 10 periods of 7,000 zipf requests and 3,000 scan keys: 30% of requests never repeat.
        check(30000 < r["distinct_keys"] < 50000 and r["infinite_cache_hit_ratio"] <= 0.7,
              "scan keys are never repeated", r)
        check(0.1 < r["hit_ratio"] < r["infinite_cache_hit_ratio"], "scan-mixed: plausible", r)
    finally:
        redis.stop()

    if args.omnibus:
        port = free_port()
        omnibus = Server("omnibus", [args.omnibus, "--port", str(port), "--shards", "2"], port)
        try:
            exact_without_eviction(args, port, "omnibus")
        finally:
            omnibus.stop()
    print("cache_trace_smoke: all checks passed")


if __name__ == "__main__":
    main()
