#!/usr/bin/env bash
# Per-thread cost of a request (issue 14): CPU µs/request of the reactor and of each shard
# thread, system calls and context switches per request, and the reactor's throughput ceiling,
# for Omnibus per I/O backend and Debian's redis-server, at -P1 and -P16. Prints Markdown;
# --out docs/benchmarks.md replaces the section "## Per-thread cost (issue 14)" there.
# Builds build/release unless --omnibus is given. Also reached as `scripts/bench.sh --threads`.
#   scripts/thread_bench.sh [--omnibus PATH] [--backends epoll,uring] [--shards N] [--set]
#                           [--rounds N] [--requests N] [--quick] [--out docs/benchmarks.md]
# Every flag passes to bench/load/thread_bench.py (--help lists them). System calls are counted
# with perf (root or a low perf_event_paranoid) or else strace.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export OMNIBUS_THREAD_BENCH_CMD="scripts/thread_bench.sh${*:+ $*}"
args=("$@")
if [[ " $* " != *" --omnibus "* ]]; then
  # shellcheck source=deps.sh
  source "$root/scripts/deps.sh"
  omnibus_install_deps
  omnibus_build "$root/build/release" Release -DOMNIBUS_BUILD_TESTS=OFF -DOMNIBUS_BUILD_BENCH=ON >&2
  args=(--omnibus "$root/build/release/omnibus-server" "${args[@]}")
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$root"
exec /usr/bin/python3 bench/load/thread_bench.py "${args[@]}"
