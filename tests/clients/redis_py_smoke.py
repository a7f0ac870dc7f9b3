#!/usr/bin/python3
"""Smoke test with Debian's python3-redis: a real client library, used the way apps use it.

Starts omnibus-server on a free port, runs common redis-py calls (connection handshake,
pipelines, expiry, scan_iter, RESP errors surfacing as exceptions) and checks the results.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time

import redis


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, deadline_s=10.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("server exited early with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)  # polling for readiness with a deadline, not synchronization
    raise RuntimeError("server did not start listening")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def run(r):
    check(r.ping() is True, "ping")
    check(r.set("greeting", "hello") is True, "set")
    check(r.get("greeting") == b"hello", "get")
    check(r.set("greeting", "x", nx=True) is None, "set nx on existing key")
    check(r.incr("counter") == 1 and r.incrby("counter", 41) == 42, "incr")
    check(abs(r.incrbyfloat("f", 1.5) - 1.5) < 1e-9, "incrbyfloat")
    r.mset({"{u}a": "1", "{u}b": "2", "c": "3", "d": "4"})
    check(r.mget(["{u}a", "{u}b", "c", "d", "missing"]) == [b"1", b"2", b"3", b"4", None], "mget")
    check(r.delete("c", "d", "missing") == 2, "delete")
    r.set("ttl", "v", ex=100)
    check(95 <= r.ttl("ttl") <= 100, "ttl")
    check(r.persist("ttl") and r.ttl("ttl") == -1, "persist")
    with r.pipeline(transaction=False) as p:
        for i in range(1000):
            p.set("k%d" % i, i)
        for i in range(1000):
            p.get("k%d" % i)
        out = p.execute()
    check(out[:1000] == [True] * 1000, "pipeline sets")
    check(out[1000:] == [str(i).encode() for i in range(1000)], "pipeline gets")
    keys = set(r.scan_iter(match="k*", count=100))
    check(keys == {("k%d" % i).encode() for i in range(1000)}, "scan_iter")
    check(r.dbsize() == 1000 + 6, "dbsize %s" % r.dbsize())
    try:
        r.execute_command("NOSUCHCOMMAND", "a")
        check(False, "unknown command should raise")
    except redis.ResponseError as e:
        check("unknown command" in str(e), "unknown command error text: %s" % e)
    try:
        r.incr("greeting")
        check(False, "incr on a string should raise")
    except redis.ResponseError as e:
        check("not an integer" in str(e), "incr error text")
    info = r.info()
    check(info["redis_version"] == "7.0.15" and "connected_clients" in info, "info")
    check(r.config_get("maxclients") == {"maxclients": "10000"}, "config get")
    r.client_setname("smoke")
    check(r.client_getname() == "smoke", "client name")
    check(r.flushall() is True and r.dbsize() == 0, "flushall")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnibus", required=True)
    ap.add_argument("--shards", default="2")
    args = ap.parse_args()
    port = free_port()
    proc = subprocess.Popen([args.omnibus, "--port", str(port), "--shards", args.shards],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(port, proc)
        run(redis.Redis(host="127.0.0.1", port=port))
        run(redis.Redis(host="127.0.0.1", port=port, decode_responses=False))
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
    check(rc == 0, "clean exit on SIGTERM, got %s" % rc)
    print("redis-py smoke: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
