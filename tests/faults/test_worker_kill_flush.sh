#!/usr/bin/env bash
# SIGKILL a worker while thousands of tasks are completing, so that kills
# land while the result store's batch (idempotency checks, records, done
# marks in one MULTI/EXEC pipeline) is being written — 6 times, restarting it
# each time, once on RabbitMQ and once on a Redis list. Quick tasks and a
# deep prefetch (400 received, 8 running 1 ms each) keep hundreds of
# marks in every round trip; every other kill
# comes while Redis holds writes back (CLIENT PAUSE WRITE), so a batch is
# surely in flight, with finished tasks queued behind it.
#
# After every kill, before the restart: a done key exists exactly for the
# tasks whose record says COMPLETED (a batch is applied whole or not at all),
# and the tasks that finished in that run without their mark are counted:
# each kill during a pause must have cut some off. At the end, as in
# test_worker_kill.sh: every task COMPLETED with its done key, nothing left
# in the queue, processing lists or DLQ, no handler started after its task
# had completed, and re-runs bounded by what was in flight at the kills.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/worker.sh"

N=${WORKER_FLUSH_TASKS:-12000}
KILLS=6
PREFETCH=400
R="redis-cli -p $REDIS_PORT"

ends() { grep -c '^E ' "$1"; }
enough_done() { [ "$(ends "$1")" -ge "$2" ]; }
# marks_held LOG FROM: one of the last 400 tasks that ended since line FROM has no done key yet
marks_held() {
  tail -n +"$2" "$1" | awk '$1 == "E" { print $2 }' | tail -n 400 | sed 's/^/EXISTS qdeck:done:/' | $R | grep -qx 0
}

# done_vs_status IDS: one line per task, "<id> <done key exists> <status>"
done_vs_status() {
  paste -d' ' "$1" <(sed 's/^/EXISTS qdeck:done:/' "$1" | $R) <(sed 's/^/HGET qdeck:task:/; s/$/ status/' "$1" | $R)
}

run_case() {
  local kind=$1 addr=$2 T=$QDECK_TEST_TMP/flush-$1
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
prefetch = $PREFETCH
plugin_dir = $T/plugins
heartbeat = 0.2
reap_after = 1
shutdown_timeout = 10

[task rec]
handler = worker_record
args = file=$log,ms=1
CONF
  chmod 600 "$T/qdeck.conf"
  "$QDECK" --config "$T/qdeck.conf" publish "$addr" --declare --type rec --count "$N" >"$T/ids" 2>"$T/publish.err"
  expect_eq "$kind: $N tasks published" "$(wc -l <"$T/ids")" "$N"

  local i pid torn=0 caught=0 paused_kills=0 in_batch from
  for i in $(seq "$KILLS"); do
    from=$(($(wc -l <"$log") + 1))
    "$QDECK" --config "$T/qdeck.conf" worker 2>>"$T/worker.err" &
    pid=$!
    # kill it in full flow, with plenty left: once it has finished another N/16
    local before; before=$(ends "$log")
    wait_for 60 enough_done "$log" $((before + N / 16)) || true
    if [ $((i % 2)) = 0 ]; then
      # every other kill while Redis holds writes back: the batch in flight
      # is stuck, the tasks after it finish and wait for their marks. Killed
      # once a task of this run has ended without its mark behind the pause
      # (a worker between fetches may have none in hand: then let it fetch
      # a little, and pause again)
      local try
      for try in 1 2 3 4 5; do
        $R client pause 2000 write >/dev/null
        wait_for 1.5 marks_held "$log" "$from" 2>/dev/null && break
        $R client unpause >/dev/null
        wait_for 10 enough_done "$log" $(($(ends "$log") + 20)) || true
      done
      kill -KILL "$pid"; wait "$pid" 2>/dev/null
      $R client unpause >/dev/null
      paused_kills=$((paused_kills + 1))
    else
      kill -KILL "$pid"; wait "$pid" 2>/dev/null
    fi
    done_vs_status "$T/ids" >"$T/state-$i"
    torn=$((torn + $(awk '($2 == 1) != ($3 == "COMPLETED")' "$T/state-$i" | wc -l)))
    # finished in this run (E line) but no done key: marks the kill cut off
    in_batch=$(tail -n +"$from" "$log" | awk 'NR == FNR { if ($2 == 0) pending[$1] = 1; next }
                    $1 == "E" && ($2 in pending) { delete pending[$2]; n++ } END { print n + 0 }' "$T/state-$i" -)
    echo "  ($kind kill $i$([ $((i % 2)) = 0 ] && echo ', Redis paused'): $(ends "$log") handler ends so far, $in_batch finished in this run without their mark)"
    [ $((i % 2)) = 0 ] && [ "$in_batch" -gt 0 ] && caught=$((caught + 1))
  done
  expect_eq "$kind: after every kill, a done key exists exactly for the COMPLETED records" "$torn" 0
  expect_eq "$kind: each kill while Redis was paused cut off marks in flight" "$caught" "$paused_kills"

  "$QDECK" --config "$T/qdeck.conf" worker 2>>"$T/worker.err" &
  pid=$!
  check "$kind: every task completed after $KILLS kills" wait_for 120 all_completed "$T/ids"
  kill -TERM "$pid"; wait "$pid"
  expect_eq "$kind: the last worker exits 0 on SIGTERM" "$?" 0

  done_vs_status "$T/ids" >"$T/state-end"
  expect_eq "$kind: every task has its done key and COMPLETED record" \
    "$(awk '$2 == 1 && $3 == "COMPLETED"' "$T/state-end" | wc -l)" "$N"
  local missing
  missing=$(awk 'NR == FNR { want[$1] = 1; next } $1 == "E" { delete want[$2] } END { for (k in want) print k }' "$T/ids" "$log" | head -3)
  expect_eq "$kind: every task's handler finished at least once" "$missing" ""
  sed 's/^/HGET qdeck:task:/; s/$/ finished_at/' "$T/ids" | $R >"$T/finished"
  local late
  late=$(paste -d' ' "$T/ids" "$T/finished" |
    awk 'NR == FNR { fin[$1] = $2 * 1e6; next } $1 == "S" && fin[$2] > 0 && $4 > fin[$2] + 2000 { print $2; exit }' - "$log")
  expect_eq "$kind: no handler started after its task had completed" "$late" ""
  local runs reruns
  runs=$(grep -c '^S ' "$log")
  reruns=$((runs - N))
  echo "  ($kind: $runs handler runs for $N tasks: $reruns re-run after a kill cut them off)"
  check "$kind: re-runs bounded by what was in flight at the kills" test "$reruns" -le $((KILLS * PREFETCH))
  expect_eq "$kind: nothing dead-lettered" "$(dlq_len "$kind")" 0
}

all_completed() {
  [ "$(queue_len "$kind")" = 0 ] || return 1
  [ -z "$($R keys 'qdeck:processing:*')" ] || return 1
  local n
  n=$(sed 's/^/HGET qdeck:task:/; s/$/ status/' "$1" | $R | grep -c '^COMPLETED$')
  [ "$n" = "$N" ]
}
queue_len() {
  if [ "$1" = amqp ]; then "$TOOLS/amqp-fill" "$AMQP_URL" depth flush | awk '{ print $1 }'; else $R llen flush; fi
}
dlq_len() {
  if [ "$1" = amqp ]; then "$TOOLS/amqp-fill" "$AMQP_URL" depth flush.dlq 2>/dev/null | awk '{ print $1 }' || echo 0
  else $R llen flush:dlq; fi
}

kind=amqp run_case amqp amqp:flush
kind=redis run_case redis redis:flush

finish
