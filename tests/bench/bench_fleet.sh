#!/usr/bin/env bash
# What the console's fleet reader costs per refresh with 10, 100, 1,000 and
# 5,000 workers' heartbeats in Redis (target: 1,000 workers read in well
# under the 1 s refresh, <= 50 ms), against the naive baseline measured in
# the same run: SCAN, then one GET round trip per worker key. The ratio is
# what pipelining the MGETs buys.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tools=${TOOLS:-$repo/build/tools}
export QDECK_TEST_TMP=$(mktemp -d)
source "$repo/tests/lib/servers.sh"
cleanup() { stop_redis || true; rm -rf "$QDECK_TEST_TMP"; }
trap cleanup EXIT
start_redis

printf '%8s %14s %14s %8s\n' workers fleet_ms naive_ms ratio
for n in 10 100 1000 5000; do
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
  "$tools/fleet-read" "$REDIS_URL" fill "$n" >/dev/null
  reps=$(( n >= 1000 ? 20 : 200 ))
  read -r _ w _ fleet < <("$tools/fleet-read" "$REDIS_URL" fleet "$reps")
  read -r _ _ _ naive < <("$tools/fleet-read" "$REDIS_URL" naive "$(( reps / 4 > 0 ? reps / 4 : 1 ))")
  [ "$w" = "$n" ] || { echo "read $w workers, wanted $n" >&2; exit 1; }
  printf '%8s %14s %14s %7.1fx\n' "$n" "$fleet" "$naive" "$(awk -v a="$naive" -v b="$fleet" 'BEGIN { print a / b }')"
  if [ "$n" = 1000 ]; then
    awk -v f="$fleet" 'BEGIN { if (f <= 50) print "target: 1,000 workers in " f " ms <= 50 ms: met"; else { print "target: 1,000 workers in " f " ms > 50 ms: MISSED"; exit 1 } }'
  fi
done
