#!/usr/bin/env bash
# qdeck worker on RabbitMQ: tasks run and are acked; poison (not JSON,
# binary, over 10 MB, unknown task type), a task past its deadline, a
# permanently failing handler, a
# handler that crashes (exec, killed by a signal), transient failures past
# max_attempts and a handler past its watchdog timeout all land in
# <queue>.dlq with their reason, attempts and error on the message; the
# worker keeps going; retry gaps stay inside the full-jitter bounds; the
# result store and idempotency keys work; SIGTERM exits cleanly.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/worker.sh"

T=$QDECK_TEST_TMP/worker-amqp
worker_contract_setup "$T" amqp:work
log=$T/runs.log
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }
R="redis-cli -p $REDIS_PORT"
depth() { "$TOOLS/amqp-fill" "$AMQP_URL" depth "$1" | cut -d' ' -f1; }
ends_at_least() { [ "$(grep -c '^E ' "$log")" -ge "$1" ]; }
dlq_depth_is() { [ "$(depth "$1")" = "$2" ]; }

# ------------------------------------------------------------ the poison
for f in text binary big; do q publish amqp:work --body-file "$T/$f" --declare >/dev/null 2>&1; done
q publish amqp:work --type no-such-type >/dev/null 2>&1
bad_id=$(q publish amqp:work --type bad 2>/dev/null)
q publish amqp:work --type crash >/dev/null 2>&1
q publish amqp:work --type rec --payload '{"fail":"retry"}' --count 5 >"$T/flaky.ids" 2>/dev/null
q publish amqp:work --type slow >/dev/null 2>&1
q publish amqp:work --type rec --deadline 0.001 >"$T/expired.id" 2>/dev/null
q publish amqp:work --type rec --count 50 >"$T/good.ids" 2>/dev/null
expect_eq "publish wrote PENDING records" "$($R hget "qdeck:task:$(head -1 "$T/good.ids")" status)" PENDING

"$QDECK" --config "$T/qdeck.conf" worker --declare >"$T/worker.out" 2>"$T/worker.err" &
wpid=$!

check "50 good tasks ran to the end" wait_for 60 ends_at_least 50
check "13 dead letters in work.dlq" wait_for 60 dlq_depth_is work.dlq 13
check "work queue drained" wait_for 30 dlq_depth_is work 0
check "the worker is still running after the poison" kill -0 "$wpid"

# what the DLQ messages carry (management API: get and requeue)
dlq=$(curl -sf -u "qdeck:s3cret-pw" -H 'content-type: application/json' \
  -d '{"count":20,"ackmode":"ack_requeue_true","encoding":"base64","truncate":50000}' \
  "http://127.0.0.1:$RABBIT_MGMT_PORT/api/queues/%2F/work.dlq/get")
reasons=$(jq -r '[.[].properties.headers["x-qdeck-reason"]] | group_by(.) | map("\(.[0])=\(length)") | join(" ")' <<<"$dlq")
expect_eq "reasons on the dead letters" "$reasons" "expired=1 failed=1 max_attempts=7 poison=4"
expect_eq "every dead letter names its queue" \
  "$(jq -r '[.[].properties.headers["x-qdeck-original-queue"]] | unique | join(",")' <<<"$dlq")" work
errors=$(jq -r '.[].properties.headers["x-qdeck-error"]' <<<"$dlq")
expect_match "not JSON: said so" "$errors" 'not a JSON task envelope \(text'
expect_match "binary: said so" "$errors" 'not a JSON task envelope \(binary'
expect_match "over 10 MB: said so" "$errors" 'larger than the 10485760-byte limit'
expect_match "unknown type: said so" "$errors" "no handler for task type 'no-such-type'"
expect_match "exec crash: killed by a signal" "$errors" 'signal'
expect_match "watchdog: timed out" "$errors" 'timed out after 0.3s'
expect_match "past its deadline: said so" "$errors" 'deadline passed'
expect_eq "past its deadline: never started" "$(grep -c " $(cat "$T/expired.id") " "$log")" 0
expect_eq "flaky tasks dead after 4 attempts" \
  "$(jq -r '[.[] | select(.properties.headers["x-qdeck-error"] | test("asked to fail")) | .properties.headers["x-qdeck-attempts"]] | unique | join(",")' <<<"$dlq")" 4
body=$(jq -r '.[] | select(.properties.headers["x-qdeck-reason"] == "failed") | .payload' <<<"$dlq" | base64 -d)
expect_eq "dead envelope carries dead_reason" "$(jq -r .dead_reason <<<"$body")" failed
expect_match "dead envelope carries last_error" "$(jq -r .last_error <<<"$body")" 'permanent failure'
big_len=$(jq -r '[.[] | select(.properties.headers["x-qdeck-error"] | test("larger than")) | .payload_bytes] | .[0]' <<<"$dlq")
expect_eq "the 10 MB body is kept whole" "$big_len" 10500000

# result store
expect_eq "completed task: COMPLETED" "$($R hget "qdeck:task:$(head -1 "$T/good.ids")" status)" COMPLETED
expect_eq "failed task: FAILED" "$($R hget "qdeck:task:$bad_id" status)" FAILED
expect_eq "failed task: reason" "$($R hget "qdeck:task:$bad_id" dead_reason)" failed
ttl=$($R pttl "qdeck:task:$bad_id")
check "result records expire (result_ttl)" test "$ttl" -gt 0 -a "$ttl" -le 86400000

# retry gaps: attempt k+1 starts within min(cap, base*2^(k-1)) (+ slack) of attempt k
gaps=$(grep -F -f "$T/flaky.ids" "$log" | awk '$1 == "S" { t[$2, $3] = $4 } END {
  for (k in t) { split(k, p, SUBSEP); if ((p[1], p[2] + 1) in t) printf "%d %.3f\n", p[2], (t[p[1], p[2] + 1] - t[k]) / 1e6 } }')
expect_eq "15 retry gaps seen (5 tasks x 3 retries)" "$(wc -l <<<"$gaps")" 15
over=$(awk '{ c = 0.4 * 2 ^ ($1 - 1); if (c > 1.6) c = 1.6; if ($2 > c + 0.35 || $2 < 0) print }' <<<"$gaps")
expect_eq "every gap within U(0, min(cap, base*2^n)) + 0.35 s" "$over" ""

# idempotency: a second task with the same key is acked without running
first=$(q publish amqp:work --type rec --idempotency-key order-42 2>/dev/null)
check "keyed task ran" wait_for 20 grep -q "^E $first " "$log"
done_key_set() { [ "$($R exists qdeck:done:order-42)" = 1 ]; }
check "done key set" wait_for 5 done_key_set
second=$(q publish amqp:work --type rec --idempotency-key order-42 2>/dev/null)
check "duplicate acked without running" wait_for 20 grep -q "task $second (rec) already completed" "$T/worker.err"
expect_eq "duplicate never started" "$(grep -c " $second " "$log")" 0
check "queue empty after the duplicate" wait_for 10 dlq_depth_is work 0

kill -TERM "$wpid"
wait "$wpid"; rc=$?
expect_eq "SIGTERM: exit 0" "$rc" 0
expect_match "log lines are structured" "$(head -1 "$T/worker.err")" '^[0-9T:.-]+Z (info|warn) '
check "no password in the log" bash -c "! grep -q s3cret-pw '$T/worker.err'"

finish
