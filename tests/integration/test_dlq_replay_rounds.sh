#!/usr/bin/env bash
# A task that always fails, replayed again and again, is a new death each
# time, never a "duplicate": 30 such tasks on every backend (RabbitMQ
# queue, Redis list, Redis stream) go to the DLQ through a real
# `qdeck worker`, then three rounds of browse + `dlq replay --all`. After
# every round all 30 are back in the DLQ, the worker ran each one exactly
# once more, and the replay dropped nothing (the replay journal used to take
# the second death for a copy left by a crash and delete it).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/worker.sh"

T=$QDECK_TEST_TMP/replay-rounds
worker_plugins "$T"
log=$T/runs.log
: >"$log"
cat >"$T/qdeck.conf" <<CONF
[context t]
amqp = $AMQP_URL
mgmt = $MGMT_URL
redis = $REDIS_URL

[worker]
queues = amqp:rr,redis:rl,stream:rs#g
concurrency = 4
plugin_dir = $T/plugins
max_attempts = 1
retry_base = 0.1
retry_cap = 0.2

[task boom]
handler = worker_record
args = file=$log
CONF
chmod 600 "$T/qdeck.conf"
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }
R="redis-cli -p $REDIS_PORT"
amqp_depth() { "$TOOLS/amqp-fill" "$AMQP_URL" depth "$1" 2>/dev/null | cut -d' ' -f1; }
dlq_depth() {
  case $1 in
    amqp) amqp_depth rr.dlq ;;
    list) $R llen rl:dlq ;;
    stream) $R xlen rs:dlq ;;
  esac
}
dlq_addr() { case $1 in amqp) echo amqp:rr.dlq ;; list) echo redis:rl:dlq ;; stream) echo stream:rs:dlq ;; esac; }
dlq_holds() { [ "$(dlq_depth "$1")" = "$2" ]; }
# runs_each IDS N: every id in file IDS started exactly N times
runs_each() {
  local counts
  counts=$(grep '^S ' "$log" | awk '{ print $2 }' | grep -F -x -f "$1" | sort | uniq -c | awk '{ print $1 }' | sort -u)
  [ "$(grep '^S ' "$log" | awk '{ print $2 }' | grep -F -x -f "$1" | sort -u | wc -l)" = 30 ] && [ "$counts" = "$2" ]
}
starts_of() { grep '^S ' "$log" | awk '{ print $2 }' | grep -c -F -x -f "$1"; }

"$QDECK" --config "$T/qdeck.conf" worker --declare >"$T/worker.out" 2>"$T/worker.err" &
wpid=$!
check "worker declared amqp:rr and its DLQ" wait_for 30 bash -c "[ -n \"\$('$TOOLS/amqp-fill' '$AMQP_URL' depth rr.dlq 2>/dev/null)\" ]"

q publish amqp:rr --type boom --payload '{"fail":"retry"}' --count 30 >"$T/amqp.ids" 2>/dev/null
q publish redis:rl --type boom --payload '{"fail":"retry"}' --count 30 >"$T/list.ids" 2>/dev/null
q publish stream:rs#g --type boom --payload '{"fail":"retry"}' --count 30 >"$T/stream.ids" 2>/dev/null
for b in amqp list stream; do
  expect_eq "$b: 30 task ids" "$(sort -u "$T/$b.ids" | wc -l)" 30
  check "$b: all 30 dead-lettered" wait_for 60 dlq_holds "$b" 30
  check "$b: each ran once" wait_for 10 runs_each "$T/$b.ids" 1
done

for round in 1 2 3; do
  for b in amqp list stream; do
    addr=$(dlq_addr "$b")
    # browse first, as the console does: the broker marks what it showed
    # as delivered before
    check "$b round $round: the DLQ lists 30" bash -c "[ \$('${QDECK}' --config '$T/qdeck.conf' dlq list '$addr' --json | jq '.messages | length') = 30 ]"
    out=$(q dlq replay "$addr" --all 2>"$T/replay-$b-$round.err"); rc=$?
    expect_eq "$b round $round: replay exit 0" "$rc" 0
    expect_match "$b round $round: moved all 30, nothing dropped" "$out" '^moved 30, failed 0, skipped 0$'
    expect_nomatch "$b round $round: no copy removed" "$(cat "$T/replay-$b-$round.err")" 'removed|dropped'
    check "$b round $round: each ran once more" wait_for 60 runs_each "$T/$b.ids" $((round + 1))
    check "$b round $round: all 30 back in the DLQ" wait_for 30 dlq_holds "$b" 30
  done
done
for b in amqp list stream; do
  expect_eq "$b: 4 runs of each of the 30 tasks, no more" "$(starts_of "$T/$b.ids")" 120
done

kill -TERM "$wpid"; wait "$wpid"
expect_eq "worker stopped: exit 0" "$?" 0
finish
