#!/usr/bin/python3
"""Overload control (issue 12) through a real client library, Debian's python3-redis.

A script holds the only shard for 300 ms; commands queued behind it past queue-shed-ms are
shed. redis-py must surface the shed reply as an ordinary ResponseError (in a pipeline with
raise_on_error=False, each in its own slot; on a plain call, raised), the shed writes must
not be applied, and the connection must stay usable.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_test_util import check, free_port, wait_ready  # noqa: E402

SHED_PREFIX = "BUSY server overloaded, request shed after "
SPIN = ("local t0 = redis.call('TIME') repeat local t = redis.call('TIME') until "
        "(t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 300000 return 1")




def encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def start_spin(port, r):
    """Queues the spinning script on the shard; returns its socket (read its reply later).
    The PING's reply comes from the reactor after it dispatched the script."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(encode("EVAL", SPIN, "0"))
    check(r.ping() is True, "PING")
    return s


def finish_spin(s):
    s.settimeout(10)
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = s.recv(64)
        check(chunk, "spin connection closed")
        data += chunk
    check(data == b":1\r\n", "spin reply %r" % data)
    s.close()


def run(port):
    r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    spin = start_spin(port, r)
    p = r.pipeline(transaction=False)
    for i in range(30):
        p.set("k%d" % i, "v")
    results = p.execute(raise_on_error=False)
    finish_spin(spin)
    shed = 0
    for i, res in enumerate(results):
        if isinstance(res, redis.exceptions.ResponseError):
            check(str(res).startswith(SHED_PREFIX) and " ms in queue, retry in " in str(res),
                  "shed text: %s" % res)
            check(type(res) is redis.exceptions.ResponseError, "an ordinary ResponseError")
            check(r.exists("k%d" % i) == 0, "shed write k%d was applied" % i)
            shed += 1
        else:
            check(res is True, "SET reply %r" % (res,))
            check(r.get("k%d" % i) == "v", "k%d" % i)
    check(shed > 0, "nothing was shed")

    # A plain call raises it.
    spin = start_spin(port, r)
    try:
        r.set("plain", "v")
        raised = None
    except redis.exceptions.ResponseError as e:
        raised = e
    finish_spin(spin)
    check(raised is not None and str(raised).startswith(SHED_PREFIX), "plain SET: %r" % raised)
    check(r.exists("plain") == 0, "shed plain SET was applied")
    # The connection is fine afterwards.
    check(r.set("after", "1") is True and r.get("after") == "1", "served after the overload")
    info = r.info("overload")
    check(info["shed_total"] == shed + 1, "INFO overload shed_total %r" % info["shed_total"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnibus", required=True)
    args = ap.parse_args()
    port = free_port()
    proc = subprocess.Popen([args.omnibus, "--port", str(port), "--shards", "1",
                             "--queue-shed-ms", "20"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(port, proc)
        run(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
    check(rc == 0, "clean exit on SIGTERM, got %s" % rc)
    print("redis-py overload: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
