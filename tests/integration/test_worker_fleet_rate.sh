#!/usr/bin/env bash
# Fleet-wide rate limit through real workers: 3, then 10 `qdeck worker`
# processes whose http tasks share [dependency api] rate = 50 with
# fleet_rate = true (GCRA in Redis) call a local upstream that logs the
# arrival time of every request. Counted at the upstream, the fleet stays
# at 50 calls per second together — not N x 50 — and uses the quota: a
# throttled task waits in its worker's rate waiting room for a reserved
# slot instead of bouncing through the retry path, so
#   - the fleet averages at least 95 % of the rate, no second over it;
#   - throttling uses up no attempt (max_attempts = 1: nothing is retried
#     or dead-lettered);
#   - the whole fleet sends Redis at most 12 commands per upstream call
#     (INFO commandstats; results and idempotency are off, so this is the
#     limiter, the queue and the control plane together).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

T=$QDECK_TEST_TMP/fleet-rate
mkdir -p "$T"
python3 "$here/../lib/arrivals-upstream.py" "$T/arrivals.txt" > "$T/port" &
upstream=$!
workers=()
cleanup() { kill "${workers[@]}" "$upstream" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT
wait_for 10 test -s "$T/port"
port=$(cat "$T/port")

cat > "$T/qdeck.conf" <<CONF
[context t]
redis = $REDIS_URL
[worker]
queues = redis:calls
concurrency = 8
results = false          ; the limiter still reaches Redis without a result store
idempotency = false
max_attempts = 1         ; a throttled call that used an attempt would be dead-lettered
[task call]
handler = http
args = url=http://127.0.0.1:$port/,timeout=5
dependency = api
[dependency api]
rate = 50
burst = 1
fleet_rate = true
CONF
chmod 600 "$T/qdeck.conf"

# redis_calls: every command Redis has run since the last CONFIG RESETSTAT
redis_calls() {
  redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' |
    awk -F'[:=,]' '/^cmdstat_/ && $2 == "calls" { s += $3 } END { print s + 0 }'
}

run_fleet() {
  local n=$1
  redis-cli -p "$REDIS_PORT" del calls calls:dlq calls:delayed >/dev/null
  : > "$T/arrivals.txt"
  "$QDECK_PLAIN" --config "$T/qdeck.conf" publish redis:calls --type call --payload '{}' --count 2000 >/dev/null
  redis-cli -p "$REDIS_PORT" config resetstat >/dev/null
  for i in $(seq 1 "$n"); do
    "$QDECK_PLAIN" --config "$T/qdeck.conf" worker > "$T/worker$n-$i.log" 2>&1 &
    workers+=($!)
  done
  sleep 12
  kill -TERM "${workers[@]}"
  for p in "${workers[@]}"; do wait "$p"; done
  workers=()
  local commands calls
  commands=$(( $(redis_calls) - 1 ))   # less the INFO that reads them
  redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ { print $3, $1 }' |
    sort -rn | head -8 | awk '{ sub("cmdstat_", "", $2); printf "  %s workers: %6d %s\n", N, $1, $2 }' N="$n"
  calls=$(wc -l < "$T/arrivals.txt")

  # whole seconds of upstream time, leaving out the first and the last (partial)
  per_second=$(awk '{ print int($1) }' "$T/arrivals.txt" | sort -n | uniq -c | awk '{ print $2, $1 }' | sed '1d;$d')
  echo "$per_second" | awk '{ printf "  second %s: %d calls at the upstream\n", $1, $2 }'
  seconds=$(wc -l <<<"$per_second")
  max=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' <<<"$per_second")
  min=$(awk 'BEGIN { m = 1e9 } $2 < m { m = $2 } END { print m }' <<<"$per_second")
  total=$(awk '{ s += $2 } END { print s }' <<<"$per_second")
  check "$n workers: at least 8 full seconds measured" test "$seconds" -ge 8
  # GCRA spaces admissions 20 ms apart; a request's trip to the upstream can
  # move one across a second's edge, so a second holds at most 50 + 1
  check "$n workers: never more than 50 (+1 at a second's edge) calls in a second, fleet-wide (max $max)" test "$max" -le 51
  check "$n workers: on average at most 50 per second ($total in $seconds s)" test "$total" -le $((50 * seconds + 1))
  # the quota is used: reserved slots are back to back while tasks wait
  check "$n workers: at least 95 % of the rate on average ($total in $seconds s)" test $((total * 100)) -ge $((95 * 50 * seconds))
  check "$n workers: no second starved: every second at least 20 (min $min)" test "$min" -ge 20
  check "$n workers: every worker completed calls" bash -c "for i in \$(seq 1 $n); do grep -qE 'stopped \(processed [1-9]' '$T/worker$n-'\$i.log || exit 1; done"
  check "$n workers: throttling used up no attempt: nothing retried" bash -c "! grep -hE 'stopped \(' '$T'/worker$n-*.log | grep -vq 'retried 0,'"
  check "$n workers: and nothing dead-lettered" test "$(redis-cli -p "$REDIS_PORT" llen calls:dlq)" = 0
  per_call=$(awk -v c="$commands" -v n="$calls" 'BEGIN { printf "%.2f", n ? c / n : 1e9 }')
  echo "  $n workers: $commands Redis commands for $calls upstream calls: $per_call per call"
  check "$n workers: at most 12 Redis commands per upstream call, fleet-wide ($per_call)" \
    awk -v c="$commands" -v n="$calls" 'BEGIN { exit !(n > 0 && c <= 12 * n) }'
}

run_fleet 3
run_fleet 10
finish
