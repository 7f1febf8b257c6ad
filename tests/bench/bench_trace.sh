#!/usr/bin/env bash
# What recording the trace costs Redis (issue 15): BENCH_N sleep(0) tasks
# through a real worker on a Redis list, with [worker] trace_max = 0 (off)
# and at its default (on), BENCH_ROUNDS times each, in the same run on the
# same private Redis. Prints per task: every Redis command (INFO
# commandstats, reset after a warm-up drain), the XADDs and the MULTI/EXEC
# round trips of the result batcher, and the ratio on/off of each. The
# trace record rides in the batcher's transaction, so the XADD count
# should be 1 per task and the round trips should not grow with it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
qdeck=${QDECK:-$repo/build/qdeck}
plugins=${QDECK_PLUGIN_DIR:-$(dirname "$qdeck")/plugins}
N=${BENCH_N:-2000}
ROUNDS=${BENCH_ROUNDS:-3}
export QDECK_TEST_TMP=$(mktemp -d)
source "$repo/tests/lib/servers.sh"
source "$repo/tests/bench/lib.sh"
start_redis
R="redis-cli -p $REDIS_PORT"
stat() { $R info commandstats | awk -F'[=,:]' -v c="$1" '$1 == "cmdstat_" c { print $3 } c == "all" && /^cmdstat_/ { s += $3 } END { if (c == "all") print s + 0 }'; }
drained() { [ "$($R llen b)" = 0 ] && [ "$($R --scan --pattern 'qdeck:processing:*' | xargs -r -n1 $R llen | awk '{ s += $1 } END { print s + 0 }')" = 0 ]; }
wait_drained() { local i; for i in $(seq 600); do drained && return 0; sleep 0.1; done; echo "bench_trace: queue did not drain"; exit 1; }
declare -A sum
for round in $(seq "$ROUNDS"); do
  for mode in off on; do
    tmax=0; [ "$mode" = on ] && tmax=100000
    conf=$QDECK_TEST_TMP/$mode.conf
    printf '[context b]\nredis = %s\n[worker]\nqueues = redis:b\nconcurrency = 4\nplugin_dir = %s\nheartbeat = 60\ntrace_max = %s\n[task nap]\nhandler = sleep\nargs = ms=0\n' \
      "$REDIS_URL" "$plugins" "$tmax" >"$conf"
    chmod 600 "$conf"
    $R flushall >/dev/null
    "$qdeck" --config "$conf" publish redis:b --type nap --count 200 >/dev/null 2>&1
    "$qdeck" --config "$conf" worker >"$QDECK_TEST_TMP/$mode.log" 2>&1 &
    w=$!; started+=("$w")
    wait_drained
    $R config resetstat >/dev/null
    "$qdeck" --config "$conf" publish redis:b --type nap --count "$N" --yes >/dev/null 2>&1
    wait_drained
    all=$(( $(stat all) - $(stat lpush) ))   # the publish's own LPUSHes are not the worker's
    line=$(printf '%s round %d: %.2f commands/task, %.3f XADD/task, %.3f round trips/task' "$mode" "$round" \
      "$(awk -v a="$all" -v n="$N" 'BEGIN { print a / n }')" "$(awk -v a="$(stat xadd)" -v n="$N" 'BEGIN { print a / n }')" \
      "$(awk -v a="$(stat exec)" -v n="$N" 'BEGIN { print a / n }')")
    echo "$line"
    sum[$mode.all]=$(awk -v s="${sum[$mode.all]:-0}" -v a="$all" 'BEGIN { print s + a }')
    sum[$mode.exec]=$(awk -v s="${sum[$mode.exec]:-0}" -v a="$(stat exec)" 'BEGIN { print s + a }')
    stop_pid "$w"
  done
done
awk -v a="${sum[on.all]}" -v b="${sum[off.all]}" -v x="${sum[on.exec]}" -v y="${sum[off.exec]}" -v n="$((N * ROUNDS))" 'BEGIN {
  printf "trace on vs off: %+.2f commands/task (ratio %.3f), round trips/task %.3f vs %.3f (ratio %.3f)\n",
    (a - b) / n, a / b, x / n, y / n, x / y }'
