#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit, integration against the real
# binary, differential against redis-server, client smoke tests. Then the whole suite again
# under AddressSanitizer+UBSan and the concurrency tests under ThreadSanitizer.
# Ends with ctest's summary of the main run.
#
#   scripts/test.sh            everything (what CI runs), including each libFuzzer target
#                              for 60 s (OMNIBUS_FUZZ_SECONDS changes that)
#   scripts/test.sh --quick    only the main build (no sanitizer or fuzz builds)
#   extra arguments go to ctest (e.g. -R Protocol)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=deps.sh
source "$root/scripts/deps.sh"

quick=0
ctest_args=()
for a in "$@"; do
  if [ "$a" = "--quick" ]; then quick=1; else ctest_args+=("$a"); fi
done

omnibus_install_deps clang libclang-rt-dev  # clang for the fuzz targets
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON

# Findings must fail the run: sanitizer reports turn into non-zero exits, which the tests see
# (the integration harness checks the server's exit status).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1"

run_suite() {  # dir, then ctest arguments
  local dir=$1
  shift
  (cd "$dir" && ctest --output-on-failure -j 2 --timeout 600 "$@")
}

if [ "$quick" = 0 ]; then
  echo "=== AddressSanitizer + UndefinedBehaviorSanitizer: whole suite ==="
  omnibus_build "$root/build/asan" Debug -DOMNIBUS_WERROR=$werror \
    -DOMNIBUS_SANITIZE="address;undefined" -DOMNIBUS_BUILD_BENCH=OFF
  run_suite "$root/build/asan" "${ctest_args[@]}"

  echo "=== ThreadSanitizer: concurrency tests (rings, I/O backends, shards, select, fan-out, transactions, blocking pops, scripts, pipelining) ==="
  omnibus_build "$root/build/tsan" RelWithDebInfo -DOMNIBUS_WERROR=$werror \
    -DOMNIBUS_SANITIZE=thread -DOMNIBUS_BUILD_BENCH=OFF
  run_suite "$root/build/tsan" \
    -R 'SpscRing|IoBackend|Shard|Select|Atomicity|Transaction|Blocking|Scripting|Functions|Pipelin|Basic|Protocol|Flight|Singleflight|ShardQueue|Overload|Lineariz|redis_py|differential'
fi

if [ "$quick" = 0 ]; then
  echo "=== ThreadSanitizer: leases (LEASE.* waiters, docs/leases.md) ==="
  run_suite "$root/build/tsan" -R 'Lease|lease'
fi

if [ "$quick" = 0 ]; then
  echo "=== libFuzzer: every target for ${OMNIBUS_FUZZ_SECONDS:-60} s (scripts/fuzz.sh) ==="
  "$root/scripts/fuzz.sh" all "${OMNIBUS_FUZZ_SECONDS:-60}"
fi

echo "=== Main build: every test ==="
omnibus_build "$root/build/test" RelWithDebInfo -DOMNIBUS_WERROR=$werror
run_suite "$root/build/test" "${ctest_args[@]}"
