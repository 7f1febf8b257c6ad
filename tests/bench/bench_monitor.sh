#!/usr/bin/env bash
# The console's cost at fleet scale (issue 13's must-reach), this tree's
# binary against an older one in the same run. One line, from the repo:
#
#   make -j2 all tools && QDECK_BEFORE_REV=a80e84e tests/bench/bench_monitor.sh
#
# (QDECK_BEFORE=path/to/old/qdeck instead of QDECK_BEFORE_REV uses a binary
# built already; neither: this binary alone, against itself on empty brokers.)
#
# The world: a private RabbitMQ with 1,000 queues, a private Redis with 1,000
# keys (500 lists, 500 streams with a group) and 100 qdeck workers beating
# every second (tests/tools/fleet-beat: the worker's own heartbeat encoding,
# four task types with latency histograms, two breakers, each worker
# consuming four of the queues). Measured, for each binary in turn
# (BENCH_ROUNDS rounds, the order swapped every round: before, after, after,
# before, ...):
#
#  - CPU (utime + stime of the whole process, all threads, from
#    /proc/PID/stat) over BENCH_SECONDS (30) on each view named in
#    BENCH_VIEWS (default: overview queues workers latency), one console at
#    160x50 with --refresh 1, a few seconds after switching to the view;
#    target <= 5 % of a core on every view;
#  - RSS at the end of the last view and the peak (VmHWM); target <= 48 MB;
#  - key press to redraw (tests/bench/keylatency.py, views 2<->1, 60
#    samples) with the brokers healthy and with both SIGSTOPped; target:
#    median <= 20 ms stopped; the floor is `cat` in the same tmux setup.
#
# Each figure is printed with the load average (/proc/loadavg) at the time:
# the machine may be shared. Then a table of the medians with
# after/before ratios and the targets, and last what the console costs
# RabbitMQ (its beam's CPU, idle vs with one console on the Queues view,
# target <= +2.5 points), for this binary.
#
#   BENCH_ONLY=cpu | keys | broker   one part
#   BENCH_WORKERS (100)  BENCH_SECONDS (30)  BENCH_ROUNDS (1)  BENCH_VIEWS
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
qdeck=${QDECK:-$repo/build/qdeck}
tools=${TOOLS:-$repo/build/tools}
window=${BENCH_SECONDS:-30}
rounds=${BENCH_ROUNDS:-1}
workers=${BENCH_WORKERS:-100}
views=${BENCH_VIEWS:-overview queues workers latency}
only=${BENCH_ONLY:-}
export QDECK_TEST_TMP=$(mktemp -d) LANG=C.UTF-8 QDECK_THEME_DIR=$repo/themes
sock=qdeck-bench-$$
source "$repo/tests/lib/servers.sh"

scratch=
beat_pid=
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  [ -n "${REDIS_PID:-}" ] && kill -CONT "$REDIS_PID" 2>/dev/null || true
  [ -n "${RABBIT_PID:-}" ] && kill -CONT "$RABBIT_PID" 2>/dev/null || true
  if [ -n "$beat_pid" ]; then kill -TERM "$beat_pid" 2>/dev/null; wait "$beat_pid" 2>/dev/null || true; fi
  stop_rabbit || true
  stop_redis || true
  [ -z "$scratch" ] || git -C "$repo" worktree remove --force "$scratch" 2>/dev/null || rm -rf "$scratch"
  rm -rf "$QDECK_TEST_TMP"
}
trap cleanup EXIT

before=${QDECK_BEFORE:-}
if [ -n "${QDECK_BEFORE_REV:-}" ] && [ -z "$before" ]; then
  scratch=$(mktemp -d /tmp/qdeck-before.XXXXXX)
  git -C "$repo" worktree add -q --detach "$scratch" "$QDECK_BEFORE_REV"
  echo "building the before binary: $(git -C "$scratch" log --oneline -1)"
  nice make -C "$scratch" --no-print-directory -j2 build/qdeck >/dev/null
  before=$scratch/build/qdeck
fi
[ -x "$qdeck" ] || { echo "bench_monitor: no binary at $qdeck (make all tools first)" >&2; exit 1; }
[ -z "$before" ] || [ -x "$before" ] || { echo "bench_monitor: QDECK_BEFORE '$before' is not an executable" >&2; exit 1; }
[ -x "$tools/fleet-beat" ] || { echo "bench_monitor: no $tools/fleet-beat (make tools first)" >&2; exit 1; }
echo "after:  $qdeck ($(git -C "$repo" log --oneline -1 | cut -c1-60)$(git -C "$repo" diff --quiet HEAD 2>/dev/null || echo ', plus uncommitted changes'))"
[ -z "$before" ] || echo "before: $before"

start_redis
start_rabbit

load() { cut -d' ' -f1-3 /proc/loadavg; }
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
view_key() { case $1 in overview) echo 1 ;; queues) echo 2 ;; workers) echo 3 ;; latency) echo 4 ;;
  breakers) echo 5 ;; dlq) echo 6 ;; guardrails) echo 7 ;; *) echo "bench_monitor: no view '$1'" >&2; exit 2 ;; esac; }

# console SESSION BINARY: a console at 160x50 in the bench's tmux; echoes its pid
console() {
  tmux -L "$sock" -f /dev/null new-session -d -s "$1" -x 160 -y 50 \
    "$2 --amqp '$AMQP_URL' --mgmt '$MGMT_URL' --redis '$REDIS_URL' --refresh 1"
  local pid; pid=$(tmux -L "$sock" display-message -p -t "$1" '#{pane_pid}')
  [ "$(readlink -f "/proc/$pid/exe")" = "$(readlink -f "$2")" ] ||
    { echo "bench_monitor: the pane runs $(readlink -f "/proc/$pid/exe"), not $2" >&2; exit 1; }
  echo "$pid"
}
quit() { tmux -L "$sock" send-keys -t "$1" q; sleep 0.5; tmux -L "$sock" kill-session -t "$1" 2>/dev/null || true; }

# cpu_of PID SECONDS: % of one core over SECONDS
cpu_of() {
  local t0 a t1 b
  t0=$(date +%s.%N); a=$(ticks "$1")
  sleep "$2"
  t1=$(date +%s.%N); b=$(ticks "$1")
  awk -v a="$a" -v b="$b" -v s="$t0" -v e="$t1" -v hz="$hz" 'BEGIN { printf "%.2f\n", 100 * (b - a) / hz / (e - s) }'
}
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# measure SIDE BINARY ROUND: one console through every view; records
# fig[SIDE.VIEW] (CPU), fig[SIDE.rss], fig[SIDE.hwm] and prints each
declare -A fig
measure() {
  local side=$1 bin=$2 r=$3 pid v cpu
  pid=$(console "cpu-$side-$r" "$bin")
  sleep 5   # the first collections and the discovery walk
  for v in $views; do
    tmux -L "$sock" send-keys -t "cpu-$side-$r" "$(view_key "$v")"
    sleep 3
    cpu=$(cpu_of "$pid" "$window")
    fig[$side.$v]="${fig[$side.$v]:-} $cpu"
    printf 'round %d %-6s %-10s cpu %6.2f %% of a core   (load %s)\n' "$r" "$side" "$v" "$cpu" "$(load)"
  done
  local rss hwm
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  fig[$side.rss]="${fig[$side.rss]:-} $(mb "$rss")" fig[$side.hwm]="${fig[$side.hwm]:-} $(mb "$hwm")"
  printf 'round %d %-6s rss %s MB, peak %s MB, after %d s   (load %s)\n' "$r" "$side" "$(mb "$rss")" "$(mb "$hwm")" \
    "$(( $(cut -d. -f1 /proc/uptime) - $(awk -v hz="$hz" '{print int($22 / hz)}' "/proc/$pid/stat") ))" "$(load)"
  quit "cpu-$side-$r"
}

# keys SIDE BINARY ROUND: key latency healthy and with the brokers stopped
keys() {
  local side=$1 bin=$2 r=$3 s=keys-$1-$3 healthy stopped
  console "$s" "$bin" >/dev/null
  sleep 5
  healthy=$(python3 "$repo/tests/bench/keylatency.py" "$sock" "$s" 60 2 1)
  printf 'round %d %-6s keys, brokers healthy:    %s   (load %s)\n' "$r" "$side" "$healthy" "$(load)"
  kill -STOP "$REDIS_PID" "$RABBIT_PID"
  sleep 3
  stopped=$(python3 "$repo/tests/bench/keylatency.py" "$sock" "$s" 60 2 1) || stopped="median_ms=nan failed"
  kill -CONT "$REDIS_PID" "$RABBIT_PID"
  printf 'round %d %-6s keys, brokers SIGSTOPped: %s   (load %s)\n' "$r" "$side" "$stopped" "$(load)"
  fig[$side.healthy]="${fig[$side.healthy]:-} $(sed 's/.*median_ms=\([0-9.na]*\).*/\1/' <<<"$healthy")"
  fig[$side.stopped]="${fig[$side.stopped]:-} $(sed 's/.*median_ms=\([0-9.na]*\).*/\1/' <<<"$stopped")"
  quit "$s"
  sleep 4   # the fleet's beats resume before the next console
}

# broker_cost: RabbitMQ idle vs with one console (Queues view)
broker_cost() {
  echo "broker cost: RabbitMQ with $(curl -s "${MGMT_URL}api/overview" |
    sed -n 's/.*"queues":\([0-9]*\).*/\1/p') queues, idle vs one console (Queues view), ${window}s each"
  sleep 5   # the declares settle
  local idle loaded
  idle=$(cpu_of "$RABBIT_PID" "$window")
  tmux -L "$sock" -f /dev/null new-session -d -s broker -x 160 -y 50 \
    "$qdeck --amqp '$AMQP_URL' --mgmt '$MGMT_URL' --refresh 1"
  tmux -L "$sock" send-keys -t broker 2
  sleep 5
  loaded=$(cpu_of "$RABBIT_PID" "$window")
  quit broker
  printf 'rabbitmq cpu: idle %.2f %% of a core, with one console %.2f %%: +%.2f points (target <= 2.5), ratio %.2fx   (load %s)\n' \
    "$idle" "$loaded" "$(awk -v a="$loaded" -v b="$idle" 'BEGIN { print a - b }')" \
    "$(awk -v a="$loaded" -v b="$idle" 'BEGIN { print (b > 0 ? a / b : 0) }')" "$(load)"
}

echo "setup: 1,000 RabbitMQ queues"
"$tools/amqp-fill" "$AMQP_URL" declare-many bench. 1000 >/dev/null
if [ "$only" = broker ]; then broker_cost; exit 0; fi

if [ -z "$before" ] && [ "$only" != keys ]; then
  echo "baseline: this console with no Redis keys and no workers, ${window}s a view"
  measure empty "$qdeck" 0
fi

echo "setup: 1,000 Redis keys (500 lists, 500 streams with a group), $workers workers beating every second"
for i in $(seq 0 499); do
  printf 'RPUSH bench:list:%04d {"id":"b%d","type":"bench","payload":{},"created_at":%d}\r\n' "$i" "$i" "$(date +%s)"
  printf 'XGROUP CREATE bench:stream:%04d workers $ MKSTREAM\r\n' "$i"
done | redis-cli -p "$REDIS_PORT" >/dev/null
"$tools/fleet-beat" "$REDIS_URL" "$workers" --queues 500 'redis:bench:list:%04d' --queues 1000 'amqp:bench.%04d' \
  > "$QDECK_TEST_TMP/fleet-beat.out" 2>"$QDECK_TEST_TMP/fleet-beat.err" &
beat_pid=$!
for _ in $(seq 100); do grep -q beating "$QDECK_TEST_TMP/fleet-beat.out" && break; sleep 0.1; done
grep -q beating "$QDECK_TEST_TMP/fleet-beat.out" || { echo "bench_monitor: fleet-beat did not start" >&2; cat "$QDECK_TEST_TMP/fleet-beat.err" >&2; exit 1; }
sleep 2

sides() { if [ -z "$before" ]; then echo after; elif [ $(($1 % 2)) = 1 ]; then echo before after; else echo after before; fi; }
binary() { if [ "$1" = before ]; then echo "$before"; else echo "$qdeck"; fi; }

if [ -z "$only" ] || [ "$only" = cpu ]; then
  for r in $(seq "$rounds"); do
    for side in $(sides "$r"); do measure "$side" "$(binary "$side")" "$r"; done
  done
fi
if [ -z "$only" ] || [ "$only" = keys ]; then
  tmux -L "$sock" -f /dev/null new-session -d -s floor -x 160 -y 50 "cat"
  floor=$(python3 "$repo/tests/bench/keylatency.py" "$sock" floor 60 a b)
  tmux -L "$sock" kill-session -t floor
  echo "key latency floor (cat in the same tmux): $floor   (load $(load))"
  fig[floor]=$(sed 's/.*median_ms=\([0-9.]*\).*/\1/' <<<"$floor")
  for r in $(seq "$rounds"); do
    for side in $(sides "$r"); do keys "$side" "$(binary "$side")" "$r"; done
  done
fi

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "nan") }'; }
# row WHAT KEY TARGET UNIT: after, before, after/before, verdict (lower is better)
row() {
  local a b
  a=$(median <<<"${fig[after.$2]:-}") b=$(median <<<"${fig[before.$2]:-}")
  awk -v w="$1" -v a="$a" -v b="$b" -v t="$3" -v u="$4" -v have_b="${before:+1}" 'BEGIN {
    ratio = (have_b && b > 0) ? sprintf("%.2fx", a / b) : "-"
    verdict = (a == "nan" || a == "") ? "no figure" : (a + 0 <= t + 0 ? "met" : "MISSED")
    printf "  %-34s %9s %9s %9s   <= %s %-12s %s\n", w, a, (have_b ? b : "-"), ratio, t, u, verdict }'
}
echo "== $workers workers, 1,000 RabbitMQ queues, 1,000 Redis keys, --refresh 1, 160x50 (median of $rounds round(s)); load now $(load)"
printf '  %-34s %9s %9s %9s   %s\n' "" after before after/b target
if [ -z "$only" ] || [ "$only" = cpu ]; then
  for v in $views; do row "cpu, $v view" "$v" 5 "% of a core"; done
  row "rss at the end" rss 48 MB
  row "rss peak (VmHWM)" hwm 48 MB
  if [ -z "$before" ]; then
    for v in $views; do
      printf '  baseline: %s view on empty Redis, no workers: %s %% of a core\n' "$v" "$(median <<<"${fig[empty.$v]}")"
    done
    printf '  baseline rss %s MB\n' "$(median <<<"${fig[empty.rss]}")"
  fi
  # the line compare.sh reads: the busiest view's CPU of this binary
  printf 'cpu: %s %% of one core on the busiest view\n' \
    "$(for v in $views; do median <<<"${fig[after.$v]}"; done | sort -g | tail -1)"
fi
if [ -z "$only" ] || [ "$only" = keys ]; then
  row "key to redraw, brokers healthy" healthy 20 "ms median"
  row "key to redraw, brokers SIGSTOPped" stopped 20 "ms median"
  printf '  floor (cat in tmux): %s ms median; stopped/floor %s\n' "${fig[floor]}" \
    "$(awk -v a="$(median <<<"${fig[after.stopped]}")" -v b="${fig[floor]}" 'BEGIN { printf "%.2fx", a / b }')"
  awk -v f="${fig[floor]}" 'BEGIN { if (f > 20) printf "  the floor itself is above 20 ms: the machine is too busy for the key latency to be judged here\n" }'
fi
[ -n "$only" ] || broker_cost
