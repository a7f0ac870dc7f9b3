#!/usr/bin/python3
"""The overload experiment (issue 12, part 7): open-loop load at multiples of capacity against
Omnibus with the adaptive queue, Omnibus forced to FIFO, and Debian's redis-server, in one run.

Workload: SINTERCARD of two sets of ~1,000 and ~1,500 integers under one of --tags hash tags
(a command that costs the shard tens of microseconds and answers a few bytes, so the shards,
not the network or the reactor, are the bottleneck). Driven by omnibus-load
(bench/load/omnibus_load.cc): Poisson arrivals over --connections connections, latency from
each request's intended send time (no coordinated omission), goodput = answers that are not
errors and arrived within --slo-ms.

1. Capacity: each server's closed-loop throughput (--connections clients, one request each;
   Omnibus measured with queue-policy fifo, and the adaptive policy uses the same figure: it
   only acts when overloaded). Open loop (random arrivals) queues sooner than that, so FIFO
   servers can fall behind below 1x.
2. Offered load: --multiples of that capacity, --seconds each (one server process per kind;
   Omnibus FIFO is Omnibus after CONFIG SET queue-policy fifo).
3. Recovery: 0.5x capacity with a --burst-seconds burst at 3x; per second of intended send
   time, goodput and p99 of served requests; recovery time = seconds from the burst's end to
   the first second whose answers are >= 95% good and whose served p99 is within the SLO.

Writes a Markdown report (--out) and SVG plots next to it.

Run: scripts/overload.sh, or
  bench/load/overload.py --omnibus build/release/omnibus-server \\
      --load build/release/bench/omnibus-load --out docs/overload.md
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Server, cpu_seconds, free_port, load_pipelined  # noqa: E402

COMMAND = "SINTERCARD 2 {s__key__}a {s__key__}b"
KINDS = ("omnibus-adaptive", "omnibus-fifo", "redis")
COLORS = {"omnibus-adaptive": "#1b7837", "omnibus-fifo": "#e08214", "redis": "#b2182b"}


def prefill(port, tags):
    cmds = []
    for t in range(tags):
        cmds.append(["SADD", "{s%d}a" % t] + [str(i) for i in range(1, 3000, 3)])
        cmds.append(["SADD", "{s%d}b" % t] + [str(i) for i in range(1, 3000, 2)])
    load_pipelined(port, cmds)


def run_load(args, port, extra):
    argv = [args.load, "--port", str(port), "--connections", str(args.connections),
            "--keys", str(args.tags), "--command", COMMAND, "--slo-ms", str(args.slo_ms),
            "--threads", str(args.threads)] + extra
    out = subprocess.run(argv, capture_output=True, text=True)
    lines = [l for l in out.stdout.strip().splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError("omnibus-load failed (%d): %s %s" % (out.returncode, out.stdout,
                                                                 out.stderr))
    summary = json.loads(lines[-1])
    summary["series"] = [json.loads(l) for l in lines[:-1]]
    return summary


def set_policy(server, policy):
    reply = server.cmd("CONFIG", "SET", "queue-policy", policy)
    if reply not in ("OK", b"OK"):
        raise RuntimeError("CONFIG SET queue-policy %s: %r" % (policy, reply))


def recovery_seconds(series, offered, burst_end, slo_ms):
    for s in series:
        if s["second"] < burst_end:
            continue
        if s["answered"] >= 0.9 * offered and s["good"] >= 0.95 * s["answered"] \
                and s["served_p99_us"] <= slo_ms * 1000:
            return s["second"] - burst_end
    return None


# --- SVG ----------------------------------------------------------------------------------

def svg_chart(path, title, xlabel, ylabel, series, xmax, ymax, xticks, hline=None):
    """series: {name: [(x, y), ...]}; a plain line chart with dots."""
    w, h, left, right, top, bottom = 640, 360, 70, 170, 40, 50
    pw, ph = w - left - right, h - top - bottom

    def px(x):
        return left + pw * x / xmax

    def py(y):
        return top + ph * (1 - min(y, ymax) / ymax)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (w, h),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>' % (left, title)]
    for i in range(6):
        y = ymax * i / 5
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
                   % (left, py(y), left + pw, py(y)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>'
                   % (left - 6, py(y) + 4, ("%.0f" % y) if ymax >= 10 else ("%.2f" % y)))
    for x in xticks:
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                   % (px(x), top + ph + 18, ("%g" % x)))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>'
               % (left, top, pw, ph))
    out.append('<text x="%d" y="%d" text-anchor="middle">%s</text>'
               % (left + pw / 2, h - 10, xlabel))
    out.append('<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">%s</text>'
               % (top + ph / 2, top + ph / 2, ylabel))
    if hline is not None:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#666" '
                   'stroke-dasharray="4 3"/>' % (left, py(hline[0]), left + pw, py(hline[0])))
        out.append('<text x="%d" y="%.1f" fill="#666">%s</text>'
                   % (left + pw + 4, py(hline[0]) + 4, hline[1]))
    for k, (name, points) in enumerate(series.items()):
        color = COLORS.get(name, "#333")
        pts = " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in points)
        out.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>'
                   % (pts, color))
        for x, y in points:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (px(x), py(y), color))
        ly = top + 20 + 18 * k
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>'
                   % (left + pw + 12, ly, left + pw + 32, ly, color))
        out.append('<text x="%d" y="%d">%s</text>' % (left + pw + 36, ly + 4, name))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--omnibus", required=True)
    ap.add_argument("--load", required=True, help="omnibus-load")
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    ap.add_argument("--shards", default="2")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tags", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--multiples", default="0.5,1,1.5,2,3")
    ap.add_argument("--slo-ms", type=float, default=100)
    ap.add_argument("--burst-seconds", type=float, default=10)
    ap.add_argument("--recovery-seconds", type=float, default=25,
                    help="how long to watch after the burst")
    ap.add_argument("--out", default="docs/overload.md")
    args = ap.parse_args()
    multiples = [float(m) for m in args.multiples.split(",")]

    servers = {}
    try:
        p = free_port()
        servers["omnibus"] = Server("omnibus", [args.omnibus, "--port", str(p), "--shards",
                                                args.shards], p)
        p = free_port()
        servers["redis"] = Server("redis", [args.redis, "--port", str(p), "--save", "",
                                            "--appendonly", "no"], p)
        for s in servers.values():
            prefill(s.port, args.tags)
        by_kind = {"omnibus-adaptive": servers["omnibus"], "omnibus-fifo": servers["omnibus"],
                   "redis": servers["redis"]}

        def use(kind):
            if kind.startswith("omnibus"):
                set_policy(servers["omnibus"], "fifo" if kind.endswith("fifo") else "adaptive")
            return by_kind[kind]

        capacity = {}
        for kind in ("omnibus-fifo", "redis"):
            server = use(kind)
            r = run_load(args, server.port, ["--seconds", str(args.seconds)])
            capacity[kind] = r["throughput"]
            print("capacity %-17s %8.0f/s" % (kind, capacity[kind]), flush=True)
        capacity["omnibus-adaptive"] = capacity["omnibus-fifo"]

        results = {k: [] for k in KINDS}
        for m in multiples:
            for kind in KINDS:
                server = use(kind)
                rate = m * capacity[kind]
                c0 = cpu_seconds(server.proc.pid)
                r = run_load(args, server.port, ["--rate", "%.0f" % rate,
                                                 "--seconds", str(args.seconds)])
                r["cpu"] = cpu_seconds(server.proc.pid) - c0
                r["offered"] = rate
                r["multiple"] = m
                results[kind].append(r)
                print("%.1fx %-17s offered %7.0f/s goodput %7.0f/s (%.2f of capacity) "
                      "served p99 %8.1f ms shed %s unanswered %d" % (
                          m, kind, rate, r["goodput"], r["goodput"] / capacity[kind],
                          r["served_p99_us"] / 1000, r["errors"].get("BUSY", 0),
                          r["unanswered"]), flush=True)

        burst_at = 5.0
        total = burst_at + args.burst_seconds + args.recovery_seconds
        recovery = {}
        for kind in KINDS:
            server = use(kind)
            base = 0.5 * capacity[kind]
            r = run_load(args, server.port, ["--rate", "%.0f" % base, "--seconds", str(total),
                                             "--series", "--burst-rate",
                                             "%.0f" % (3 * capacity[kind]), "--burst-at",
                                             str(burst_at), "--burst-seconds",
                                             str(args.burst_seconds)])
            end = int(burst_at + args.burst_seconds)
            rec = recovery_seconds(r["series"], base, end, args.slo_ms)
            recovery[kind] = (rec, r["series"])
            print("recovery %-17s %s" % (kind, "%d s" % rec if rec is not None
                                         else "> %d s" % args.recovery_seconds), flush=True)
    finally:
        for s in servers.values():
            s.stop()

    write_report(args, capacity, results, recovery, multiples, burst_at)


def write_report(args, capacity, results, recovery, multiples, burst_at):
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.splitext(os.path.basename(args.out))[0]
    svgs = {}
    svgs["goodput"] = base + "_goodput.svg"
    svg_chart(os.path.join(out_dir, svgs["goodput"]),
              "Goodput (answers within %g ms) / capacity" % args.slo_ms,
              "offered load (x capacity)", "goodput / capacity",
              {k: [(r["multiple"], r["goodput"] / capacity[k]) for r in results[k]]
               for k in KINDS}, max(multiples) * 1.05, 1.2, multiples)
    p99max = max(r["served_p99_us"] / 1000 for k in KINDS for r in results[k])
    svgs["p99"] = base + "_p99.svg"
    svg_chart(os.path.join(out_dir, svgs["p99"]), "p99 latency of served requests (ms)",
              "offered load (x capacity)", "ms", {k: [(r["multiple"], r["served_p99_us"] / 1000)
                                                     for r in results[k]] for k in KINDS},
              max(multiples) * 1.05, max(p99max * 1.1, args.slo_ms * 1.2), multiples,
              hline=(args.slo_ms, "SLO"))
    total = burst_at + args.burst_seconds + args.recovery_seconds
    svgs["recovery"] = base + "_recovery.svg"
    svg_chart(os.path.join(out_dir, svgs["recovery"]),
              "Goodput per second, 0.5x with a %gs burst at 3x (from %gs)" % (
                  args.burst_seconds, burst_at),
              "second (intended send time)", "goodput / capacity",
              {k: [(s["second"], s["good"] / capacity[k]) for s in recovery[k][1]]
               for k in KINDS}, total, 1.6,
              [int(x) for x in range(0, int(total) + 1, 5)])

    lines = ["# Overload: adaptive LIFO with shedding vs FIFO vs redis-server", "",
             "Produced by `scripts/overload.sh` (`bench/load/overload.py --omnibus %s --load %s "
             "--shards %s --seconds %g --out %s`) on %s." % (
                 os.path.relpath(args.omnibus), os.path.relpath(args.load), args.shards,
                 args.seconds, args.out, datetime.date.today().isoformat()),
             "Machine: %s, %d cores, kernel %s. The load generator runs on the same machine "
             "(one thread), so it competes with the servers for the two cores." % (
                 platform.machine(), os.cpu_count(), platform.release()),
             "",
             "Workload: `%s` over %d hash tags (sets of ~1,000 and ~1,500 integers), "
             "%d connections, open loop (Poisson arrivals, latency from the intended send "
             "time), goodput = answers that are not errors and arrive within %g ms. Each "
             "server is offered multiples of its **own** closed-loop capacity; Omnibus FIFO "
             "is the same Omnibus process after `CONFIG SET queue-policy fifo`." % (
                 COMMAND, args.tags, args.connections, args.slo_ms),
             "",
             "Reading it: a shed request is answered at once with `-BUSY server overloaded, "
             "request shed after N ms in queue, retry in M ms`; it counts as answered, not as "
             "goodput. *served p50/p99* are the latencies of answers that were not errors. "
             "Shards, reactor and load generator share the two cores, so closed-loop capacity "
             "overstates what an open-loop (Poisson) load can get in FIFO order, and at high "
             "offered rates the generator's own CPU takes from the servers. The recovery plot is "
             "by intended send time: a second with no goodput means its requests were answered "
             "late (or shed), not that none were sent.",
             "", "Capacity (closed loop, %d clients; Omnibus in FIFO order): %s." % (
                 args.connections,
                 ", ".join("%s %.0f/s" % (k, capacity[k]) for k in ("omnibus-fifo", "redis"))),
             "", "| offered | server | offered/s | answered/s | goodput/s | goodput / capacity "
             "| served p50 ms | served p99 ms | shed | unanswered | server CPU s |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for i, m in enumerate(multiples):
        for k in KINDS:
            r = results[k][i]
            lines.append("| %gx | %s | %.0f | %.0f | %.0f | %.2f | %.1f | %.1f | %d | %d | %.1f |"
                         % (m, k, r["offered"], r["throughput"], r["goodput"],
                            r["goodput"] / capacity[k], r["served_p50_us"] / 1000,
                            r["served_p99_us"] / 1000, r["errors"].get("BUSY", 0),
                            r["unanswered"], r["cpu"]))
    lines += ["", "Recovery after %gs at 3x (from 0.5x): %s." % (
        args.burst_seconds, ", ".join(
            "%s %s" % (k, ("%d s" % recovery[k][0]) if recovery[k][0] is not None
                       else "not within %g s" % args.recovery_seconds) for k in KINDS)),
              "", "![goodput](%s)" % svgs["goodput"], "", "![p99](%s)" % svgs["p99"], "",
              "![recovery](%s)" % svgs["recovery"], ""]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s and %s" % (args.out, ", ".join(svgs.values())))


if __name__ == "__main__":
    main()
