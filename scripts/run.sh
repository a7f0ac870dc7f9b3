#!/usr/bin/env bash
# Installs what is missing, builds Release and starts omnibus-server (default 127.0.0.1:6379).
# Arguments pass through as to redis-server: an optional redis.conf, then options:
#   scripts/run.sh --port 7000 --shards 4
#   scripts/run.sh /etc/redis/redis.conf --port 7000 --daemonize no
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# The port the server will listen on: the last --port, else the config file's, else 6379.
port=6379
if [ $# -gt 0 ] && [ "${1:0:1}" != "-" ] && [ -r "$1" ]; then
  file_port=$(awk 'tolower($1) == "port" { p = $2 } END { print p }' "$1")
  [ -n "$file_port" ] && port=$file_port
fi
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--port" ] && [ $((i + 1)) -lt ${#args[@]} ]; then port=${args[$((i + 1))]}; fi
done

# A distribution's redis-server often holds 6379: say so, and how to pick another port,
# rather than let the server stop at a bare bind error.
if [ "$port" != "0" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  holder=""
  if command -v ss >/dev/null 2>&1; then
    holder=$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(("[^"]*"' | head -1 | cut -d'"' -f2 || true)
  fi
  echo "scripts/run.sh: port $port is already in use${holder:+ by $holder}." >&2
  if [ "$holder" = "redis-server" ]; then
    echo "  (if it is your distribution's redis-server: sudo systemctl stop redis-server)" >&2
  fi
  echo "  Start Omnibus on another port:  scripts/run.sh --port 7000" >&2
  exit 1
fi

# shellcheck source=deps.sh
source "$root/scripts/deps.sh"
omnibus_install_deps
omnibus_build "$root/build/release" Release -DOMNIBUS_BUILD_TESTS=OFF -DOMNIBUS_BUILD_BENCH=OFF >&2
exec "$root/build/release/omnibus-server" "$@"
