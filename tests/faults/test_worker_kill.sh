#!/usr/bin/env bash
# SIGKILL a worker 5 times while it works through 10,000 tasks, restarting
# it each time — once on RabbitMQ, once on a Redis list. Every task
# completes (COMPLETED in the result store, nothing left in the queue, the
# processing lists or the DLQ), and with idempotency on no handler starts
# for a task after that task had completed (no run's start time is later
# than the task's recorded finished_at). Runs that were cut off by a kill
# before their completion was stored do run again: that is at-least-once.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/worker.sh"

N=${WORKER_KILL_TASKS:-10000}
KILLS=5
R="redis-cli -p $REDIS_PORT"

# run_case KIND QUEUE: publish N, kill and restart 5 times, let it finish.
run_case() {
  local kind=$1 addr=$2 T=$QDECK_TEST_TMP/kill-$1
  worker_plugins "$T"
  local log=$T/runs.log
  : >"$log"
  cat >"$T/qdeck.conf" <<CONF
[context t]
amqp = $AMQP_URL
redis = $REDIS_URL

[worker]
queues = $addr
concurrency = 8
prefetch = 32
plugin_dir = $T/plugins
heartbeat = 0.2
reap_after = 1
shutdown_timeout = 10

[task rec]
handler = worker_record
args = file=$log,ms=1
CONF
  chmod 600 "$T/qdeck.conf"
  "$QDECK" --config "$T/qdeck.conf" publish "$addr" --type rec --count "$N" --declare >"$T/ids" 2>"$T/publish.err"
  expect_eq "$kind: $N tasks published" "$(wc -l <"$T/ids")" "$N"

  local i pid
  for i in $(seq "$KILLS"); do
    "$QDECK" --config "$T/qdeck.conf" worker 2>>"$T/worker.err" &
    pid=$!
    # let it get some work done, then kill it mid-flight
    local before; before=$(grep -c '^E ' "$log")
    wait_for 30 enough_done "$log" $((before + N / 8)) || true
    kill -KILL "$pid"; wait "$pid" 2>/dev/null
  done
  "$QDECK" --config "$T/qdeck.conf" worker 2>>"$T/worker.err" &
  pid=$!
  check "$kind: every task completed after $KILLS kills" wait_for 120 all_completed "$T/ids"
  kill -TERM "$pid"; wait "$pid"
  expect_eq "$kind: the last worker exits 0 on SIGTERM" "$?" 0

  # every id ran to the end at least once
  local missing
  missing=$(awk 'NR == FNR { want[$1] = 1; next } $1 == "E" { delete want[$2] } END { for (k in want) print k }' "$T/ids" "$log" | head -3)
  expect_eq "$kind: every task's handler finished at least once" "$missing" ""
  # no run started after the task was recorded complete
  sed 's/^/HGET qdeck:task:/; s/$/ finished_at/' "$T/ids" | $R >"$T/finished"
  local late
  late=$(paste -d' ' "$T/ids" "$T/finished" |
    awk 'NR == FNR { fin[$1] = $2 * 1e6; next } $1 == "S" && fin[$2] > 0 && $4 > fin[$2] + 2000 { print $2; exit }' - "$log")
  expect_eq "$kind: no handler started after its task had completed" "$late" ""
  local runs reruns
  runs=$(grep -c '^S ' "$log")
  reruns=$((runs - N))
  echo "  ($kind: $runs handler runs for $N tasks: $reruns re-run after a kill cut them off)"
  check "$kind: re-runs bounded by what was in flight at the kills" test "$reruns" -le $((KILLS * 40))
  expect_eq "$kind: nothing dead-lettered" "$(dlq_len "$kind")" 0
}

enough_done() { [ "$(grep -c '^E ' "$1")" -ge "$2" ]; }
all_completed() {
  # the queue is empty and every task's record says COMPLETED
  [ "$(queue_len "$kind")" = 0 ] || return 1
  [ -z "$($R keys 'qdeck:processing:*')" ] || return 1
  local n
  n=$(sed 's/^/HGET qdeck:task:/; s/$/ status/' "$1" | $R | grep -c '^COMPLETED$')
  [ "$n" = "$N" ]
}
queue_len() {
  if [ "$1" = amqp ]; then "$TOOLS/amqp-fill" "$AMQP_URL" depth work | awk '{ print $1 }'; else $R llen work; fi
}
dlq_len() {
  if [ "$1" = amqp ]; then "$TOOLS/amqp-fill" "$AMQP_URL" depth work.dlq 2>/dev/null | awk '{ print $1 }' || echo 0
  else $R llen work:dlq; fi
}

kind=amqp run_case amqp amqp:work
kind=redis run_case redis redis:work

finish
