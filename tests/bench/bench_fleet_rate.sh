#!/usr/bin/env bash
# The fleet rate limiter, measured where a provider measures it: N `qdeck
# worker` processes share [dependency api] rate = 50 (fleet_rate, burst 1)
# and call a local upstream that logs every arrival. For 3 and 10 workers
# it prints
#   - utilisation: calls at the upstream over full seconds ÷ the rate
#     (the quota, the baseline; target >= 0.95);
#   - the busiest second (target <= 51: 50, +1 at a second's edge);
#   - Redis commands per upstream call, fleet-wide, from INFO commandstats
#     (target <= 12), with the five commands sent most.
# Results and idempotency are off, so Redis work is the limiter's, the
# queue's and the control plane's.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
qdeck=${QDECK_PLAIN:-$repo/build/qdeck}
export QDECK_TEST_TMP=$(mktemp -d)
source "$repo/tests/lib/servers.sh"
source "$repo/tests/bench/lib.sh"
SECONDS_RUN=${BENCH_SECONDS:-20}
start_redis
T=$QDECK_TEST_TMP
python3 "$repo/tests/lib/arrivals-upstream.py" "$T/arrivals.txt" > "$T/port" &
started+=($!)
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
cat > "$T/qdeck.conf" <<CONF
[context t]
redis = $REDIS_URL
[worker]
queues = redis:calls
concurrency = 8
results = false
idempotency = false
max_attempts = 1
[task call]
handler = http
args = url=http://127.0.0.1:$(cat "$T/port")/,timeout=5
dependency = api
[dependency api]
rate = 50
burst = 1
fleet_rate = true
CONF
chmod 600 "$T/qdeck.conf"

printf '%8s %12s %12s %14s %16s  %s\n' workers calls/s utilisation busiest_second redis_cmds/call top_commands
status=0
for n in 3 10; do
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
  : > "$T/arrivals.txt"
  "$qdeck" --config "$T/qdeck.conf" publish redis:calls --type call --payload '{}' --count $((60 * SECONDS_RUN)) >/dev/null 2>&1
  redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
  pids=()
  for i in $(seq "$n"); do
    "$qdeck" --config "$T/qdeck.conf" worker > "$T/worker$i.log" 2>&1 &
    pids+=($!)
  done
  sleep "$SECONDS_RUN"
  for p in "${pids[@]}"; do stop_pid "$p"; done
  stats=$(redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r')
  commands=$(awk -F'[:=,]' '/^cmdstat_/ { s += $3 } END { print s - 1 }' <<<"$stats")
  top=$(awk -F'[:=,]' '/^cmdstat_/ { sub("cmdstat_", "", $1); print $3, $1 }' <<<"$stats" | sort -rn | head -5 |
        awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }')
  calls=$(wc -l < "$T/arrivals.txt")
  per_second=$(awk '{ print int($1) }' "$T/arrivals.txt" | sort -n | uniq -c | awk '{ print $1 }' | sed '1d;$d')
  full=$(wc -l <<<"$per_second")
  total=$(awk '{ s += $1 } END { print s }' <<<"$per_second")
  busiest=$(sort -n <<<"$per_second" | tail -1)
  read -r rate util per_call < <(awk -v t="$total" -v f="$full" -v c="$commands" -v n="$calls" \
    'BEGIN { printf "%.1f %.3f %.2f\n", t / f, t / f / 50, c / n }')
  printf '%8s %12s %12s %14s %16s  %s\n' "$n" "$rate" "$util" "$busiest" "$per_call" "$top"
  awk -v u="$util" -v b="$busiest" -v p="$per_call" -v n="$n" 'BEGIN {
    ok = u >= 0.95 && b <= 51 && p <= 12
    printf "target (%s workers): utilisation >= 0.95, busiest second <= 51, <= 12 commands per call: %s\n", n, ok ? "met" : "MISSED"
    exit !ok }' || status=1
done
exit $status
