#!/usr/bin/env bash
# What resilience costs `qdeck worker` (issue 4, "Must reach": < 5 % of its
# noop throughput). Two task types run by the same binary, config and
# private brokers, in one run:
#
#   plain    [task noop-plain]  handler noop, no dependency
#   guarded  [task noop-dep]    handler noop, dependency = bench-dep: every
#            task acquires a breaker permit (count window, thresholds that
#            never trip), passes the rate limiter (rate 0: off) and the
#            bulkhead (max_concurrent), and ends the permit after the run
#
# noop tasks from RabbitMQ (results and idempotency off, as in
# bench_worker.sh), drained by a fresh worker each time and timed by
# drain_timer.py. The rounds alternate plain, guarded, plain, guarded...
# (BENCH_ROUNDS, default 3) so drift on this shared machine hits both; the
# best rate of each side is compared. Prints both rates and guarded/plain.
#
# Knobs: BENCH_N (50000 tasks per round), BENCH_CONCURRENCY (4),
# BENCH_PREFETCH (100), BENCH_ROUNDS (3).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bench=$repo/tests/bench
qdeck=${QDECK:-$repo/build/qdeck}
plugins=${QDECK_PLUGIN_DIR:-$(dirname "$qdeck")/plugins}
py=/usr/bin/python3
N=${BENCH_N:-50000}
C=${BENCH_CONCURRENCY:-4}
P=${BENCH_PREFETCH:-100}
ROUNDS=${BENCH_ROUNDS:-3}
export QDECK_TEST_TMP=$(mktemp -d)
source "$repo/tests/lib/servers.sh"

source "$bench/lib.sh"

start_redis
start_rabbit
cfg=$QDECK_TEST_TMP/qdeck.conf
cat >"$cfg" <<CONF
[qdeck]
context = bench

[context bench]
amqp = $AMQP_URL
redis = $REDIS_URL

[worker]
concurrency = $C
prefetch = $P
results = false
idempotency = false
plugin_dir = $plugins

[task noop-plain]
handler = noop

[task noop-dep]
handler = noop
dependency = bench-dep

[dependency bench-dep]
window_size = 100
minimum_calls = 100
failure_rate = 100
max_concurrent = 1000
CONF
chmod 600 "$cfg"


# run TYPE QUEUE: publish N, drain with a fresh worker; prints the rate
run() {
  local type=$1 queue=$2 pid out
  "$qdeck" --config "$cfg" publish "amqp:$queue" --type "$type" --payload '{}' --count "$N" --declare --yes >/dev/null 2>&1
  "$qdeck" --config "$cfg" worker --queues "amqp:$queue" >"$QDECK_TEST_TMP/worker-$queue.log" 2>&1 &
  pid=$!; started+=("$pid")
  out=$("$py" "$bench/drain_timer.py" amqp "$AMQP_URL" "$queue" "$N" --stall 60) || out=""
  stop_pid "$pid"
  if grep -q 'no \[dependency' "$QDECK_TEST_TMP/worker-$queue.log"; then
    echo "   the dependency was not applied: the guarded rate would mean nothing" >&2
    out=""
  fi
  rate_of "$out"
}

echo "-- qdeck worker noop from RabbitMQ: $N tasks x $ROUNDS rounds per side, concurrency $C, prefetch $P"
best_plain=0 best_dep=0
for r in $(seq "$ROUNDS"); do
  plain=$(run noop-plain "bench-plain-$r")
  dep=$(run noop-dep "bench-dep-$r")
  echo "   round $r: plain ${plain:-n/a} msgs/s, guarded (breaker + limiter off + bulkhead) ${dep:-n/a} msgs/s"
  best_plain=$(awk -v a="$best_plain" -v b="${plain:-0}" 'BEGIN { print (b > a ? b : a) }')
  best_dep=$(awk -v a="$best_dep" -v b="${dep:-0}" 'BEGIN { print (b > a ? b : a) }')
done
ratio=$(awk -v a="$best_dep" -v b="$best_plain" 'BEGIN { if (b == 0) print "n/a"; else printf "%.3f", a / b }')
cost=$(awk -v a="$best_dep" -v b="$best_plain" 'BEGIN { if (b == 0) print "n/a"; else printf "%.1f", (1 - a / b) * 100 }')
echo "   best: plain $best_plain msgs/s, guarded $best_dep msgs/s"
echo "   guarded/plain = $ratio (resilience costs $cost %; target < 5 %)"
awk -v r="$ratio" 'BEGIN { exit !(r != "n/a" && r >= 0.95) }' && echo "   target met" || echo "   target MISSED"
