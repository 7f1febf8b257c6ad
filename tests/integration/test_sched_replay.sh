#!/usr/bin/env bash
# A [schedule] with action = replay, run by qdeck worker's scheduler: each
# run moves at most `limit` dead messages back to their queue, where the
# same worker completes them; every run is audited; a read-only context
# refuses the replay and leaves the DLQ alone.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

T=$QDECK_TEST_TMP/sched-replay
mkdir -p "$T"
conf() {   # conf READ_ONLY
  cat <<CONF
[qdeck]
audit_log = $T/audit.jsonl
[context t]
redis = $REDIS_URL
read_only = $1
[worker]
queues = redis:jobs
concurrency = 2
[task noop]
handler = noop
[schedule redrive]
every = 1
action = replay
queue = redis:jobs:dlq
limit = 5
CONF
}
conf false > "$T/rw.conf"
conf true > "$T/ro.conf"

rc() { redis-cli -p "$REDIS_PORT" "$@"; }
dead() {   # dead N: N dead envelopes of type noop in jobs:dlq
  for i in $(seq "$1"); do
    rc rpush jobs:dlq "{\"id\":\"dead-$i\",\"type\":\"noop\",\"payload\":{},\"attempt\":3,\"max_attempts\":3,\"dead_reason\":\"max_attempts\",\"last_error\":\"HTTP 503\",\"original_queue\":\"redis:jobs\"}" >/dev/null
  done
}

# read-only first: the job runs and is refused
dead 12
"$QDECK" --config "$T/ro.conf" worker > "$T/ro.log" 2>&1 &
pid=$!
check "read-only: the job records its refusal" \
  wait_for 15 bash -c "redis-cli -p $REDIS_PORT hget qdeck:sched:job:redrive last_result | grep -q 'refused: read-only'"
expect_eq "read-only: the DLQ is untouched" "$(rc llen jobs:dlq)" 12
kill -TERM "$pid"; wait "$pid"
expect_eq "read-only worker exits 0" "$?" 0

"$QDECK" --config "$T/rw.conf" worker > "$T/rw.log" 2>&1 &
pid=$!
check "the scheduled replay empties the DLQ, 5 at a time" wait_for 20 bash -c "[ \"\$(redis-cli -p $REDIS_PORT llen jobs:dlq)\" = 0 ]"
check "each run moved at most 5" bash -c "! grep -q 'moved \([6-9]\|[1-9][0-9]\)' '$T/audit.jsonl'"
check "the worker completed all 12 replayed tasks" \
  wait_for 10 bash -c "[ \"\$(redis-cli -p $REDIS_PORT llen jobs)\" = 0 ] && for i in \$(seq 12); do redis-cli -p $REDIS_PORT hget qdeck:task:dead-\$i status | grep -q COMPLETED || exit 1; done"
kill -TERM "$pid"; wait "$pid"
expect_eq "worker exits 0" "$?" 0
runs=$(grep -c '"action":"dlq.replay".*scheduled redrive' "$T/audit.jsonl")
check "every scheduled run is audited (at least 3 runs moved 12)" test "$runs" -ge 3
expect_match "the audit names the DLQ" "$(grep -m1 'scheduled redrive' "$T/audit.jsonl")" '"target":"redis:jobs:dlq"'
finish
