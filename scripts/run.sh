#!/usr/bin/env bash
# Installs what is missing, builds Release and starts omnibus-server (default 127.0.0.1:6379).
# Extra flags pass through: scripts/run.sh --port 7000 --shards 4
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=deps.sh
source "$root/scripts/deps.sh"
omnibus_install_deps
omnibus_build "$root/build/release" Release -DOMNIBUS_BUILD_TESTS=OFF -DOMNIBUS_BUILD_BENCH=OFF >&2
exec "$root/build/release/omnibus-server" "$@"
