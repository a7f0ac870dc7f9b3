#!/usr/bin/env bash
# The overload experiment (issue 12): open-loop load at 0.5x..3x capacity against Omnibus with
# the adaptive queue, Omnibus forced to FIFO, and Debian's redis-server, in one run, plus
# recovery after a burst. Writes docs/overload.md and its SVG plots. Flags pass to
# bench/load/overload.py (--shards N, --seconds S, --multiples 0.5,1,2, ...).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=deps.sh
source "$root/scripts/deps.sh"
omnibus_install_deps
omnibus_build "$root/build/release" Release -DOMNIBUS_BUILD_TESTS=OFF -DOMNIBUS_BUILD_BENCH=ON >&2
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$root"
exec /usr/bin/python3 bench/load/overload.py --omnibus "$root/build/release/omnibus-server" \
  --load "$root/build/release/bench/omnibus-load" --out docs/overload.md "$@"
