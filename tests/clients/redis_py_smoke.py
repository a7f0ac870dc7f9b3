#!/usr/bin/python3
"""Smoke test with Debian's python3-redis: a real client library, used the way apps use it.

Starts omnibus-server on a free port, runs common redis-py calls (connection handshake,
pipelines, expiry, scan_iter, RESP errors surfacing as exceptions) and checks the results.
"""
import argparse
import os
import signal
import subprocess
import sys

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_test_util import check, free_port, wait_ready  # noqa: E402




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
    # SLOWLOG entries carry a 7th field (the queue wait, ours): redis-py reads the first six.
    r.config_set("slowlog-log-slower-than", 0)
    r.slowlog_reset()
    r.set("slow", "1")
    entries = r.slowlog_get(1)
    check(len(entries) == 1 and entries[0]["command"] == b"SET slow 1", "slowlog_get %s" % entries)
    check(entries[0]["duration"] >= 0 and entries[0]["start_time"] > 0, "slowlog_get fields")
    check(r.slowlog_len() == 3, "slowlog_len %s" % r.slowlog_len())  # RESET, SET, SLOWLOG GET
    r.config_set("slowlog-log-slower-than", 10000)
    run_types(r)
    check(r.flushall() is True and r.dbsize() == 0, "flushall")


def run_types(r):
    """Hashes, lists, sets and sorted sets as a job queue library uses them."""
    check(r.hset("job:1", mapping={"state": "queued", "tries": "0"}) == 2, "hset mapping")
    check(r.hgetall("job:1") == {b"state": b"queued", b"tries": b"0"}, "hgetall")
    check(r.hincrby("job:1", "tries", 1) == 1, "hincrby")
    check(r.hmget("job:1", ["state", "nope"]) == [b"queued", None], "hmget")
    check(r.rpush("queue", "job:1", "job:2", "job:3") == 3, "rpush")
    check(r.lmove("queue", "{x}working", "LEFT", "RIGHT") == b"job:1", "lmove across shards")
    check(r.lrange("queue", 0, -1) == [b"job:2", b"job:3"], "lrange")
    check(r.lpop("queue", 5) == [b"job:2", b"job:3"] and r.exists("queue") == 0, "lpop count")
    check(r.sadd("tags", "a", "b", "c") == 3 and r.sadd("{y}tags", "b", "c", "d") == 3, "sadd")
    check(r.sinter("tags", "{y}tags") == {b"b", b"c"}, "sinter across shards")
    check(r.smove("tags", "{y}tags", "a") is True and r.scard("{y}tags") == 4, "smove")
    check(r.zadd("sched", {"job:9": 30, "job:8": 10, "job:7": 20}) == 3, "zadd")
    check(r.zrangebyscore("sched", 0, 25, withscores=True) == [(b"job:8", 10.0), (b"job:7", 20.0)],
          "zrangebyscore withscores")
    check(r.zpopmin("sched") == [(b"job:8", 10.0)], "zpopmin")
    check(r.zunionstore("{y}all", {"sched": 1, "{y}tags": 2}) == 6, "zunionstore with a set input")
    check(r.zscore("{y}all", "b") == 2.0, "zscore of a set member, weighted")
    check(set(r.hscan_iter("job:1")) == {(b"state", b"queued"), (b"tries", b"1")}, "hscan_iter")
    check(r.type("sched") == b"zset" and r.object("encoding", "sched") == b"listpack", "type, object")
    check(r.sort("{x}working", alpha=True) == [b"job:1"], "sort")
    try:
        r.lpush("job:1", "x")
        check(False, "lpush on a hash should raise")
    except redis.ResponseError as e:
        check(str(e).startswith("WRONGTYPE"), "wrongtype text: %s" % e)


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
