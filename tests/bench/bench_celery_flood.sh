#!/usr/bin/env bash
# A flood of Celery events into qdeck's receiver: a private RabbitMQ and
# Redis, `qdeck celery watch` receiving celeryev, and BENCH_TASKS synthetic
# tasks (4 events each, in task.multi batches like a prefork worker's, plus
# heartbeats of 8 workers) published to celeryev as fast as pyamqp goes.
# Prints the events the collector folded in, the time it took to drain
# them, and its peak RSS (VmHWM): memory stays bounded however many tasks
# pass (histograms, a capped in-flight table).
#
# Then the console itself (its fleet source runs the same collector) in
# tmux: key-to-redraw (tests/bench/keylatency.py, views 3 <-> 4) and its
# RSS, first with no flood (the baseline, same console, same run), then
# while the same flood is replayed into its receiver queue. Targets:
# median <= 50 ms, peak RSS (VmHWM) <= 64 MB.
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

# --- the console under the flood ---
sock=qdeck-celery-flood-$$
cleanup_tmux() { tmux -L "$sock" kill-server 2>/dev/null || true; }
trap 'cleanup_tmux; cleanup' EXIT
redis-cli -u "$REDIS_URL" FLUSHALL >/dev/null   # the watch's reports: the console starts from nothing
clog=$QDECK_TEST_TMP/console.log
samples=${BENCH_KEY_SAMPLES:-60}
# the floor (cat in tmux) is measured beside the console, at the same time,
# so each figure has the machine's own key latency under the same load
tmux -L "$sock" -f /dev/null new-session -d -s floor -x 160 -y 50 "cat"
tmux -L "$sock" -f /dev/null new-session -d -s console -x 160 -y 50 \
  "LANG=C.UTF-8 '$repo/build/qdeck' --amqp '$AMQP_URL' --redis '$REDIS_URL' --refresh 1 --log '$clog' -vv"
cpid=$(tmux -L "$sock" display -p -t console '#{pane_pid}')
for _ in $(seq 100); do grep -q 'receiving events' "$clog" 2>/dev/null && break; sleep 0.1; done
tmux -L "$sock" send-keys -t console 3
sleep 1
keys_pair() {   # OUT_PREFIX: console and floor sampled side by side
  python3 "$repo/tests/bench/keylatency.py" "$sock" floor "$samples" a b > "$QDECK_TEST_TMP/$1.floor" &
  local f=$!
  python3 "$repo/tests/bench/keylatency.py" "$sock" console "$samples" 4 3 > "$QDECK_TEST_TMP/$1.console"
  wait "$f"
}
keys_pair base
base_hwm=$(awk '/VmHWM/ { print $2 }' /proc/$cpid/status)
/usr/bin/python3 "$py" flood "$QDECK_TEST_TMP/events.jsonl" "$broker" > "$QDECK_TEST_TMP/flood2.out" &
flood=$!
keys_pair flood
flood_running=no
kill -0 "$flood" 2>/dev/null && flood_running=yes
wait "$flood"
for _ in $(seq 300); do [ "$(done_tasks)" -ge "$tasks" ] && break; sleep 0.2; done
hwm=$(awk '/VmHWM/ { print $2 }' /proc/$cpid/status)
tmux -L "$sock" send-keys -t console q
for _ in $(seq 100); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
median() { sed 's/.*median_ms=\([0-9.]*\).*/\1/' "$QDECK_TEST_TMP/$1"; }
echo "console (views 3 <-> 4, $samples key presses each; floor: cat in tmux, sampled at the same time):"
echo "  no flood, console:      $(cat "$QDECK_TEST_TMP/base.console")"
echo "  no flood, floor:        $(cat "$QDECK_TEST_TMP/base.floor")"
echo "  the flood, console:     $(cat "$QDECK_TEST_TMP/flood.console")   (target: median <= 50 ms)"
echo "  the flood, floor:       $(cat "$QDECK_TEST_TMP/flood.floor")   (flood still publishing at the end: $flood_running)"
awk -v a="$(median flood.console)" -v b="$(median base.console)" -v f="$(median flood.floor)" -v f0="$(median base.floor)" \
    -v h="$hwm" -v h0="$base_hwm" 'BEGIN {
  printf "  console/floor: %.2fx without the flood, %.2fx during it; console flood/no flood %.2fx; %s\n", b / f0, a / f, a / b, (a <= 50 ? "target met" : "TARGET MISSED (compare the floor: what the machine itself takes)")
  printf "  peak RSS (VmHWM): %.1f MB before the flood, %.1f MB after it (target <= 64 MB: %s)\n", h0 / 1024, h / 1024, (h <= 65536 ? "met" : "MISSED")
}'
echo "  tasks in the fleet reports: $(done_tasks) of $tasks"
grep 'collector stopped' "$clog" | tail -1 | sed 's/^/  /'
