#!/usr/bin/env bash
# What joining the queue rows with the fleet costs the console
# (console/queue-join.c): 1,000 Redis lists and 100 registered workers
# consuming 10 lists each, the console on the Queues view at a 1 s refresh
# for BENCH_SECONDS (30), its CPU time from /proc/PID/stat and its RSS.
# Baseline in the same run: QDECK_BEFORE (a binary without the join, e.g.
# one built from the commit before it), alternated with QDECK over
# BENCH_ROUNDS (2) rounds; prints each figure and the ratio after/before.
#
#   QDECK_BEFORE=/path/to/old/qdeck tests/bench/bench_queue_join.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
after=${QDECK:-$repo/build/qdeck}
before=${QDECK_BEFORE:?set QDECK_BEFORE to a qdeck binary without the join}
window=${BENCH_SECONDS:-30}
rounds=${BENCH_ROUNDS:-2}
export QDECK_TEST_TMP=$(mktemp -d) LANG=C.UTF-8 QDECK_THEME_DIR=$repo/themes
sock=qdeck-bench-join-$$
source "$repo/tests/lib/servers.sh"
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; stop_redis || true; rm -rf "$QDECK_TEST_TMP"; }
trap cleanup EXIT
start_redis

now=$(date +%s)
{
  for i in $(seq 0 999); do echo "RPUSH l$i a b c"; done
  for w in $(seq 0 99); do
    qs=$(for k in $(seq 0 9); do printf '"redis:l%d",' $((w * 10 + k)); done)
    rs=$(for k in $(seq 0 9); do printf '"redis:l%d":1.5,' $((w * 10 + k)); done)
    json="{\"id\":\"fake-$w\",\"host\":\"h\",\"pid\":$w,\"at\":$now,\"interval\":3600,\"state\":\"running\",\"slots_busy\":1,\"slots_total\":4,\"queues\":[${qs%,}],\"queue_rate\":{${rs%,}}}"
    printf 'SET qdeck:worker:fake-%d %s PX 7200000\n' "$w" "$(printf '%s' "$json" | sed 's/"/\\"/g; s/^/"/; s/$/"/')"
    echo "ZADD qdeck:registry:workers $now fake-$w"
  done
} | redis-cli -p "$REDIS_PORT" >/dev/null
conf=$QDECK_TEST_TMP/bench.conf
printf '[context bench]\nredis = %s\n' "$REDIS_URL" > "$conf"

# cpu BINARY: "PERCENT RSS_KB" of one console over the window
cpu() {
  tmux -L "$sock" -f /dev/null new-session -d -s c -x 150 -y 45 "exec $1 --config $conf --refresh 1"
  sleep 3
  tmux -L "$sock" send-keys -t c 2
  local pid a b rss; pid=$(tmux -L "$sock" display-message -p -t c '#{pane_pid}')
  a=$(awk '{print $14 + $15}' "/proc/$pid/stat"); sleep "$window"; b=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  tmux -L "$sock" kill-session -t c
  awk -v t=$((b - a)) -v hz="$(getconf CLK_TCK)" -v w="$window" -v r="$rss" 'BEGIN { printf "%.2f %d\n", t / hz / w * 100, r }'
}

sum_b=0 sum_a=0
for r in $(seq "$rounds"); do
  read -r pb rb < <(cpu "$before"); read -r pa ra < <(cpu "$after")
  echo "round $r: before ${pb}% of a core (RSS ${rb} kB), after ${pa}% (RSS ${ra} kB)"
  sum_b=$(awk -v s="$sum_b" -v x="$pb" 'BEGIN { print s + x }'); sum_a=$(awk -v s="$sum_a" -v x="$pa" 'BEGIN { print s + x }')
done
awk -v b="$sum_b" -v a="$sum_a" -v n="$rounds" \
  'BEGIN { printf "console CPU, 1,000 Redis lists + 100 workers: before %.2f%%, after %.2f%% of a core (mean of %d); ratio after/before %.2f\n", b / n, a / n, n, (b > 0 ? a / b : 0) }'
