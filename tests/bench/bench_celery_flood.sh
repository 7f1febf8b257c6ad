#!/usr/bin/env bash
# A flood of Celery events into qdeck's receiver: a private RabbitMQ and
# Redis, `qdeck celery watch` receiving celeryev, and BENCH_TASKS synthetic
# tasks (4 events each, in task.multi batches like a prefork worker's, plus
# heartbeats of 8 workers) published to celeryev as fast as pyamqp goes.
# Prints the events the collector folded in, the time it took to drain
# them, and its peak RSS (VmHWM): memory stays bounded however many tasks
# pass (histograms, a capped in-flight table).
#
#   tests/bench/bench_celery_flood.sh        BENCH_TASKS (25000: 100k+ events)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tasks=${BENCH_TASKS:-25000}
export QDECK_TEST_TMP=$(mktemp -d /tmp/qdeck-celery-flood.XXXXXX)
source "$repo/tests/lib/servers.sh"
source "$repo/tests/bench/lib.sh"
make -C "$repo" --no-print-directory -j2 all tools >/dev/null
start_redis >/dev/null
start_rabbit >/dev/null
py=$repo/tests/bench/celery_events.py
/usr/bin/python3 "$py" write "$QDECK_TEST_TMP/events.jsonl" "$tasks"
broker=${AMQP_URL/amqp:/pyamqp:}
/usr/bin/python3 "$py" flood /dev/null "$broker" >/dev/null    # declares celeryev, as a Celery worker would
"$repo/build/qdeck" --amqp "$AMQP_URL" --redis "$REDIS_URL" celery watch --log "$QDECK_TEST_TMP/watch.log" -vv \
  2> "$QDECK_TEST_TMP/watch.err" &
watch=$!
started+=($watch)
for _ in $(seq 100); do grep -q 'receiving events' "$QDECK_TEST_TMP/watch.log" 2>/dev/null && break; sleep 0.1; done
t0=$(date +%s.%N)
read -r n_msgs pub_s < <(/usr/bin/python3 "$py" flood "$QDECK_TEST_TMP/events.jsonl" "$broker")
# drained: the fleet reports (written each second) count every task done
done_tasks() {
  local h total=0 n
  for h in $(seq 0 7); do
    n=$(redis-cli -u "$REDIS_URL" GET "qdeck:worker:celery@bench-$h" | jq '[.latency[].processed] | add // 0' 2>/dev/null)
    total=$((total + ${n:-0}))
  done
  echo "$total"
}
for _ in $(seq 300); do [ "$(done_tasks)" -ge "$tasks" ] && break; sleep 0.2; done
t1=$(date +%s.%N)
hwm=$(awk '/VmHWM/ { print $2 }' /proc/$watch/status)
cpu=$(awk '{ print ($14 + $15) / 100 }' /proc/$watch/stat)
kill -TERM "$watch"; wait "$watch" || true
events=$(sed -n 's/^celery: \([0-9]*\) events.*/\1/p' "$QDECK_TEST_TMP/watch.err")
echo "published $n_msgs messages in ${pub_s%.*}.$(cut -c1-1 <<<"${pub_s#*.}") s (pyamqp)"
awk -v e="$events" -v a="$t0" -v b="$t1" -v h="$hwm" -v c="$cpu" 'BEGIN {
  printf "qdeck celery watch: %d events folded in, all in the fleet reports %.1f s after the flood began (reports: 1/s), %.2f s CPU (%.0f events per CPU second)\n", e, b - a, c, (c > 0 ? e / c : 0)
  printf "peak RSS (VmHWM): %.1f MB\n", h / 1024
}'
grep 'celery:' "$QDECK_TEST_TMP/watch.err" | tail -1
