#!/usr/bin/python3
"""PUBLISH fan-out, Omnibus vs Debian's redis-server side by side (issue 11).

N subscribers (raw sockets in this process, drained by a selector thread) SUBSCRIBE to one
channel; redis-benchmark publishes M messages of 1 KB to it (one client, -P1). Reports the
publisher's throughput, messages delivered per second, the server's CPU per delivered message
(utime+stime from /proc/PID/stat over the run) and RSS per idle subscriber.

Run: bench/load/pubsub_bench.py --omnibus build/release/omnibus-server [--shards 2]
"""
import argparse
import os
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Server, cpu_seconds, free_port, rss_bytes  # noqa: E402


def run(server, subscribers, messages):
    socks = []
    base = rss_bytes(server.proc.pid)
    for _ in range(subscribers):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"SUBSCRIBE ch\r\n")
        socks.append(s)
    for s in socks:
        got = b""
        while not got.endswith(b":1\r\n"):
            got += s.recv(100)
    per_sub = (rss_bytes(server.proc.pid) - base) / subscribers
    for s in socks:
        s.setblocking(False)
    total = [0]
    expected = subscribers * messages * (1024 + 33)
    done = threading.Event()

    def drain():
        sel = selectors.DefaultSelector()
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        while total[0] < expected and not done.is_set():
            for key, _ in sel.select(timeout=0.5):
                try:
                    data = key.fileobj.recv(1 << 20)
                except BlockingIOError:
                    continue
                total[0] += len(data)
        sel.close()

    t = threading.Thread(target=drain)
    t.start()
    c0 = cpu_seconds(server.proc.pid)
    start = time.monotonic()
    subprocess.run(["redis-benchmark", "-p", str(server.port), "-n", str(messages), "-c", "1",
                    "-P", "1", "-q", "publish", "ch", "x" * 1024], capture_output=True, check=True)
    t.join(timeout=120)
    done.set()
    elapsed = time.monotonic() - start
    cpu = cpu_seconds(server.proc.pid) - c0
    for s in socks:
        s.close()
    delivered = total[0] / (1024 + 33)
    return messages / elapsed, delivered / elapsed, cpu / max(delivered, 1) * 1e6, per_sub


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnibus", required=True)
    ap.add_argument("--shards", default="")
    args = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    omni = [args.omnibus, "--port", "{port}", "--maxclients", "20000"] + (
        ["--shards", args.shards] if args.shards else [])
    defs = [("redis", ["redis-server", "--port", "{port}", "--save", "", "--appendonly", "no",
                       "--maxclients", "20000"]), ("omnibus", omni)]
    print("| subscribers x messages | server | publishes/s | delivered/s | CPU µs/delivered | RSS/subscriber |")
    print("|---|---|---:|---:|---:|---:|")
    for subscribers, messages in ((1, 50000), (100, 3000), (10000, 40)):
        for name, argv in defs:
            port = free_port()
            server = Server(name, [a.replace("{port}", str(port)) for a in argv], port)
            try:
                pub, dlv, cpu, per_sub = run(server, subscribers, messages)
            finally:
                server.stop()
            print("| %d x %d | %s | %.0f | %.0f | %.2f | %.0f B |" % (
                subscribers, messages, name, pub, dlv, cpu, per_sub), flush=True)


if __name__ == "__main__":
    main()
