#!/usr/bin/env bash
# Graceful shutdown, on RabbitMQ and on a Redis list:
#  - SIGTERM: running tasks finish and are acked; tasks not started go back
#    untouched; exit 0.
#  - SIGTERM with a drain deadline shorter than the tasks: the running ones
#    are cancelled at the deadline and go back unacked; nothing is lost.
#  - a second SIGTERM: fast exit, still nothing unfinished acked.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/worker.sh"

R="redis-cli -p $REDIS_PORT"
T=$QDECK_TEST_TMP/drain
worker_plugins "$T"
log=$T/runs.log

config() {   # config QUEUE SHUTDOWN_TIMEOUT
  cat >"$T/qdeck.conf" <<CONF
[context t]
amqp = $AMQP_URL
redis = $REDIS_URL

[worker]
queues = $1
concurrency = 4
prefetch = 8
plugin_dir = $T/plugins
shutdown_timeout = $2

[task rec]
handler = worker_record
args = file=$log
CONF
  chmod 600 "$T/qdeck.conf"
}
count() { grep -c "^$1 " "$log"; }
at_least() { [ "$(count "$1")" -ge "$2" ]; }
waiting() {   # tasks waiting in the queue, and for lists nothing in processing
  if [ "$kind" = amqp ]; then "$TOOLS/amqp-fill" "$AMQP_URL" depth work | awk '{ print $1 }'
  else [ -z "$($R keys 'qdeck:processing:*')" ] && $R llen work; fi
}
waiting_is() { [ "$(waiting)" = "$1" ]; }

for kind in amqp redis; do
  addr=$kind:work
  # ---------------------------------------------------------- drain: finish the running
  : >"$log"
  config "$addr" 20
  "$QDECK" --config "$T/qdeck.conf" publish "$addr" --type rec --payload '{"ms":1500}' --count 8 --declare >/dev/null 2>&1
  "$QDECK" --config "$T/qdeck.conf" worker 2>"$T/worker-$kind.err" &
  pid=$!
  check "$kind: 4 tasks running" wait_for 20 at_least S 4
  kill -TERM "$pid"
  wait "$pid"; rc=$?
  expect_eq "$kind drain: exit 0" "$rc" 0
  expect_eq "$kind drain: the 4 running tasks finished" "$(count E)" 4
  expect_eq "$kind drain: no other task started" "$(count S)" 4
  check "$kind drain: the 4 not started are back in the queue" wait_for 10 waiting_is 4

  # ---------------------------------------------------------- deadline: give back the running
  "$QDECK" --config "$T/qdeck.conf" publish "$addr" --type rec --payload '{"ms":20000}' --count 4 >/dev/null 2>&1
  : >"$log"
  config "$addr" 1
  "$QDECK" --config "$T/qdeck.conf" worker 2>"$T/worker-$kind-2.err" &
  pid=$!
  check "$kind: 4 tasks running again" wait_for 20 at_least S 4
  t0=$EPOCHREALTIME
  kill -TERM "$pid"
  wait "$pid"; rc=$?
  took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  expect_eq "$kind deadline: exit 0" "$rc" 0
  check "$kind deadline: stopped within the 1 s deadline (+2 s), took ${took}s" awk -v t="$took" 'BEGIN { exit !(t < 3) }'
  expect_eq "$kind deadline: nothing finished" "$(count E)" 0
  check "$kind deadline: all 8 back in the queue, nothing acked" wait_for 10 waiting_is 8

  # ---------------------------------------------------------- second signal: fast
  : >"$log"
  config "$addr" 30
  "$QDECK" --config "$T/qdeck.conf" worker 2>"$T/worker-$kind-3.err" &
  pid=$!
  check "$kind: 4 tasks running a third time" wait_for 20 at_least S 4
  t0=$EPOCHREALTIME
  kill -TERM "$pid"; sleep 0.3; kill -TERM "$pid"
  wait "$pid"; rc=$?
  took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  check "$kind second signal: exit within 3 s (took ${took}s, rc $rc)" awk -v t="$took" 'BEGIN { exit !(t < 3) }'
  expect_eq "$kind second signal: nothing finished" "$(count E)" 0
  check "$kind second signal: all 8 back in the queue" wait_for 10 waiting_is 8
  if [ "$kind" = amqp ]; then "$TOOLS/amqp-fill" "$AMQP_URL" purge work >/dev/null; else $R del work >/dev/null; fi
done

finish
