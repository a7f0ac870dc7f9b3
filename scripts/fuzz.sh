#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, -O1 -g, libFuzzer coverage in the whole
# server) and runs one or all of them for a while. See docs/fuzzing.md.
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]   one of: resp_parser_fuzz config_fuzz
#                                                         command_fuzz (the _fuzz may be left out)
#   scripts/fuzz.sh all SECONDS [libFuzzer flags...]      each target in turn (what CI runs)
#
# Each target starts from its checked-in seeds (tests/fuzz/corpus/TARGET) plus its
# regressions, copied into a working corpus under the build directory, so fuzzing never
# writes into the source tree; the working corpus persists between local runs. A crash, leak
# or timeout is saved under BUILD/artifacts/TARGET/ and the script exits non-zero.
# Environment: OMNIBUS_FUZZ_BUILD_DIR (default build/fuzz), OMNIBUS_JOBS (build jobs, 2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=deps.sh
source "$root/scripts/deps.sh"

usage() {
  echo "usage: $0 TARGET|all SECONDS [libFuzzer flags...]" >&2
  exit 2
}
[ $# -ge 2 ] || usage
target=$1
seconds=$2
shift 2
[[ "$seconds" =~ ^[0-9]+$ ]] || usage

all_targets=(resp_parser_fuzz config_fuzz command_fuzz)
if [ "$target" = all ]; then
  targets=("${all_targets[@]}")
else
  [[ "$target" == *_fuzz ]] || target="${target}_fuzz"
  [[ " ${all_targets[*]} " == *" $target "* ]] || usage
  targets=("$target")
fi

omnibus_install_deps clang libclang-rt-dev
dir=${OMNIBUS_FUZZ_BUILD_DIR:-$root/build/fuzz}
if [ ! -f "$dir/build.ninja" ]; then
  # RelWithDebInfo with -O1 -g and without -DNDEBUG: fast enough, readable stacks, and any
  # assert() in the code stays on.
  cmake -S "$root/tests/fuzz" -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g"
fi
# Builds share the machine with other people's: take the shared build lock where there is one.
lock=()
command -v flock >/dev/null && lock=(flock "${OMNIBUS_BUILD_LOCK:-/tmp/omnibus-build.lock}")
"${lock[@]}" cmake --build "$dir" -j "${OMNIBUS_JOBS:-2}" --target "${targets[@]}"

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  corpus="$dir/corpus/$t"
  artifacts="$dir/artifacts/$t"
  log="$dir/logs/$t-$(date +%Y%m%d-%H%M%S).log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  cp -n "$root/tests/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
  seeds=("$corpus")
  [ -d "$root/tests/fuzz/regressions/$t" ] && seeds+=("$root/tests/fuzz/regressions/$t")
  flags=(-max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 -print_final_stats=1
    -artifact_prefix="$artifacts/")
  # Scripts of up to 16 commands fit in far less than the default 4 KB.
  [ "$t" = command_fuzz ] && flags+=(-max_len=1024)
  [ -f "$root/tests/fuzz/$t.dict" ] && flags+=(-dict="$root/tests/fuzz/$t.dict")
  echo "=== $t for ${seconds}s (corpus $corpus, log $log)"
  status=0
  "$dir/$t" "${flags[@]}" "$@" "${seeds[@]}" >"$log" 2>&1 || status=$?
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}' ||
    true)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
  echo "    executions: ${execs:-?}  ${cov:-}  corpus: $(find "$corpus" -type f | wc -l) inputs"
  if [ "$status" -ne 0 ]; then
    echo "    FOUND A PROBLEM (exit $status); the end of the log:"
    tail -n 60 "$log" | sed 's/^/    | /'
    grep -o "Test unit written to .*" "$log" | sed 's/^/    /' || true
    failed+=("$t")
  else
    echo "    nothing found"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: problems found by: ${failed[*]}" >&2
  exit 1
fi
