#!/usr/bin/python3
"""The cache-aside example of docs/leases.md, run with Debian's python3-redis.

Takes the ```python block from docs/leases.md (so the documented code is the tested code),
starts omnibus-server, and checks what the doc promises: however many threads miss a key at
once, compute() runs once and every thread gets its result; an invalidated key is served stale
while one client recomputes it; a compute() that fails releases the lease to the next client;
a winner that dies is replaced once its lease runs out.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_test_util import check, free_port, wait_ready  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(HERE, "..", "..", "docs", "leases.md")




def poll_until(cond, what, deadline_s=10.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.002)  # polling an asynchronous effect with a deadline
    raise AssertionError("timed out waiting for " + what)


def load_example():
    with open(DOC) as f:
        text = f.read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    check(len(blocks) == 1, "docs/leases.md has one python block, found %d" % len(blocks))
    ns = {}
    exec(compile(blocks[0], DOC, "exec"), ns)
    return ns["cached"], ns["invalidate"]


def blocked(r):
    return r.info("clients")["blocked_clients"]


def run_threads(n, target):
    results = [None] * n
    errors = []

    def body(i):
        try:
            results[i] = target(i)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results, errors


def stampede(port, cached, admin):
    """30 threads miss one key: one compute(); it returns once the other 29 wait."""
    n = 30
    calls = []

    def compute():
        calls.append(1)
        poll_until(lambda: blocked(admin) == n - 1, "the other clients to wait")
        return "rendered"

    conns = [redis.Redis(host="127.0.0.1", port=port) for _ in range(n)]
    threads, results, errors = run_threads(n, lambda i: cached(conns[i], "page:/home", compute))
    for t in threads:
        t.join(30)
    check(not errors, "errors: %s" % errors)
    check(len(calls) == 1, "compute ran %d times" % len(calls))
    check(results == [b"rendered"] * n, "results: %s" % results)
    check(admin.get("page:/home") == b"rendered", "stored")
    check(0 < admin.ttl("page:/home") <= 300, "stored with the example's TTL")


def stale_while_recompute(port, cached, invalidate, admin):
    """An invalidated key: one client recomputes, the others are served the old value."""
    admin.set("user:7", "old")
    invalidate(admin, "user:7")
    check(admin.exists("user:7") == 0, "invalidated")
    release = threading.Event()
    started = threading.Event()
    calls = []

    def compute():
        calls.append(1)
        started.set()
        check(release.wait(30), "released")
        return "new"

    winner = redis.Redis(host="127.0.0.1", port=port)
    threads, results, errors = run_threads(1, lambda i: cached(winner, "user:7", compute))
    check(started.wait(30), "the winner computes")
    others = [cached(redis.Redis(host="127.0.0.1", port=port), "user:7", compute) for _ in range(5)]
    check(others == [b"old"] * 5, "stale served while recomputing: %s" % others)
    release.set()
    threads[0].join(30)
    check(not errors and results == [b"new"], "winner: %s %s" % (results, errors))
    check(len(calls) == 1, "compute ran %d times" % len(calls))
    check(cached(admin, "user:7", compute) == b"new" and len(calls) == 1, "hit after the SET")


def failing_compute(port, cached, admin):
    """The winner's compute() raises: its lease is released and a waiter computes instead."""
    first_failing = threading.Event()
    proceed = threading.Event()
    calls = []

    def compute():
        calls.append(1)
        if len(calls) == 1:
            first_failing.set()
            check(proceed.wait(30), "proceed")
            raise RuntimeError("database down")
        return "second try"

    conns = [redis.Redis(host="127.0.0.1", port=port) for _ in range(2)]
    t1, r1, e1 = run_threads(1, lambda i: cached(conns[0], "report", compute))
    check(first_failing.wait(30), "first winner computes")
    t2, r2, e2 = run_threads(1, lambda i: cached(conns[1], "report", compute))
    poll_until(lambda: blocked(admin) == 1, "the second client to wait")
    proceed.set()
    t1[0].join(30)
    t2[0].join(30)
    check(len(e1) == 1 and "database down" in str(e1[0]), "first raised: %s" % e1)
    check(not e2 and r2 == [b"second try"], "second computed: %s %s" % (r2, e2))
    check(len(calls) == 2, "compute ran %d times" % len(calls))


def dead_winner(port, cached, admin):
    """A winner that never stores (it died): the next client computes after its lease."""
    status, _, token, _ = admin.execute_command("LEASE.GET", "orphan", 300)
    check(status == b"win" and token > 0, "took a lease and walked away")
    start = time.monotonic()
    r = redis.Redis(host="127.0.0.1", port=port)
    check(cached(r, "orphan", lambda: "recomputed") == b"recomputed", "took over")
    check(time.monotonic() - start >= 0.25, "only after the dead winner's lease ran out")
    check(admin.execute_command("LEASE.SET", "orphan", token, "late") == 0, "old token refused")
    check(admin.get("orphan") == b"recomputed", "value kept")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnibus", required=True)
    ap.add_argument("--shards", default="2")
    args = ap.parse_args()
    cached, invalidate = load_example()
    port = free_port()
    proc = subprocess.Popen([args.omnibus, "--port", str(port), "--shards", args.shards],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(port, proc)
        admin = redis.Redis(host="127.0.0.1", port=port)
        stampede(port, cached, admin)
        stale_while_recompute(port, cached, invalidate, admin)
        failing_compute(port, cached, admin)
        dead_winner(port, cached, admin)
        check(blocked(admin) == 0, "nobody left waiting")
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
    check(rc == 0, "clean exit on SIGTERM, got %s" % rc)
    print("lease cache-aside (redis-py): 4 scenarios passed")


if __name__ == "__main__":
    main()
