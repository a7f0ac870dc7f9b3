#!/bin/bash
# Runs Debian's redis-server with omnibus-server's test arguments, so an integration test's
# expectations can be checked against the reference:
#   OMNIBUS_TEST_SERVER=$PWD/tests/testing/redis_as_omnibus.sh build/dev/tests/integration_tests
# Drops the options redis-server does not know (--shards N, --queue-* N, --singleflight x) and
# keeps everything else.
kept=()
while [ $# -gt 0 ]; do
  case "$1" in
    --shards | --queue-* | --singleflight) shift 2 ;;
    *) kept+=("$1"); shift ;;
  esac
done
exec /usr/bin/redis-server "${kept[@]}" --save "" --appendonly no --daemonize no
