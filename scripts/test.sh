#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit, integration against the real
# binary, differential against redis-server, client smoke tests. Ends with ctest's summary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=deps.sh
source "$root/scripts/deps.sh"
omnibus_install_deps
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
dir="$root/build/test"
omnibus_build "$dir" RelWithDebInfo -DOMNIBUS_WERROR=$werror
cd "$dir"
ctest --output-on-failure -j 2 --timeout 600 "$@"
