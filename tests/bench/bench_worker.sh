#!/usr/bin/env bash
# Worker throughput and the http plugin's concurrency, against baselines
# measured in the same run on the same private brokers (issue 3, "Must reach"):
#
#   noop tasks from RabbitMQ, ack after completion, result store off:
#     qdeck >= 10x Celery 5 (Debian's, prefork, acks_late, same broker, same
#     concurrency) and >= 0.7x a bare rabbitmq-c consume-and-ack loop
#   the same with the worker's default configuration (result records and
#     idempotency on, Redis configured; issue 11): >= 0.7x the bare loop,
#     printed beside the results-off figure
#   noop tasks from Redis lists: qdeck >= 10x Celery on the Redis broker
#   2,000 http tasks against an upstream answering after 1 s, 1,000 in
#     flight: all done in <= 3 s wall, worker peak RSS <= 64 MB
#
# How each side is measured:
#   bare    tests/tools/amqp-consume-ack: one connection, basic.qos prefetch
#           P, ack each message; it times itself from the first delivery.
#           It consumes the very messages qdeck consumes: envelopes written
#           by `qdeck publish` into a queue declared the same way. RabbitMQ's
#           own rate swings a lot here, so only the same messages in the same
#           run compare: one pair of runs of this loop consumed 100,000 bodies
#           of 10 bytes at 35,445 msgs/s and of 227 bytes (one noop envelope)
#           at 18,490 in the same minute; three runs on 20,000 envelopes gave
#           35,273, 17,868 and 18,637.
#   celery  tasks published with Celery's own apply_async
#           (tests/bench/celery_publish.py), then a prefork worker
#           (tests/bench/celery_noop.py) is started and drain_timer.py times
#           the queue from its first message to empty.
#   qdeck   tasks published with `qdeck publish`, then `qdeck worker` with
#           results and idempotency off, timed by the same drain_timer.py;
#           then again on fresh envelopes with [worker] results and
#           idempotency left at their defaults (on), right after a second
#           bare loop, and the Redis commands that run cost per task (INFO
#           commandstats, before and after).
#   http    `qdeck worker` with the http plugin against tests/tools/slow-upstream
#           (1 s per answer); and, broker-free, tests/tools/plugin-drive with
#           the same plugin (what the plugin costs on its own).
# Redis drains are exact (queue + processing lists + Celery's unacked hash);
# RabbitMQ drains count ready messages, so at most one prefetch window of
# unacked messages is not in the time (P / rate: a few ms).
#
# Knobs: BENCH_N (100000 noop tasks for bare and qdeck), BENCH_N_CELERY
# (20000), BENCH_CONCURRENCY (4), BENCH_PREFETCH (100), BENCH_HTTP_TASKS
# (2000), BENCH_HTTP_CONCURRENCY (1000), BENCH_HTTP_DELAY_MS (1000),
# BENCH_SKIP_CELERY=1. Needs `tests/lib/deps.sh bench` (Debian's Celery).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bench=$repo/tests/bench
qdeck=${QDECK:-$repo/build/qdeck}
tools=${TOOLS:-$repo/build/tools}
plugins=${QDECK_PLUGIN_DIR:-$(dirname "$qdeck")/plugins}
py=/usr/bin/python3            # Debian's Celery is visible to this one only
N=${BENCH_N:-100000}
N_CELERY=${BENCH_N_CELERY:-20000}
C=${BENCH_CONCURRENCY:-4}
P=${BENCH_PREFETCH:-100}
HTTP_N=${BENCH_HTTP_TASKS:-2000}
HTTP_C=${BENCH_HTTP_CONCURRENCY:-1000}
HTTP_DELAY=${BENCH_HTTP_DELAY_MS:-1000}
export QDECK_TEST_TMP=$(mktemp -d)
source "$repo/tests/lib/servers.sh"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true    # 1,000 sockets in flight

source "$bench/lib.sh"

for t in amqp-fill amqp-consume-ack slow-upstream plugin-drive; do
  [ -x "$tools/$t" ] || { echo "bench_worker: $tools/$t is not built (make tools)"; exit 1; }
done
celery_ok=1
if [ -n "${BENCH_SKIP_CELERY:-}" ] || ! "$py" -c 'import celery, kombu, redis, amqp' 2>/dev/null; then
  celery_ok=0
  echo "celery: not installed for $py (tests/lib/deps.sh bench) or BENCH_SKIP_CELERY set: Celery baselines skipped"
fi

start_redis
start_rabbit
CELERY_AMQP_URL=amqp://$RABBIT_USER:$RABBIT_PASS@127.0.0.1:$RABBIT_AMQP_PORT//
REDIS_DB_URL=$REDIS_URL/0
echo "brokers: RabbitMQ :$RABBIT_AMQP_PORT, Redis :$REDIS_PORT; concurrency $C, prefetch $P; $(nproc) cores"

# ratio A B -> "A/Bx" with two decimals, or "n/a"
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2fx", a / b }'; }
# peak RSS (VmHWM) of a pid, in MB
peak_mb() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }
# RSS of a pid and its children, in MB (Celery's prefork pool)
tree_rss_mb() {
  { echo "$1"; pgrep -P "$1" || true; } | while read -r p; do awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null; done |
    awk '{ s += $1 } END { printf "%.1f", s / 1024 }'
}

bare_rate="" bare_rate_2="" first_bare_rate="" celery_amqp_rate="" celery_redis_rate="" qdeck_amqp_rate="" qdeck_redis_rate=""
celery_amqp_rss="" qdeck_amqp_rss="" qdeck_redis_rss="" qdeck_default_rate="" qdeck_default_rss="" redis_per_task=""
http_wall="" http_rss="" drive_line=""

# ------------------------------------------------------ baseline: bare loop
bench_bare() {
  local cfg=$QDECK_TEST_TMP/qdeck-bare.conf queue=${1:-bench-bare} out
  echo "-- bare rabbitmq-c consume-and-ack, $N noop envelopes, prefetch $P"
  qdeck_config "$cfg" "$C" "$P"
  qdeck_publish "$cfg" "amqp:$queue" noop "$N" || return 0
  out=$("$tools/amqp-consume-ack" "$AMQP_URL" "$queue" "$N" --prefetch "$P")
  echo "   $out"
  bare_rate=$(rate_of "$out")
  "$tools/amqp-fill" "$AMQP_URL" delete "$queue"
}

# ------------------------------------------------------- baseline: Celery 5
# celery_run NAME BROKER_URL KIND DRAIN_URL: publish, start a prefork worker,
# time the drain; sets celery_out and celery_rss.
celery_run() {
  local name=$1 broker=$2 kind=$3 drain_url=$4 pid out
  local queue=celery-bench-$name
  echo "-- Celery 5 ($("$py" -c 'import celery; print(celery.__version__)'), prefork -c $C, acks_late, no results) on $name, $N_CELERY tasks"
  echo "   $(cd "$bench" && CELERY_BENCH_BROKER=$broker CELERY_BENCH_QUEUE=$queue "$py" celery_publish.py "$N_CELERY")"
  (cd "$bench" && CELERY_BENCH_BROKER=$broker CELERY_BENCH_QUEUE=$queue exec "$py" -m celery -A celery_noop worker \
     -P prefork -c "$C" -Q "$queue" --without-gossip --without-mingle --without-heartbeat -l WARNING) \
     >"$QDECK_TEST_TMP/celery-$name.log" 2>&1 &
  pid=$!; started+=("$pid")
  if ! out=$("$py" "$bench/drain_timer.py" "$kind" "$drain_url" "$queue" "$N_CELERY" --stall 60); then
    echo "   celery on $name did not drain; its log:"; tail -20 "$QDECK_TEST_TMP/celery-$name.log" | sed 's/^/   /'
    out=""
  fi
  celery_rss=$(tree_rss_mb "$pid")
  stop_pid "$pid"
  [ -n "$out" ] && echo "   $out (RSS of the worker and its pool: $celery_rss MB)"
  celery_out=$out
}

bench_celery() {
  [ "$celery_ok" = 1 ] || return 0
  celery_run amqp "$CELERY_AMQP_URL" amqp "$CELERY_AMQP_URL"
  celery_amqp_rate=$(rate_of "$celery_out"); celery_amqp_rss=$celery_rss
  celery_run redis "$REDIS_DB_URL" redis "$REDIS_DB_URL"
  celery_redis_rate=$(rate_of "$celery_out")
}

# ============================================================ qdeck side
# Everything below runs `qdeck worker --queues ADDR --concurrency C` on
# tasks from `qdeck publish ADDR --type T --payload JSON --count N`.

qdeck_worker_built() { [ -x "$qdeck" ] && "$qdeck" worker --help >/dev/null 2>&1; }

# qdeck_config FILE CONCURRENCY PREFETCH [UPSTREAM_PORT [default]]: a config
# with the private brokers, results and idempotency off (the issue's "result
# store off"; "default" leaves them at their defaults, on), and the task types
# the benchmark publishes.
qdeck_config() {
  local upstream_port=${4:-1} results=$'results = false\nidempotency = false'
  [ "${5:-}" = default ] && results="# results, idempotency: defaults (on)"
  cat >"$1" <<CONF
[qdeck]
context = bench

[context bench]
amqp = $AMQP_URL
mgmt = $MGMT_URL
redis = $REDIS_URL

[worker]
concurrency = $2
prefetch = $3
$results
plugin_dir = $plugins

[task noop]
handler = noop

[task http]
handler = http
args = url=http://127.0.0.1:$upstream_port/,timeout=30,connect_timeout=10
timeout = 60
CONF
  chmod 600 "$1"
}

# qdeck_publish CONFIG ADDR TYPE COUNT
qdeck_publish() {
  local t0 t1
  t0=$(date +%s.%N)
  if ! "$qdeck" --config "$1" publish "$2" --type "$3" --payload '{}' --count "$4" --declare --yes >"$QDECK_TEST_TMP/publish.log" 2>&1; then
    echo "   qdeck publish $2 failed:"; tail -5 "$QDECK_TEST_TMP/publish.log" | sed 's/^/   /'
    return 1
  fi
  t1=$(date +%s.%N)
  echo "   published $4 with qdeck publish in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
}

# qdeck_drain CONFIG ADDR KIND URL KEY COUNT CONCURRENCY: runs a worker on
# ADDR until the queue is empty; sets qdeck_out and qdeck_rss.
qdeck_drain() {
  local cfg=$1 addr=$2 kind=$3 url=$4 key=$5 count=$6 conc=$7 pid out
  "$qdeck" --config "$cfg" worker --queues "$addr" --concurrency "$conc" >"$QDECK_TEST_TMP/worker-$key.log" 2>&1 &
  pid=$!; started+=("$pid")
  if ! out=$("$py" "$bench/drain_timer.py" "$kind" "$url" "$key" "$count" --stall 60); then
    echo "   qdeck worker did not drain $addr; its log:"; tail -20 "$QDECK_TEST_TMP/worker-$key.log" | sed 's/^/   /'
    out=""
  fi
  qdeck_rss=$(peak_mb "$pid")
  stop_pid "$pid"
  qdeck_out=$out
  [ -z "$out" ] || echo "   $out (worker peak RSS $qdeck_rss MB)"
  [ -n "$out" ]
}

bench_qdeck_noop() {
  local cfg=$QDECK_TEST_TMP/qdeck-noop.conf
  qdeck_config "$cfg" "$C" "$P"
  echo "-- qdeck worker, noop from RabbitMQ, $N tasks, concurrency $C, prefetch $P"
  if qdeck_publish "$cfg" amqp:bench-qdeck noop "$N" &&
     qdeck_drain "$cfg" amqp:bench-qdeck amqp "$AMQP_URL" bench-qdeck "$N" "$C"; then
    qdeck_amqp_rate=$(rate_of "$qdeck_out"); qdeck_amqp_rss=$qdeck_rss
  fi
  echo "-- qdeck worker, noop from a Redis list, $N tasks, concurrency $C"
  if qdeck_publish "$cfg" redis:bench-qdeck noop "$N" &&
     qdeck_drain "$cfg" redis:bench-qdeck redis "$REDIS_DB_URL" bench-qdeck "$N" "$C"; then
    qdeck_redis_rate=$(rate_of "$qdeck_out"); qdeck_redis_rss=$qdeck_rss
  fi
}

# commandstats: "<command> <calls>" per line, as Redis counts them so far
redis_commandstats() {
  redis-cli -p "$REDIS_PORT" info commandstats | sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\).*/\1 \2/p'
}

bench_qdeck_noop_default() {
  local cfg=$QDECK_TEST_TMP/qdeck-default.conf
  qdeck_config "$cfg" "$C" "$P" 1 default
  echo "-- qdeck worker, default config (results + idempotency on), noop from RabbitMQ, $N tasks, concurrency $C, prefetch $P"
  if qdeck_publish "$cfg" amqp:bench-default noop "$N"; then
    redis_commandstats >"$QDECK_TEST_TMP/cmdstats.before"
    if qdeck_drain "$cfg" amqp:bench-default amqp "$AMQP_URL" bench-default "$N" "$C"; then
      qdeck_default_rate=$(rate_of "$qdeck_out"); qdeck_default_rss=$qdeck_rss
      redis_commandstats >"$QDECK_TEST_TMP/cmdstats.after"
      # the drain timer polls over AMQP, so Redis saw the worker only (its
      # heartbeats and guardrail reads included)
      redis_per_task=$(awk -v n="$N" 'NR == FNR { b[$1] = $2; next } { s += $2 - b[$1] } END { printf "%.2f", s / n }' \
        "$QDECK_TEST_TMP/cmdstats.before" "$QDECK_TEST_TMP/cmdstats.after")
      echo "   Redis commands per task: $redis_per_task ($(awk -v n="$N" 'NR == FNR { b[$1] = $2; next }
        $2 - b[$1] > 0 { printf "%s%s %.3f", sep, $1, ($2 - b[$1]) / n; sep = ", " }' \
        "$QDECK_TEST_TMP/cmdstats.before" "$QDECK_TEST_TMP/cmdstats.after"))"
    fi
  fi
}

bench_qdeck_http() {
  local port=$1 cfg=$QDECK_TEST_TMP/qdeck-http.conf secs
  qdeck_config "$cfg" "$HTTP_C" "$HTTP_C" "$port"
  echo "-- qdeck worker, $HTTP_N http tasks from a Redis list, $HTTP_C in flight, upstream answers after ${HTTP_DELAY} ms"
  if qdeck_publish "$cfg" redis:bench-http http "$HTTP_N" &&
     qdeck_drain "$cfg" redis:bench-http redis "$REDIS_DB_URL" bench-http "$HTTP_N" "$HTTP_C"; then
    # from the first task taken to the last one settled
    secs=$(sed -n 's/.* in \([0-9.]*\) s:.*/\1/p' <<<"$qdeck_out")
    http_wall=$secs; http_rss=$qdeck_rss
  fi
}
# ======================================================== end of qdeck side

bench_http_plugin_alone() {
  local port=$1
  echo "-- http plugin alone (plugin-drive, no broker): $HTTP_N calls, $HTTP_C in flight"
  if drive_line=$("$tools/plugin-drive" "$plugins" http "url=http://127.0.0.1:$port/,timeout=30,connect_timeout=10" \
                    "$HTTP_N" "$HTTP_C"); then
    echo "   $drive_line"
  else
    echo "   $drive_line"; drive_line=""
  fi
}

qdeck_worker_built || { echo "bench_worker: $qdeck worker is not built (make)"; exit 1; }
bench_bare
bench_celery
bench_qdeck_noop
first_bare_rate=$bare_rate
# RabbitMQ's rate here swings by several times within minutes: the default
# configuration is compared with a bare loop measured right before it too
bench_bare bench-bare-2
bare_rate_2=$bare_rate bare_rate=$first_bare_rate
bench_qdeck_noop_default

"$tools/slow-upstream" "$HTTP_DELAY" >"$QDECK_TEST_TMP/upstream.out" 2>"$QDECK_TEST_TMP/upstream.err" &
upstream=$!; started+=("$upstream")
for _ in $(seq 50); do [ -s "$QDECK_TEST_TMP/upstream.out" ] && break; sleep 0.1; done
up_port=$(awk '/^port/ { print $2 }' "$QDECK_TEST_TMP/upstream.out")
bench_http_plugin_alone "$up_port"
bench_qdeck_http "$up_port"

echo
echo "== worker figures (one run, same machine, same brokers)"
printf '  %-44s %10s msgs/s  (again just before the default config: %s)\n' "bare rabbitmq-c consume+ack (prefetch $P)" \
  "${bare_rate:-n/a}" "${bare_rate_2:-n/a}"
printf '  %-44s %10s msgs/s  (RSS %s MB)\n' "Celery prefork -c$C, RabbitMQ" "${celery_amqp_rate:-n/a}" "${celery_amqp_rss:-n/a}"
printf '  %-44s %10s msgs/s\n' "Celery prefork -c$C, Redis" "${celery_redis_rate:-n/a}"
printf '  %-44s %10s msgs/s  (peak RSS %s MB)\n' "qdeck worker -c$C, RabbitMQ" "${qdeck_amqp_rate:-n/a}" "${qdeck_amqp_rss:-n/a}"
printf '  %-44s %10s msgs/s  (peak RSS %s MB, %s Redis commands/task)\n' "qdeck worker -c$C, RabbitMQ, default config" \
  "${qdeck_default_rate:-n/a}" "${qdeck_default_rss:-n/a}" "${redis_per_task:-n/a}"
printf '  %-44s %10s msgs/s  (peak RSS %s MB)\n' "qdeck worker -c$C, Redis list" "${qdeck_redis_rate:-n/a}" "${qdeck_redis_rss:-n/a}"
echo "  ratios:"
echo "    qdeck/celery, RabbitMQ: $(ratio "$qdeck_amqp_rate" "$celery_amqp_rate")   (target >= 10)"
echo "    qdeck/bare,   RabbitMQ, default config: $(ratio "$qdeck_default_rate" "$bare_rate_2") against the bare loop just before it, $(ratio "$qdeck_default_rate" "$bare_rate") against the first   (target >= 0.7; results off: $(ratio "$qdeck_amqp_rate" "$bare_rate"))"
echo "    qdeck/bare,   RabbitMQ, results off:    $(ratio "$qdeck_amqp_rate" "$bare_rate")   (target >= 0.7)"
echo "    qdeck default config / results off:     $(ratio "$qdeck_default_rate" "$qdeck_amqp_rate")   (what the result store and idempotency cost)"
echo "    qdeck/celery, Redis:    $(ratio "$qdeck_redis_rate" "$celery_redis_rate")   (target >= 10)"
echo "    bare/celery,  RabbitMQ: $(ratio "$bare_rate" "$celery_amqp_rate")   (the headroom a worker has over Celery)"
echo "  http, $HTTP_N tasks, $HTTP_C in flight, upstream ${HTTP_DELAY} ms:"
echo "    plugin alone:  ${drive_line#plugin-drive: }"
echo "    qdeck worker:  ${http_wall:-n/a} s wall (target <= 3), peak RSS ${http_rss:-n/a} MB (target <= 64)"
