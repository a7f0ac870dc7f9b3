#!/usr/bin/python3
"""INFO as exporters and dashboards read it, through Debian's python3-redis (issue 13).

redis-py's own test session reads info()["cluster_enabled"] before anything else; exporters
and dashboards read instantaneous_ops_per_sec, the persistence and replication fields and
every keyspace line. Starts omnibus-server on a free port and reads them as they do.
"""
import argparse
import os
import signal
import subprocess
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client_test_util import check, free_port, wait_ready  # noqa: E402

# Fields a Prometheus exporter (redis_exporter's default set) or redis-py's conftest reads,
# by section, with the type redis-py parses them to.
EXPECTED = {
    "server": {"redis_version": str, "redis_mode": str, "os": str, "arch_bits": int,
               "process_id": int, "process_supervised": str, "run_id": str, "tcp_port": int,
               "uptime_in_seconds": int, "hz": int, "configured_hz": int, "lru_clock": int,
               "executable": str, "config_file": str, "io_threads_active": int},
    "clients": {"connected_clients": int, "maxclients": int, "blocked_clients": int,
                "client_recent_max_input_buffer": int, "client_recent_max_output_buffer": int,
                "tracking_clients": int},
    "persistence": {"loading": int, "rdb_bgsave_in_progress": int,
                    "rdb_last_save_time": int, "rdb_last_bgsave_status": str,
                    "aof_enabled": int, "aof_rewrite_in_progress": int,
                    "aof_last_bgrewrite_status": str, "aof_last_write_status": str},
    "stats": {"total_connections_received": int, "total_commands_processed": int,
              "instantaneous_ops_per_sec": int, "instantaneous_input_kbps": float,
              "instantaneous_output_kbps": float, "total_net_input_bytes": int,
              "total_net_output_bytes": int, "rejected_connections": int, "expired_keys": int,
              "evicted_keys": int, "pubsub_channels": int, "pubsub_patterns": int,
              "total_error_replies": int, "total_reads_processed": int,
              "total_writes_processed": int, "latest_fork_usec": int},
    "replication": {"role": str, "connected_slaves": int, "master_replid": str,
                    "master_repl_offset": int, "repl_backlog_active": int,
                    "repl_backlog_size": int},
    "cpu": {"used_cpu_sys": float, "used_cpu_user": float},
    "cluster": {"cluster_enabled": int},
}


def run(r, port):
    # redis-py's conftest: the first thing its test session asks.
    check(r.info()["cluster_enabled"] == 0, "cluster_enabled in INFO (default)")
    for section, fields in EXPECTED.items():
        info = r.info(section)
        for name, typ in fields.items():
            check(name in info, "INFO %s has %s" % (section, name))
            check(isinstance(info[name], typ),
                  "INFO %s %s is %s (got %r)" % (section, name, typ.__name__, info[name]))
    server = r.info("server")
    check(server["tcp_port"] == port, "tcp_port")
    check(os.path.isabs(server["executable"]), "executable is a path: %r" % server["executable"])
    persistence = r.info("persistence")
    check(persistence["aof_enabled"] == 0 and persistence["loading"] == 0, "no persistence")
    check(persistence["rdb_last_bgsave_status"] == "ok", "no failed save")
    check(r.info("replication")["role"] == "master", "role")
    check(len(r.info("replication")["master_replid"]) == 40, "master_replid")
    # Keyspace lines parse as redis-py parses them (a dict per db).
    r.set("k1", "v")
    r.set("k2", "v", ex=100)
    ks = r.info("keyspace")
    check(ks.get("db0", {}).get("keys") == 2 and ks["db0"]["expires"] == 1, "keyspace: %r" % ks)
    # instantaneous_ops_per_sec comes from real samples: busy, then idle again.
    end = time.monotonic() + 1.0
    with r.pipeline(transaction=False) as p:
        while time.monotonic() < end:
            for _ in range(200):
                p.ping()
            p.execute()
    check(r.info("stats")["instantaneous_ops_per_sec"] > 0, "ops/sec while busy")
    deadline = time.monotonic() + 10
    while r.info("stats")["instantaneous_ops_per_sec"] > 5:
        check(time.monotonic() < deadline, "ops/sec falls back when idle")
        time.sleep(0.5)  # polling an asynchronous effect with a deadline (2 INFO/s)
    conn = r.connection_pool.get_connection("INFO")
    try:
        conn.send_command("INFO", "everything")
        text = conn.read_response()  # the raw text: the client's parse drops the headers
    finally:
        r.connection_pool.release(conn)
    sections = [line for line in text.decode().split("\r\n") if line.startswith("# ")]
    order = ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication",
             "# CPU", "# Modules", "# Commandstats", "# Errorstats", "# Latencystats",
             "# Cluster", "# Keyspace"]
    check(sections == order, "INFO everything sections in Redis 7.0's order: %r" % sections)


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
        run(redis.Redis(host="127.0.0.1", port=port), port)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
    check(rc == 0, "clean exit on SIGTERM, got %s" % rc)
    print("redis-py info: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
