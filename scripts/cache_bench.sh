#!/usr/bin/env bash
# Cache benchmark (issue 13): hit ratio of cache-aside trace replays and the cost of eviction,
# redis-server and an Omnibus binary side by side at the same maxmemory. Prints Markdown for
# docs/benchmarks.md. Builds build/release (with the benchmarks) unless --omnibus is given.
#   scripts/cache_bench.sh [--omnibus PATH] [--omnibus-policies allkeys-lru,allkeys-lfu,...]
#                          [--mode hit-ratio|eviction|both] [--quick] [...]
# Every flag passes to bench/load/cache_bench.py (--help lists them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
args=("$@")
if [[ " $* " != *" --omnibus "* && " $* " != *" --no-omnibus "* ]]; then
  # shellcheck source=deps.sh
  source "$root/scripts/deps.sh"
  omnibus_install_deps
  omnibus_build "$root/build/release" Release -DOMNIBUS_BUILD_TESTS=OFF -DOMNIBUS_BUILD_BENCH=ON >&2
  args=(--omnibus "$root/build/release/omnibus-server"
        --trace-bin "$root/build/release/bench/omnibus-cache-trace" "${args[@]}")
fi
cd "$root"
exec /usr/bin/python3 bench/load/cache_bench.py "${args[@]}"
