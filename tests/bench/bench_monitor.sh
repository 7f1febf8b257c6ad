#!/usr/bin/env bash
# Console cost while monitoring 1,000 RabbitMQ queues and 1,000 Redis keys at
# a 1 s refresh (targets: average CPU <= 5 % of one core, RSS <= 32 MB), and
# key press to redraw latency while both brokers are SIGSTOPped (target:
# median <= 50 ms). Then what the console costs RabbitMQ: the broker's own
# CPU time (/proc/<beam pid>/stat) with the 1,000 queues, idle and with one
# console on the Queues view, in the same run (target: at most 2.5 points of
# a core above idle). BENCH_ONLY=broker runs just that part, BENCH_ONLY=cpu
# just the CPU/RSS part.
#
# Baselines, measured in the same run on the same machine:
#  - CPU/RSS: the same console watching the same brokers with no queues, so
#    the ratio shows what 2,000 queues cost over qdeck's fixed overhead;
#  - key latency: `cat` in the same tmux setup (the floor of send-keys +
#    capture-pane polling), and qdeck with healthy brokers.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
qdeck=${QDECK:-$repo/build/qdeck}
tools=${TOOLS:-$repo/build/tools}
window=${BENCH_SECONDS:-60}
export QDECK_TEST_TMP=$(mktemp -d) LANG=C.UTF-8 QDECK_THEME_DIR=$repo/themes
sock=qdeck-bench-$$
source "$repo/tests/lib/servers.sh"

cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  [ -n "${REDIS_PID:-}" ] && kill -CONT "$REDIS_PID" 2>/dev/null || true
  [ -n "${RABBIT_PID:-}" ] && kill -CONT "$RABBIT_PID" 2>/dev/null || true
  stop_rabbit || true
  stop_redis || true
  rm -rf "$QDECK_TEST_TMP"
}
trap cleanup EXIT
start_redis
start_rabbit

console_pid() { tmux -L "$sock" display-message -p -t "$1" '#{pane_pid}'; }

# measure NAME: starts a console, lets it warm up, and samples CPU ticks and
# RSS over $window seconds. Prints "cpu_pct rss_kb hwm_kb".
measure() {
  tmux -L "$sock" -f /dev/null new-session -d -s "$1" -x 160 -y 50 \
    "$qdeck --mgmt '$MGMT_URL' --redis '$REDIS_URL' --refresh 1"
  local pid; pid=$(console_pid "$1")
  tmux -L "$sock" send-keys -t "$1" 2     # the Queues view: every row drawn
  sleep 5
  local hz; hz=$(getconf CLK_TCK)
  local t0 ticks0 t1 ticks1
  t0=$(date +%s.%N); ticks0=$(awk '{print $14 + $15}' /proc/$pid/stat)
  sleep "$window"
  t1=$(date +%s.%N); ticks1=$(awk '{print $14 + $15}' /proc/$pid/stat)
  local rss hwm
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
  hwm=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status)
  tmux -L "$sock" send-keys -t "$1" q
  awk -v a="$ticks0" -v b="$ticks1" -v s="$t0" -v e="$t1" -v hz="$hz" -v r="$rss" -v h="$hwm" \
    'BEGIN { printf "%.2f %d %d\n", 100 * (b - a) / hz / (e - s), r, h }'
}

# broker_cpu SECONDS: RabbitMQ's CPU over SECONDS, in % of one core
broker_cpu() {
  local hz t0 t1 a b
  hz=$(getconf CLK_TCK)
  t0=$(date +%s.%N); a=$(awk '{print $14 + $15}' "/proc/$RABBIT_PID/stat")
  sleep "$1"
  t1=$(date +%s.%N); b=$(awk '{print $14 + $15}' "/proc/$RABBIT_PID/stat")
  awk -v a="$a" -v b="$b" -v s="$t0" -v e="$t1" -v hz="$hz" 'BEGIN { printf "%.2f\n", 100 * (b - a) / hz / (e - s) }'
}

# broker_cost: RabbitMQ idle vs with one console, 1,000 queues declared
broker_cost() {
  echo "broker cost: RabbitMQ with $(curl -s "${MGMT_URL}api/overview" |
    sed -n 's/.*"queues":\([0-9]*\).*/\1/p') queues, idle vs one console (Queues view), ${window}s each"
  sleep 5   # the declares settle
  local idle loaded
  idle=$(broker_cpu "$window")
  tmux -L "$sock" -f /dev/null new-session -d -s broker -x 160 -y 50 \
    "$qdeck --amqp '$AMQP_URL' --mgmt '$MGMT_URL' --refresh 1"
  tmux -L "$sock" send-keys -t broker 2
  sleep 5
  loaded=$(broker_cpu "$window")
  tmux -L "$sock" send-keys -t broker q
  printf 'rabbitmq cpu: idle %.2f %% of a core, with one console %.2f %%: +%.2f points (target <= 2.5), ratio %.2fx\n' \
    "$idle" "$loaded" "$(awk -v a="$loaded" -v b="$idle" 'BEGIN { print a - b }')" \
    "$(awk -v a="$loaded" -v b="$idle" 'BEGIN { print (b > 0 ? a / b : 0) }')"
}

if [ "${BENCH_ONLY:-}" = broker ]; then
  "$tools/amqp-fill" "$AMQP_URL" declare-many bench. 1000 >/dev/null
  broker_cost
  exit 0
fi

echo "baseline: console on empty brokers, ${window}s"
read -r base_cpu base_rss base_hwm < <(measure empty)

echo "setup: 1,000 RabbitMQ queues, 1,000 Redis keys (500 lists, 500 streams with a group)"
"$tools/amqp-fill" "$AMQP_URL" declare-many bench. 1000 >/dev/null
for i in $(seq 0 499); do
  printf 'RPUSH bench:list:%04d {"id":"b%d","type":"bench","payload":{},"created_at":%d}\r\n' "$i" "$i" "$(date +%s)"
  printf 'XGROUP CREATE bench:stream:%04d workers $ MKSTREAM\r\n' "$i"
done | redis-cli -p "$REDIS_PORT" >/dev/null
sleep 2

echo "load: console on 2,000 queues, ${window}s"
read -r cpu rss hwm < <(measure loaded)

printf 'cpu:  %.2f %% of one core (target <= 5 %%), baseline %.2f %%, ratio %.2fx\n' \
  "$cpu" "$base_cpu" "$(awk -v a="$cpu" -v b="$base_cpu" 'BEGIN { print (b > 0 ? a / b : 0) }')"
printf 'rss:  %.1f MB (peak %.1f MB; target <= 32 MB), baseline %.1f MB\n' \
  "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')" \
  "$(awk -v k="$base_rss" 'BEGIN { print k / 1024 }')"
[ "${BENCH_ONLY:-}" = cpu ] && exit 0

echo "key latency (views 1<->2), 60 samples each"
tmux -L "$sock" -f /dev/null new-session -d -s floor -x 160 -y 50 "cat"
floor=$(python3 "$repo/tests/bench/keylatency.py" "$sock" floor 60 a b)
tmux -L "$sock" kill-session -t floor
tmux -L "$sock" -f /dev/null new-session -d -s keys -x 160 -y 50 \
  "$qdeck --mgmt '$MGMT_URL' --redis '$REDIS_URL' --refresh 1"
sleep 4
healthy=$(python3 "$repo/tests/bench/keylatency.py" "$sock" keys 60 2 1)
kill -STOP "$REDIS_PID" "$RABBIT_PID"
sleep 3
stopped=$(python3 "$repo/tests/bench/keylatency.py" "$sock" keys 60 2 1)
kill -CONT "$REDIS_PID" "$RABBIT_PID"
tmux -L "$sock" send-keys -t keys q
echo "  floor (cat in tmux):         $floor"
echo "  qdeck, brokers healthy:      $healthy"
echo "  qdeck, brokers SIGSTOPped:   $stopped   (target: median <= 50 ms)"
m_stop=$(sed 's/.*median_ms=\([0-9.]*\).*/\1/' <<<"$stopped")
m_floor=$(sed 's/.*median_ms=\([0-9.]*\).*/\1/' <<<"$floor")
printf '  ratio stopped/floor: %.2fx\n' "$(awk -v a="$m_stop" -v b="$m_floor" 'BEGIN { print a / b }')"

broker_cost
