#!/usr/bin/python3
"""Per-thread cost of a request (issue 14): Omnibus per I/O backend and redis-server.

For each server and workload (redis-benchmark -t get [set], 50 clients, -P1 and -P16, keys
preloaded), in alternating rounds, samples every thread of the server right before and right
after the benchmark:
  - CPU: utime+stime (fields 14, 15 of /proc/PID/task/TID/stat, clock ticks), split into the
    reactor (the main thread, TID == PID), each shard thread (named "shard-N" by
    src/shard/shard.cc) and "other" (lazy free, ...); the whole process from /proc/PID/stat,
    which also counts threads that exited during the run;
  - context switches: voluntary + nonvoluntary from /proc/PID/task/TID/status.
Each figure is divided by the requests of the run; the table shows the median over rounds.
redis-server's main thread fills the reactor column.

System calls are counted in a separate run per cell, because counting slows the server (its
throughput is not reported): `perf stat` on the raw_syscalls:sys_enter tracepoint per thread
(exact counts, not samples) plus one tracepoint per common syscall for the top three, started
as `perf stat -p PID -- redis-benchmark ...` so counting covers exactly the benchmark; or
`strace -c -f -p PID` (attach, run, detach with SIGINT) where perf cannot run.

The reactor ceiling is 1e6 / (reactor µs per request): the requests per second one reactor
thread could feed if it had a core to itself and shards took the rest.

Prints a Markdown section; with --out FILE, replaces (or adds) the section
"## Per-thread cost (issue 14)" in that file and leaves every other section as it was.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import encode, free_port, read_reply, redis_benchmark  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
SECTION = "## Per-thread cost (issue 14)"
NOTES_MARKER = "<!-- notes: kept by bench.py -->"  # bench.py rewrites everything above it
SHARD_COMM = re.compile(r"^shard-(\d+)$")
# Syscalls counted one by one for the "top 3" column (the total is counted separately, so a
# syscall missing here still counts). Those the kernel has no tracepoint for are skipped.
COUNTED_SYSCALLS = [
    "read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg",
    "recvmmsg", "sendmmsg", "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "poll",
    "ppoll", "select", "pselect6", "io_uring_enter", "io_uring_register", "futex",
    "futex_wait", "futex_wake", "sched_yield", "nanosleep", "clock_nanosleep", "accept",
    "accept4", "close", "shutdown", "setsockopt", "getsockopt", "getsockname", "getpeername",
    "fcntl", "ioctl", "mmap", "munmap", "mremap", "madvise", "brk", "openat", "fstat",
    "newfstatat", "getrusage", "clock_gettime", "gettimeofday", "getpid", "gettid", "rt_sigaction",
    "rt_sigprocmask", "timerfd_settime", "eventfd2",
]
TRACEFS = ["/sys/kernel/tracing/events/syscalls", "/sys/kernel/debug/tracing/events/syscalls"]


# ----------------------------------------------------------------------------------------
# /proc sampling


def read_stat_ticks(path):
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[11], fields[12] are utime, stime (fields 14 and 15 of the full line).
    return int(fields[11]) + int(fields[12])


def read_ctxt(path):
    vol = nonvol = 0
    with open(path) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                vol = int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                nonvol = int(line.split()[1])
    return vol, nonvol


def sample(pid):
    """{tid: (comm, cpu ticks, voluntary, nonvoluntary)} plus the process's cpu ticks."""
    threads = {}
    base = "/proc/%d/task" % pid
    for name in os.listdir(base):
        tid = int(name)
        try:
            with open("%s/%d/comm" % (base, tid)) as f:
                comm = f.read().strip()
            ticks = read_stat_ticks("%s/%d/stat" % (base, tid))
            vol, nonvol = read_ctxt("%s/%d/status" % (base, tid))
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread exited between listdir and the reads
        threads[tid] = (comm, ticks, vol, nonvol)
    return threads, read_stat_ticks("/proc/%d/stat" % pid)


def thread_role(pid, tid, comm):
    """'reactor', ('shard', i) or 'other'."""
    if tid == pid:
        return "reactor"
    m = SHARD_COMM.match(comm)
    if m:
        return ("shard", int(m.group(1)))
    return "other"


def per_request(pid, before, after, requests):
    """Turns two samples into per-request figures (µs of CPU, context switches)."""
    (t0, p0), (t1, p1) = before, after
    us = 1e6 / CLK_TCK / requests
    out = {"reactor_us": 0.0, "shard_us": {}, "other_us": 0.0,
           "process_us": (p1 - p0) * us, "ctx": 0.0, "reactor_ctx": 0.0,
           "reactor_vol": 0.0, "reactor_nonvol": 0.0,
           "other_by_name": {}, "exited_threads": sum(1 for tid in t0 if tid not in t1)}
    for tid, (comm, ticks, vol, nonvol) in t1.items():
        _, ticks0, vol0, nonvol0 = t0.get(tid, (comm, 0, 0, 0))  # born during the run
        cpu = (ticks - ticks0) * us
        ctx = (vol - vol0 + nonvol - nonvol0) / requests
        out["ctx"] += ctx
        role = thread_role(pid, tid, comm)
        if role == "reactor":
            out["reactor_us"] = cpu
            out["reactor_ctx"] = ctx
            out["reactor_vol"] = (vol - vol0) / requests
            out["reactor_nonvol"] = (nonvol - nonvol0) / requests
        elif role == "other":
            out["other_us"] += cpu
            # io_uring's kernel workers (iou-wrk-TID, iou-sqp-TID) show up as threads of the
            # process: named, so a backend that moves work there does not hide it.
            name = re.sub(r"[-_]?\d+$", "", comm)
            out["other_by_name"][name] = out["other_by_name"].get(name, 0.0) + cpu
        else:
            out["shard_us"][role[1]] = out["shard_us"].get(role[1], 0.0) + cpu
    return out


# ----------------------------------------------------------------------------------------
# Servers


class Server:
    """One server process on a free port; start() returns None or why it did not start."""

    def __init__(self, label, kind, argv):
        self.label, self.kind, self.argv = label, kind, argv
        self.port = free_port()
        self.proc = None
        self.log = tempfile.TemporaryFile()

    def start(self):
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return None
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > end:
                    self.stop()
                    self.log.seek(0)
                    lines = [l for l in self.log.read().decode(errors="replace").splitlines()
                             if l.strip()]
                    return lines[-1].strip() if lines else "did not start"
                time.sleep(0.05)

    @property
    def pid(self):
        return self.proc.pid

    def cmd(self, *args):
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(encode(args))
            return read_reply(s.makefile("rb"))

    def threads(self):
        t, _ = sample(self.pid)
        return sorted((tid, comm) for tid, (comm, *_rest) in t.items())

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def preload(server, keyspace, size):
    """SETs key:000000000000 .. the keys redis-benchmark -r draws (key:__rand_int__)."""
    value = b"x" * size
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        f = s.makefile("rb")
        batch = 5000
        for start in range(0, keyspace, batch):
            n = min(keyspace, start + batch) - start
            s.sendall(b"".join(encode((b"SET", b"key:%012d" % i, value))
                               for i in range(start, start + n)))
            for _ in range(n):
                reply = read_reply(f)
                if reply != b"OK":
                    raise RuntimeError("preload of %s failed: %r" % (server.label, reply))


def benchmark_argv(port, test, n, clients, pipeline, size, keyspace):
    return ["redis-benchmark", "-p", str(port), "-t", test, "-n", str(n), "-c", str(clients),
            "-P", str(pipeline), "-d", str(size), "-r", str(keyspace), "--csv", "-q"]


# ----------------------------------------------------------------------------------------
# System call counting


def syscall_tracepoints():
    for d in TRACEFS:
        try:
            names = set(os.listdir(d))
        except OSError:
            continue
        return [s for s in COUNTED_SYSCALLS if "sys_enter_" + s in names]
    return None


def perf_usable():
    """True if `perf stat` can count the raw_syscalls tracepoint of another process here."""
    if not shutil.which("perf"):
        return False
    probe = subprocess.Popen(["sleep", "5"])
    try:
        r = subprocess.run(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p",
                            str(probe.pid), "--", "true"], capture_output=True, text=True,
                           timeout=30)
        return r.returncode == 0 and "raw_syscalls:sys_enter" in r.stderr and \
            "<not supported>" not in r.stderr
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        probe.kill()
        probe.wait()


def strace_usable():
    """True if strace can attach to a process that is not its child (ptrace_scope, seccomp)."""
    if not shutil.which("strace"):
        return False
    probe = subprocess.Popen(["sleep", "5"])
    try:
        r = subprocess.run(["timeout", "-s", "INT", "0.5", "strace", "-c", "-p", str(probe.pid)],
                           capture_output=True, text=True, timeout=30)
        return "attached" in r.stderr and "Operation not permitted" not in r.stderr
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        probe.kill()
        probe.wait()


def count_with_perf(server, bench_argv, syscalls):
    """Runs the benchmark under `perf stat -p PID --per-thread`: {tid_label: {event: n}}."""
    events = ["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + s for s in syscalls]
    with tempfile.NamedTemporaryFile("r", suffix=".perf") as out:
        argv = ["perf", "stat", "-x,", "--per-thread", "-o", out.name, "-e", ",".join(events),
                "-p", str(server.pid), "--"] + bench_argv
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        text = out.read()
    per_thread = {}
    for line in text.splitlines():
        parts = line.split(",")
        if len(parts) < 4 or line.startswith("#") or not parts[1].strip().isdigit():
            continue
        thread, count, event = parts[0].strip(), int(parts[1]), parts[3]
        event = "total" if event == "raw_syscalls:sys_enter" else event.split("sys_enter_")[-1]
        per_thread.setdefault(thread, {})[event] = count
    return per_thread


def count_with_strace(server, bench_argv):
    """strace -c -f -p PID: attach (wait for every thread), run, SIGINT, parse the summary."""
    nthreads = len(server.threads())
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        tracer = subprocess.Popen(["strace", "-c", "-f", "-o", out.name, "-p", str(server.pid)],
                                  stderr=subprocess.PIPE, text=True)
        # strace says "Process N attached with M threads" (or one "attached" line per thread)
        # on stderr; a reader thread collects it so the wait below has a deadline.
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(tracer.stderr), daemon=True)
        reader.start()

        def attached():
            n = 0
            for line in list(lines):
                m = re.search(r"attached with (\d+) threads", line)
                n += int(m.group(1)) if m else ("attached" in line)
            return n

        deadline = time.monotonic() + 20
        while attached() < nthreads and tracer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if attached() < nthreads:
            tracer.kill()
            tracer.wait()
            raise RuntimeError("strace attached to %d of %d threads: %s" % (
                attached(), nthreads, "".join(lines)[-300:]))
        subprocess.run(bench_argv, stdout=subprocess.DEVNULL, check=True)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=60)
        reader.join(timeout=10)
        text = out.read()
    counts = {}
    for line in text.splitlines():
        parts = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(parts) >= 5 and re.match(r"^[\d.]+$", parts[0]) and parts[3].isdigit():
            counts[parts[-1]] = int(parts[3])
        elif parts and parts[-1] == "total" and len(parts) >= 4:
            counts["total"] = int(parts[2] if not parts[3].isdigit() else parts[3])
    if "total" not in counts:
        raise RuntimeError("no total in strace's summary: %r" % text[-500:])
    return {"process": counts}


def syscalls_per_request(pid, per_thread, requests, tool):
    """Process total, reactor total and the top three syscalls, per request."""
    total = {}
    reactor = 0
    for thread, counts in per_thread.items():
        for event, n in counts.items():
            total[event] = total.get(event, 0) + n
        # perf names a thread "comm-TID"
        if tool == "perf" and thread.rsplit("-", 1)[-1] == str(pid):
            reactor = counts.get("total", 0)
    top = sorted(((n, e) for e, n in total.items() if e != "total"), reverse=True)[:3]
    return {"tool": tool, "total": total.get("total", 0) / requests,
            "reactor": reactor / requests if tool == "perf" else None,
            "top": [(e, n / requests) for n, e in top]}


# ----------------------------------------------------------------------------------------
# Report


def fmt(x, digits=2):
    return "—" if x is None else "%.*f" % (digits, x)


def ceiling(reactor_us):
    return 1e6 / reactor_us if reactor_us and reactor_us > 0 else None


def fmt_rate(x):
    if x is None:
        return "—"
    return "%.2fM/s" % (x / 1e6) if x >= 1e6 else "%.0fk/s" % (x / 1e3)


def median_cell(runs):
    """Median of each figure over the rounds (shard by shard)."""
    shards = sorted({i for r in runs for i in r["shard_us"]})
    m = lambda key: statistics.median(r[key] for r in runs)
    return {
        "rounds": len(runs), "rps": m("rps"), "reactor_us": m("reactor_us"),
        "shard_us": [statistics.median(r["shard_us"].get(i, 0.0) for r in runs) for i in shards],
        "other_us": m("other_us"), "process_us": m("process_us"), "ctx": m("ctx"),
        "reactor_ctx": m("reactor_ctx"), "reactor_vol": m("reactor_vol"),
        "reactor_nonvol": m("reactor_nonvol"),
        "exited_threads": max(r["exited_threads"] for r in runs),
        "other_by_name": {name: statistics.median(r["other_by_name"].get(name, 0.0)
                                                  for r in runs)
                          for name in sorted({n for r in runs for n in r["other_by_name"]})},
    }


def markdown(args, cmdline, servers, unavailable, cells, machine):
    lines = [SECTION, ""]
    lines.append("Produced by `%s` on %s." % (cmdline, datetime.date.today()))
    lines.append("Machine: %s. **Noisy**: redis-benchmark runs on the same cores as the "
                 "server and other work may be running, so rps and the per-request figures "
                 "move by 10–20%% between runs; compare rows of the same run." % machine)
    lines.append("redis-benchmark `-c %d -r %d -d %d`, %d requests at -P1 and %d at "
                 "-P16, keys preloaded; each figure is the median of %d alternating "
                 "round%s." % (args.clients, args.keyspace, args.size, args.requests,
                               args.requests * args.pipeline_factor, args.rounds,
                               "s" if args.rounds != 1 else ""))
    lines += [
        "CPU µs/req = utime+stime (`/proc/PID/task/TID/stat`) over the run ÷ requests; the "
        "reactor is the main thread (redis-server: its one main thread), shards are the "
        "`shard-N` threads, other = every other thread; process = `/proc/PID/stat`. Context "
        "switches = voluntary + nonvoluntary (`/proc/PID/task/TID/status`), all threads, and "
        "the reactor's alone. Reactor ceiling = 1e6 ÷ reactor µs/req.",
        "System calls/req come from a separate run of each cell, whose throughput is not "
        "used, under %s: the process's total, the reactor's, and the three most frequent." % (
            {"perf": "`perf stat -e raw_syscalls:sys_enter,syscalls:sys_enter_* --per-thread "
                     "-p PID -- redis-benchmark ...` (exact counts)",
             "strace": "`strace -c -f -p PID`",
             "none": "no tool (not measured)"}[args.syscall_tool]),
        "",
    ]
    if unavailable:
        for label, why in unavailable:
            lines.append("- **%s: not available** (the server refused to start: `%s`)." % (
                label, why.replace("`", "'")))
        lines.append("")
    lines += [
        "| server | test | -P | rps | reactor µs/req | shard µs/req (each) | other µs/req | "
        "process µs/req | syscalls/req (reactor) | top syscalls/req | ctx sw/req (reactor) | "
        "reactor ceiling |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for (label, test, pipeline), c in cells.items():
        sc = c.get("syscalls")
        sc_txt = "—" if not sc else "%.2f (%s)" % (sc["total"], fmt(sc["reactor"]))
        top = "—" if not sc else ", ".join("%s %.2f" % (e, n) for e, n in sc["top"])
        shard = " / ".join("%.2f" % x for x in c["shard_us"]) or "—"
        busy = [n for n, v in c["other_by_name"].items() if v >= 0.005]
        other = "%.2f%s" % (c["other_us"], " (%s)" % ", ".join(busy) if busy else "")
        limit = fmt_rate(ceiling(c["reactor_us"]))
        sqp = c["other_by_name"].get("iou-sqp")
        if sqp:
            # With SQPOLL the kernel thread does the reactor's submissions: it is one more
            # thread per reactor, so the ceiling is shown for the pair too.
            limit += " (with iou-sqp: %s)" % fmt_rate(ceiling(c["reactor_us"] + sqp))
        lines.append("| %s | %s | %d | %.0f | %.2f | %s | %s | %.2f | %s | %s | %.2f (%.2f) | "
                     "%s |" % (label, test.upper(), pipeline, c["rps"], c["reactor_us"], shard,
                               other, c["process_us"], sc_txt, top, c["ctx"],
                               c["reactor_ctx"], limit))
    # Ratios vs redis-server, same test and pipeline.
    ratio_rows = []
    for (label, test, pipeline), c in cells.items():
        r = cells.get(("redis-server", test, pipeline))
        if label == "redis-server" or r is None:
            continue
        sc, rsc = c.get("syscalls"), r.get("syscalls")
        ratio_rows.append("| %s | %s | %d | %.2f | %s | %s | %s |" % (
            label, test.upper(), pipeline, c["rps"] / r["rps"],
            fmt(c["process_us"] / r["process_us"] if r["process_us"] else None),
            fmt(c["reactor_us"] / r["process_us"] if r["process_us"] else None),
            fmt(sc["total"] / rsc["total"] if sc and rsc and rsc["total"] else None)))
    if ratio_rows:
        lines += ["", "Against redis-server in the same run (Omnibus ÷ redis):", "",
                  "| server | test | -P | rps | process CPU/req | reactor CPU/req ÷ redis "
                  "process CPU/req | syscalls/req |",
                  "|---|---|---:|---:|---:|---:|---:|"] + ratio_rows
    exited = max((c["exited_threads"] for c in cells.values()), default=0)
    if exited:
        lines += ["", "(%d thread(s) exited during a run: their CPU is in the process column "
                  "only.)" % exited]
    targets = target_lines(cells)
    if targets:
        lines += ["", "Issue 14 targets:", ""] + targets
    lines.append("")
    return "\n".join(lines)


def target_lines(cells):
    out = []
    for (label, test, pipeline), c in cells.items():
        if label == "redis-server":
            continue
        r = cells.get(("redis-server", test, pipeline))
        if pipeline == 1 and r and r["process_us"]:
            ratio = c["reactor_us"] / r["process_us"]
            out.append("- %s %s -P1: reactor %.2f µs/req = %.2f× redis-server's process "
                       "(target ≤ 0.6×): **%s**" % (label, test.upper(), c["reactor_us"], ratio,
                                                    "met" if ratio <= 0.6 else "not met"))
        if pipeline == 16:
            out.append("- %s %s -P16: reactor %.2f µs/req, ceiling %s (target ≤ 0.35 µs, "
                       "≥ 2.8M/s): **%s**" % (label, test.upper(), c["reactor_us"],
                                              fmt_rate(ceiling(c["reactor_us"])),
                                              "met" if c["reactor_us"] <= 0.35 else "not met"))
            sc = c.get("syscalls")
            if sc:
                out.append("- %s %s -P16: %.3f system calls/req (target ≤ 0.1): **%s**" % (
                    label, test.upper(), sc["total"], "met" if sc["total"] <= 0.1 else "not met"))
    return out


def replace_section(text, section):
    """`text` with SECTION's body replaced by `section`, or `section` added after the notes."""
    start = text.find("\n" + SECTION + "\n")
    if start >= 0 or text.startswith(SECTION + "\n"):
        start = start + 1 if start >= 0 else 0
        nxt = re.compile(r"^## ", re.M).search(text, start + len(SECTION))
        end = nxt.start() if nxt else len(text)
        tail = text[end:]
        return text[:start] + section.rstrip("\n") + "\n" + ("\n" + tail if tail else "")
    # Not there yet: add it at the end, below bench.py's notes marker so its re-runs keep it.
    if not text:
        return section.rstrip("\n") + "\n"
    body = text.rstrip("\n") + "\n"
    if NOTES_MARKER not in text:
        body += "\n" + NOTES_MARKER + "\n"
    return body + "\n" + section.rstrip("\n") + "\n"


# ----------------------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--omnibus", required=True, help="omnibus-server binary")
    ap.add_argument("--backends", default="epoll,uring",
                    help="comma-separated --io-backend values; an entry may add options for "
                         "that server: 'epoll,uring,uring --io-uring-sqpoll yes'")
    ap.add_argument("--shards", default="", help="--shards for Omnibus (default: its own)")
    ap.add_argument("--no-redis", action="store_true", help="leave redis-server out")
    ap.add_argument("--tests", default="get", help="redis-benchmark tests: get, set or get,set")
    ap.add_argument("--set", action="store_true", help="same as --tests get,set")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000, help="requests at -P1")
    ap.add_argument("--pipeline-factor", type=int, default=4,
                    help="requests at -P>1 = --requests × this (pipelined runs are faster)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--keyspace", type=int, default=100000)
    ap.add_argument("--size", type=int, default=3, help="value size (-d)")
    ap.add_argument("--syscall-tool", choices=["auto", "perf", "strace", "none"], default="auto")
    ap.add_argument("--out", help="Markdown file whose per-thread section is replaced")
    ap.add_argument("--json", help="also write every figure, round by round, as JSON here")
    ap.add_argument("--quick", action="store_true", help="small N, 1 round: a smoke run")
    args = ap.parse_args(argv)
    if args.set:
        args.tests = "get,set"
    if args.quick:
        args.requests, args.rounds, args.keyspace = 20000, 1, 10000
    args.tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    args.pipelines = [int(p) for p in args.pipelines.split(",")]
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    return args


def main(argv=None):
    args = parse_args(argv)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    syscalls = None
    if args.syscall_tool in ("auto", "perf"):
        syscalls = syscall_tracepoints() if perf_usable() else None
        if syscalls is None and args.syscall_tool == "perf":
            sys.exit("perf cannot count syscall tracepoints here (perf_event_paranoid, tracefs?)")
        if syscalls is None:
            args.syscall_tool = "strace" if strace_usable() else "none"
        else:
            args.syscall_tool = "perf"
    print("system calls counted with: %s" % args.syscall_tool, flush=True)

    servers, unavailable = [], []
    for entry in args.backends:
        # "uring --io-uring-sqpoll yes": the backend, then more options for that server.
        backend, *extra = shlex.split(entry)
        server_argv = [args.omnibus, "--port", "{port}", "--io-backend", backend] + extra
        if args.shards:
            server_argv += ["--shards", args.shards]
        servers.append(Server("omnibus %s" % entry, "omnibus", server_argv))
    if not args.no_redis:
        servers.append(Server("redis-server", "redis", ["redis-server", "--port", "{port}",
                                                        "--save", "", "--appendonly", "no"]))
    running = []
    try:
        for s in servers:
            why = s.start()
            if why is not None:
                print("%s: not available (%s)" % (s.label, why), flush=True)
                unavailable.append((s.label, why))
                continue
            preload(s, args.keyspace, args.size)
            print("%s: pid %d, threads %s" % (s.label, s.pid, " ".join(
                "%d:%s" % t for t in s.threads())), flush=True)
            running.append(s)
        if not running:
            sys.exit("no server started")

        workloads = [(t, p) for t in args.tests for p in args.pipelines]
        runs = {}
        for rnd in range(args.rounds):
            for test, pipeline in workloads:
                n = args.requests * (args.pipeline_factor if pipeline > 1 else 1)
                # Rotate which server goes first, so none always runs right after another.
                order = running[rnd % len(running):] + running[:rnd % len(running)]
                for s in order:
                    before = sample(s.pid)
                    rps = redis_benchmark(s.port, test, n, args.clients, pipeline, args.size,
                                          args.keyspace)
                    after = sample(s.pid)
                    r = per_request(s.pid, before, after, n)
                    r["rps"] = rps
                    runs.setdefault((s.label, test, pipeline), []).append(r)
                    print("round %d %-14s %s -P%-2d %9.0f rps  reactor %.2f  shards %s  other "
                          "%.2f  process %.2f µs/req  ctx %.2f/req" % (
                              rnd + 1, s.label, test.upper(), pipeline, rps, r["reactor_us"],
                              "/".join("%.2f" % v for _, v in sorted(r["shard_us"].items()))
                              or "-", r["other_us"], r["process_us"], r["ctx"]), flush=True)

        cells = {}
        for s in running:  # table order: servers as given, then test, then pipeline
            for test, pipeline in workloads:
                cells[(s.label, test, pipeline)] = median_cell(runs[(s.label, test, pipeline)])

        if args.syscall_tool != "none":
            for test, pipeline in workloads:
                n = args.requests * (args.pipeline_factor if pipeline > 1 else 1)
                for s in running:
                    bench = benchmark_argv(s.port, test, n, args.clients, pipeline, args.size,
                                           args.keyspace)
                    if args.syscall_tool == "perf":
                        counts = count_with_perf(s, bench, syscalls)
                    else:
                        counts = count_with_strace(s, bench)
                    sc = syscalls_per_request(s.pid, counts, n, args.syscall_tool)
                    cells[(s.label, test, pipeline)]["syscalls"] = sc
                    print("traced   %-14s %s -P%-2d %.3f syscalls/req (reactor %s): %s" % (
                        s.label, test.upper(), pipeline, sc["total"], fmt(sc["reactor"], 3),
                        ", ".join("%s %.3f" % t for t in sc["top"])), flush=True)
    finally:
        for s in servers:
            s.stop()

    # scripts/thread_bench.sh passes its own command line (it adds --omnibus when it builds).
    cmdline = os.environ.get("OMNIBUS_THREAD_BENCH_CMD") or " ".join(
        ["bench/load/thread_bench.py"] +
        [os.path.relpath(a) if os.path.isabs(a) else a for a in (argv or sys.argv[1:])])
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True,
                                   text=True).stdout.split()[2]
    machine = "%s, %d cores, kernel %s, redis-server %s" % (
        platform.machine(), os.cpu_count(), platform.release(), redis_version)
    section = markdown(args, cmdline, running, unavailable, cells, machine)
    print()
    print(section)
    if args.out:
        old = ""
        if os.path.exists(args.out):
            with open(args.out) as f:
                old = f.read()
        with open(args.out, "w") as f:
            f.write(replace_section(old, section))
        print("wrote", args.out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"syscall_tool": args.syscall_tool, "unavailable": unavailable,
                       "cells": [{"server": k[0], "test": k[1], "pipeline": k[2], **v}
                                 for k, v in cells.items()],
                       "runs": [{"server": k[0], "test": k[1], "pipeline": k[2], "rounds": v}
                                for k, v in runs.items()]}, f, indent=1, default=str)
    return cells


if __name__ == "__main__":
    main()
