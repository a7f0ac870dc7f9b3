#!/usr/bin/env bash
# Whole-server benchmark, Omnibus and Debian's redis-server side by side in one run.
# Writes docs/benchmarks.md. Flags pass to bench/load/bench.py (--quick, --rounds N, --shards N).
# `scripts/bench.sh --threads [flags]` runs the per-thread figures instead (scripts/thread_bench.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = --threads ]; then
  shift
  exec "$root/scripts/thread_bench.sh" "$@"
fi
# shellcheck source=deps.sh
source "$root/scripts/deps.sh"
omnibus_install_deps
omnibus_build "$root/build/release" Release -DOMNIBUS_BUILD_TESTS=OFF -DOMNIBUS_BUILD_BENCH=ON >&2
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$root"
exec /usr/bin/python3 bench/load/bench.py --omnibus "$root/build/release/omnibus-server" "$@"
