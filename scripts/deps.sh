#!/usr/bin/env bash
# Installs the Debian packages Omnibus needs, only those missing. Sourced by run.sh/test.sh.
set -euo pipefail

OMNIBUS_PACKAGES=(cmake ninja-build pkg-config g++ ccache liburing-dev libabsl-dev libgtest-dev
  libgmock-dev libbenchmark-dev libhiredis-dev libmimalloc-dev redis-server redis-tools python3 python3-redis
  liblua5.1-0-dev lua-cjson-dev lua-bitop-dev)
# Optional: a build configured with -DOMNIBUS_LUA=luajit (docs/lua_choice.md) needs LuaJIT; set
# OMNIBUS_LUA=luajit in the environment to have it installed. The default build does not.
if [ "${OMNIBUS_LUA:-lua5.1}" = luajit ]; then
  OMNIBUS_PACKAGES+=(libluajit-5.1-dev)
fi

omnibus_missing_packages() {
  local p missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  echo "${missing[@]:-}"
}

omnibus_install_deps() {
  local missing
  missing=$(omnibus_missing_packages "${OMNIBUS_PACKAGES[@]}" "$@")
  [ -z "$missing" ] && return 0
  echo "Installing missing packages: $missing"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # Don't let the redis-server package start a system service on 6379 (run.sh wants that port).
  local policy_created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    policy_created=1
  fi
  $sudo apt-get update -q
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
  [ "$policy_created" = 1 ] && $sudo rm -f /usr/sbin/policy-rc.d
  return 0
}

# Configures (once) and builds one build directory. Usage: omnibus_build DIR TYPE [cmake args]
omnibus_build() {
  local dir=$1 type=$2
  shift 2
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" \
      ${OMNIBUS_LUA:+-DOMNIBUS_LUA="$OMNIBUS_LUA"} "$@"
  fi
  cmake --build "$dir" -j "${OMNIBUS_JOBS:-2}"
}
