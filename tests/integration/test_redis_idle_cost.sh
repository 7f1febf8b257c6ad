#!/usr/bin/env bash
# What an idle qdeck costs Redis, with and without a million unrelated keys
# (a Celery result backend keeps one celery-task-meta-* key per task for a
# day). One console (Overview, 1 s refresh) and three idle workers on a
# Redis list, measured over 10 s from INFO commandstats (usec summed over
# every command, after CONFIG RESETSTAT): at most 200 ms of Redis CPU with
# 1,000,000 keys, and not more than with none beyond the discovery budget
# (the background SCAN is the only work that sees the keyspace at all).
# The console shows how far its discovery has come.
#
# A private redis-server of its own (the million keys would slow every
# other test on the shared one), stopped by its pid.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/screen.sh"
source "$here/../lib/servers.sh"

T=$QDECK_TEST_TMP/idle-cost-$$
mkdir -p "$T/redis"
PORT=$(free_ports 1)
R=(redis-cli -p "$PORT")
workers=()
cleanup() {
  screen_stop_all
  local p
  for p in "${workers[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  local pid; pid=$(cat "$T/redis/redis.pid" 2>/dev/null)
  "${R[@]}" shutdown nosave >/dev/null 2>&1
  [ -n "$pid" ] && _poll 50 _dead "$pid"
}
trap cleanup EXIT

redis-server --port "$PORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no --enable-debug-command local \
  --dir "$T/redis" --pidfile "$T/redis/redis.pid" --logfile "$T/redis/redis.log" >/dev/null
check "private redis-server up" wait_for 10 "${R[@]}" ping
URL=redis://127.0.0.1:$PORT

cat >"$T/qdeck.conf" <<CONF
[context idle]
redis = $URL

[worker]
queues = redis:jobs
concurrency = 2
CONF
chmod 600 "$T/qdeck.conf"

registered() { [ "$("${R[@]}" zcard qdeck:registry:workers)" = "$1" ]; }

# usec of every command since the last CONFIG RESETSTAT
redis_usec() {
  "${R[@]}" info commandstats | tr -d '\r' |
    awk -F'[:,=]' '/^cmdstat_/ { for (i = 2; i <= NF; i++) if ($i == "usec") s += $(i + 1) } END { printf "%d\n", s }'
}

# cost LABEL: console + 3 idle workers; prints Redis usec over 10 s
cost() {
  local label=$1 i
  workers=()
  for i in 1 2 3; do
    "$QDECK_PLAIN" --config "$T/qdeck.conf" worker >"$T/worker-$label-$i.log" 2>&1 &
    workers+=($!)
  done
  screen_start "$label" "$QDECK_PLAIN --config $T/qdeck.conf --refresh 1"
  wait_for 20 registered 3 >/dev/null || echo "  (workers did not all register: $("${R[@]}" zcard qdeck:registry:workers))" >&2
  screen_wait "$label" 20 'discovery' || true
  sleep 3    # past start-up: connections made, the first reads done
  "${R[@]}" config resetstat >/dev/null
  sleep 10
  local usec; usec=$(redis_usec)
  "${R[@]}" info commandstats | tr -d '\r' | grep '^cmdstat_' | sort -t= -k3 -n -r >"$T/commandstats-$label"
  screen_text "$label" >"$T/screen-$label"
  screen_keys "$label" q
  for i in "${workers[@]}"; do kill -TERM "$i" 2>/dev/null; done
  for i in "${workers[@]}"; do wait "$i" 2>/dev/null; done
  workers=()
  wait_for 10 registered 0 >/dev/null || true
  echo "$usec"
}

empty=$(cost empty)
"${R[@]}" debug populate 1000000 celery-task-meta- >/dev/null
check "a million unrelated keys (besides qdeck's own few)" test "$("${R[@]}" dbsize)" -ge 1000000
full=$(cost full)

echo "  Redis CPU in 10 s, one console + 3 idle workers:"
printf '    %-26s %8.1f ms\n' "0 unrelated keys" "$(awk -v u="$empty" 'BEGIN { print u / 1000 }')" \
  "1,000,000 unrelated keys" "$(awk -v u="$full" 'BEGIN { print u / 1000 }')"
echo "  busiest commands with 1,000,000 keys:"
head -5 "$T/commandstats-full" | sed 's/^/    /'
check "with 1,000,000 keys: at most 200 ms of Redis CPU in 10 s (got $((full / 1000)) ms)" test "$full" -le 200000
# the discovery budget (redis_scan_rate, 2,000 keys looked at a second, about
# 1.1 us a key for SCAN ... TYPE here) is all that may grow with the keyspace:
# 20,000 keys in 10 s, at most 50 ms even at 2.5 us a key
check "the keyspace adds no more than the discovery budget (0 keys: $((empty / 1000)) ms, 1M: $((full / 1000)) ms)" \
  test "$full" -le $((empty + 50000))
expect_match "the console shows how far discovery has come" "$(cat "$T/screen-full")" \
  'discovery [0-9]+% \([0-9.]+[kM]?/1\.0M keys\)'
expect_match "an empty keyspace: discovery complete" "$(cat "$T/screen-empty")" 'discovery complete'
finish
