#!/usr/bin/python3
"""Smoke test of bench/load/thread_bench.py (ctest: thread_bench_smoke).

Runs it small (--quick, fewer requests) against omnibus-server with two shards, a backend
the server refuses, and redis-server, then checks what the report is built from: the reactor
and both shard threads found and charged, the process figure covering them, system calls
counted (at least a read and a reply per request at -P1), the refused backend reported as not
available, and the Markdown section replacing its old version in a file without touching the
sections around it. The CPU figures themselves are not judged: ctest runs tests side by side.

Run: bench/load/thread_bench_smoke.py --omnibus build/omnibus-server
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import thread_bench  # noqa: E402


def check(cond, what, detail=""):
    if not cond:
        raise AssertionError("%s %s" % (what, detail))


def check_replace_section():
    new = thread_bench.SECTION + "\n\nnew body\n"
    before = "# Title\n\ntable\n\n" + thread_bench.NOTES_MARKER + "\n## A\n\na\n"
    # Absent: added at the end, below the notes marker (bench.py keeps what follows it).
    once = thread_bench.replace_section(before, new)
    check(once == before + "\n" + new, "section added at the end", repr(once))
    # Present between two sections: only its body changes.
    middle = once + "\n## B\n\nb\n"
    twice = thread_bench.replace_section(middle, thread_bench.SECTION + "\n\nnewer\n")
    check(twice == before + "\n" + thread_bench.SECTION + "\n\nnewer\n\n## B\n\nb\n",
          "section replaced in place", repr(twice))
    # No notes marker yet: one is added before the section.
    bare = thread_bench.replace_section("# Title\n", new)
    check(bare == "# Title\n\n" + thread_bench.NOTES_MARKER + "\n\n" + new, "marker added",
          repr(bare))
    check(thread_bench.replace_section("", new) == new, "empty file")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnibus", required=True)
    args = ap.parse_args()
    check_replace_section()

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "benchmarks.md")
        with open(out, "w") as f:
            f.write("# Bench\n\n" + thread_bench.NOTES_MARKER + "\n## Other\n\nkept\n")
        cells = thread_bench.main([
            "--omnibus", args.omnibus, "--backends", "epoll,no-such-backend", "--shards", "2",
            "--quick", "--requests", "10000", "--keyspace", "1000", "--out", out])
        with open(out) as f:
            text = f.read()

    check(text.startswith("# Bench\n\n" + thread_bench.NOTES_MARKER + "\n## Other\n\nkept\n"),
          "other sections untouched", text[:200])
    check(thread_bench.SECTION in text and "| omnibus epoll | GET | 1 |" in text and
          "| redis-server | GET | 16 |" in text, "table written", text)
    check("omnibus no-such-backend: not available" in text, "refused backend reported", text)

    for pipeline in (1, 16):
        o = cells[("omnibus epoll", "get", pipeline)]
        r = cells[("redis-server", "get", pipeline)]
        n = 10000 * (4 if pipeline > 1 else 1)
        tick_us = 1e6 / thread_bench.CLK_TCK / n  # one clock tick per request
        check(o["rps"] > 0 and r["rps"] > 0, "throughput", (o, r))
        check(len(o["shard_us"]) == 2, "two shard threads found", o)
        check(o["reactor_us"] > 0 and r["reactor_us"] > 0, "reactor CPU charged", (o, r))
        check(r["shard_us"] == [], "redis-server has no shard threads", r)
        parts = o["reactor_us"] + sum(o["shard_us"]) + o["other_us"]
        # Threads and process are truncated to ticks separately: a few ticks either way.
        check(abs(o["process_us"] - parts) <= 4 * tick_us, "process = sum of its threads",
              (o["process_us"], parts))
        check(o["ctx"] >= o["reactor_ctx"] >= 0, "context switches", o)
        for c in (o, r):
            sc = c.get("syscalls")
            if sc is None:
                print("no syscall tool here: syscall counts not checked")
                continue
            if pipeline == 1:
                # Every request is read and answered on its own at -P1.
                check(sc["total"] >= 1.9, "a read and a write per request at -P1", sc)
            else:
                check(0 < sc["total"] < 1, "fewer calls than requests at -P16", sc)
            check(len(sc["top"]) == 3 and sc["top"][0][1] >= sc["top"][2][1], "top 3", sc)
    print("thread_bench smoke: ok")


if __name__ == "__main__":
    main()
