#!/usr/bin/python3
"""Smoke test of omnibus-load against omnibus-server (ctest: omnibus_load_smoke).

Checks what the benchmark drivers rely on: the JSON last line, request counts, prefill (every
GET then hits), SET:GET ratio, errors counted by first word, and the open-loop mode's rate.

Run: bench/load/load_smoke.py --omnibus build/omnibus-server --load build/bench/omnibus-load
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Server, free_port  # noqa: E402


def run(args, port, *extra, ok=True):
    out = subprocess.run([args.load, "--port", str(port)] + list(extra), capture_output=True,
                         text=True, timeout=120)
    if ok and out.returncode != 0:
        raise AssertionError("omnibus-load %s failed: %s %s" % (extra, out.stdout, out.stderr))
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def check(cond, what, result):
    if not cond:
        raise AssertionError("%s: %s" % (what, json.dumps(result)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnibus", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--shards", default="2")
    args = ap.parse_args()
    port = free_port()
    server = Server("omnibus", [args.omnibus, "--port", str(port), "--shards", args.shards], port)
    try:
        # Prefill, then zipfian GETs over the same keys, several threads: every GET hits.
        r = run(args, port, "--keys", "2000", "--prefill", "--dist", "zipf", "--requests", "20000",
                "--connections", "8", "--pipeline", "4", "--threads", "2", "--value-size", "100")
        check(r["requests"] == 20000 and r["gets"] == 20000 and r["hits"] == 20000,
              "prefilled GETs all hit", r)
        check(r["errors"] == {} and r["unanswered"] == 0, "no errors", r)
        check(r["bytes_in"] >= 20000 * 100, "values of 100 bytes came back", r)
        check(0 < r["p50_us"] <= r["p99_us"] <= r["p999_us"] <= r["max_us"], "percentiles", r)
        # A 1:1 ratio on a fresh key space sends both kinds.
        r = run(args, port, "--keys", "100", "--key-prefix", "mix:", "--ratio", "1:1",
                "--requests", "4000", "--connections", "4")
        check(r["gets"] + r["sets"] == 4000 and 1500 < r["sets"] < 2500, "ratio 1:1", r)
        # Errors by first word (a GET of a list).
        server.cmd("RPUSH", "alist", "x")
        r = run(args, port, "--hot-key", "alist", "--requests", "500", "--connections", "2",
                ok=False)
        check(r["errors"] == {"WRONGTYPE": 500}, "WRONGTYPE counted", r)
        # Open loop: about the asked rate, for the asked time.
        r = run(args, port, "--hot-key", "hot", "--prefill", "--rate", "2000", "--seconds", "1",
                "--connections", "4")
        check(r["mode"] == "open" and 1000 < r["requests"] < 3000, "open loop at 2000/s", r)
        print("omnibus-load smoke: ok")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
