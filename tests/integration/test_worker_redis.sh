#!/usr/bin/env bash
# qdeck worker on a Redis list: the same contract as test_worker_amqp.sh —
# poison (not JSON, binary, over 10 MB, unknown type), permanent failures,
# an exec crash, transient failures past max_attempts and a watchdog timeout
# land in <key>:dlq with their reason (non-JSON bodies wrapped, bytes kept
# as base64); retries wait in qdeck:delayed:<key> within the full-jitter
# bounds and jittered; nothing stays in processing lists; result store,
# idempotency, heartbeat key, clean SIGTERM.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/worker.sh"
source "$here/../lib/servers.sh"   # free_ports

T=$QDECK_TEST_TMP/worker-redis
worker_contract_setup "$T" redis:work
log=$T/runs.log
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }
R="redis-cli -p $REDIS_PORT"
ends_at_least() { [ "$(grep -c '^E ' "$log")" -ge "$1" ]; }
llen_is() { [ "$($R llen "$1")" = "$2" ]; }
no_processing() { [ -z "$($R keys 'qdeck:processing:*')" ]; }
no_delayed() { [ "$($R zcard qdeck:delayed:work)" = 0 ]; }
done_key_set() { [ "$($R exists qdeck:done:order-42)" = 1 ]; }

# ------------------------------------------------------------ the poison
for f in text binary big; do q publish redis:work --body-file "$T/$f" >/dev/null 2>&1; done
q publish redis:work --type no-such-type >/dev/null 2>&1
bad_id=$(q publish redis:work --type bad 2>/dev/null)
q publish redis:work --type crash >/dev/null 2>&1
q publish redis:work --type rec --payload '{"fail":"retry"}' --count 5 >"$T/flaky.ids" 2>/dev/null
q publish redis:work --type slow >/dev/null 2>&1
q publish redis:work --type rec --count 50 >"$T/good.ids" 2>/dev/null
expect_eq "publish wrote PENDING records" "$($R hget "qdeck:task:$(head -1 "$T/good.ids")" status)" PENDING
expect_eq "publish LPUSHed 62 items" "$($R llen work)" 62

mport=$(free_ports 1)
"$QDECK" --config "$T/qdeck.conf" worker --metrics-addr "127.0.0.1:$mport" >"$T/worker.out" 2>"$T/worker.err" &
wpid=$!

check "50 good tasks ran to the end" wait_for 60 ends_at_least 50
check "12 dead letters in work:dlq" wait_for 60 llen_is work:dlq 12
check "work list drained" wait_for 30 llen_is work 0
check "nothing left in processing lists" wait_for 10 no_processing
check "nothing left delayed" wait_for 10 no_delayed
check "the worker is still running after the poison" kill -0 "$wpid"

reasons=$(for i in $(seq 0 11); do $R lindex work:dlq "$i" | jq -r .dead_reason; done | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')
expect_eq "reasons on the dead letters" "$reasons" "failed=1 max_attempts=7 poison=4 "
errors=$(for i in $(seq 0 11); do $R lindex work:dlq "$i" | jq -r .last_error; done)
expect_match "not JSON: said so" "$errors" 'not a JSON task envelope \(text'
expect_match "binary: said so" "$errors" 'not a JSON task envelope \(binary'
expect_match "over 10 MB: said so" "$errors" 'larger than the 10485760-byte limit'
expect_match "unknown type: said so" "$errors" "no handler for task type 'no-such-type'"
expect_match "exec crash: killed by a signal" "$errors" 'signal'
expect_match "watchdog: timed out" "$errors" 'timed out after 0.3s'
raw=$(for i in $(seq 0 11); do $R lindex work:dlq "$i" | jq -r 'select(.last_error | test("binary")) | .raw_base64'; done)
check "binary body kept byte for byte (base64)" cmp <(base64 -d <<<"$raw") "$T/binary"
big=$(for i in $(seq 0 11); do $R lindex work:dlq "$i" | jq -r 'select(.last_error | test("larger")) | .raw_base64 | length'; done)
expect_eq "10 MB body kept whole" "$big" 14000000
expect_eq "flaky tasks dead after 4 attempts" \
  "$(for i in $(seq 0 11); do $R lindex work:dlq "$i" | jq -r 'select(.last_error | test("asked to fail")) | .attempt'; done | sort -u)" 4

expect_eq "completed task: COMPLETED" "$($R hget "qdeck:task:$(head -1 "$T/good.ids")" status)" COMPLETED
expect_eq "failed task: FAILED" "$($R hget "qdeck:task:$bad_id" status)" FAILED
expect_eq "failed task: reason" "$($R hget "qdeck:task:$bad_id" dead_reason)" failed

gaps=$(grep -F -f "$T/flaky.ids" "$log" | awk '$1 == "S" { t[$2, $3] = $4 } END {
  for (k in t) { split(k, p, SUBSEP); if ((p[1], p[2] + 1) in t) printf "%d %.3f\n", p[2], (t[p[1], p[2] + 1] - t[k]) / 1e6 } }')
expect_eq "15 retry gaps seen (5 tasks x 3 retries)" "$(wc -l <<<"$gaps")" 15
over=$(awk '{ c = 0.4 * 2 ^ ($1 - 1); if (c > 1.6) c = 1.6; if ($2 > c + 0.35 || $2 < 0) print }' <<<"$gaps")
expect_eq "every gap within U(0, min(cap, base*2^n)) + 0.35 s" "$over" ""
spread=$(awk '{ c = 0.4 * 2 ^ ($1 - 1); if (c > 1.6) c = 1.6; s += $2 / c } END { printf "%.2f", s / NR }' <<<"$gaps")
check "gaps are jittered, not fixed (mean gap/ceiling $spread in 0.15..0.85)" \
  awk -v m="$spread" 'BEGIN { exit !(m >= 0.15 && m <= 0.85) }'

first=$(q publish redis:work --type rec --idempotency-key order-42 2>/dev/null)
check "keyed task ran" wait_for 20 grep -q "^E $first " "$log"
check "done key set" wait_for 5 done_key_set
second=$(q publish redis:work --type rec --idempotency-key order-42 2>/dev/null)
check "duplicate acked without running" wait_for 20 grep -q "task $second (rec) already completed" "$T/worker.err"
expect_eq "duplicate never started" "$(grep -c " $second " "$log")" 0
check "list empty after the duplicate" wait_for 10 llen_is work 0
metrics=$(curl -sf "http://127.0.0.1:$mport/metrics")
expect_match "metrics: processed counter" "$metrics" '^qdeck_tasks_processed_total [0-9]+'
expect_match "metrics: dead-lettered counter is 12" "$metrics" '^qdeck_tasks_dead_lettered_total 12$'
expect_match "metrics: run-time histogram of rec" "$metrics" 'qdeck_task_run_seconds_count\{type="rec"\}'
check "readyz: consumers connected" curl -sf "http://127.0.0.1:$mport/readyz"
wid=$(sed -n 's/.*worker \([^ :]*\): consuming.*/\1/p' "$T/worker.err")
check "worker heartbeat key is alive" test "$($R exists "qdeck:worker:$(sed -n 's/.*worker \([^ :]*\): consuming.*/\1/p' "$T/worker.err")")" = 1

kill -TERM "$wpid"
wait "$wpid"; rc=$?
expect_eq "SIGTERM: exit 0" "$rc" 0
expect_eq "heartbeat says stopped on exit" "$($R get "qdeck:worker:$wid" | jq -r .state)" stopped

finish
