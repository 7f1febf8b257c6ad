#!/usr/bin/env bash
# qdeck worker on a Redis stream consumer group: tasks run and are XACKed;
# poison (not JSON, an entry without a body field) and transient failures
# past max_attempts land in <key>:dlq with reason, error, attempts and the
# original entry ID as fields; retries come back through the delayed ZSET;
# nothing stays pending. Then a worker is SIGKILLed with entries in flight:
# they stay pending and a second worker claims them (XAUTOCLAIM after
# claim_idle) and runs them.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

R="redis-cli -p $REDIS_PORT"
bin_dir=$(dirname "$QDECK_SAN_BIN")
T=$QDECK_TEST_TMP/worker-stream
mkdir -p "$T/plugins"
ln -sf "$bin_dir"/plugins/*.so "$bin_dir"/tests/plugins/worker_*.so "$T/plugins/"
log=$T/runs.log
: >"$log"
cat >"$T/qdeck.conf" <<CONF
[context t]
redis = $REDIS_URL

[worker]
queues = stream:ev#g
concurrency = 4
prefetch = 4
plugin_dir = $T/plugins
retry_base = 0.2
retry_cap = 0.4
max_attempts = 3
claim_idle = 1
log_format = json

[task rec]
handler = worker_record
args = file=$log
CONF
chmod 600 "$T/qdeck.conf"
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }
ends_at_least() { [ "$(grep -c '^E ' "$log")" -ge "$1" ]; }
starts_at_least() { [ "$(grep -c '^S ' "$log")" -ge "$1" ]; }
xlen_is() { [ "$($R xlen "$1")" = "$2" ]; }
nothing_pending() { [ "$($R xpending ev g | head -1)" = 0 ]; }

q publish stream:ev#g --type rec --count 30 >"$T/good.ids" 2>/dev/null
printf 'not json' >"$T/text"
q publish stream:ev#g --body-file "$T/text" >/dev/null 2>&1
$R xadd ev '*' foo bar >/dev/null
q publish stream:ev#g --type rec --payload '{"fail":"retry"}' --count 2 >/dev/null 2>&1
expect_eq "34 entries published" "$($R xlen ev)" 34

"$QDECK" --config "$T/qdeck.conf" worker 2>"$T/worker.err" &
wpid=$!
check "30 good tasks ran" wait_for 30 ends_at_least 30
check "4 dead letters in ev:dlq" wait_for 30 xlen_is ev:dlq 4
check "nothing pending in the group" wait_for 10 nothing_pending
dlq=$($R --json xrange ev:dlq - + 2>/dev/null || $R xrange ev:dlq - +)
reasons=$($R xrange ev:dlq - + | awk 'prev == "reason" { print } { prev = $0 }' | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }')
expect_eq "reasons" "$reasons" "max_attempts=2 poison=2 "
expect_match "error field" "$dlq" 'not a JSON task envelope'
expect_match "no-body entry kept with its fields" "$dlq" 'foo'
expect_match "attempts field" "$($R xrange ev:dlq - + | awk 'prev == "attempts" { print } { prev = $0 }' | sort -u | tr '\n' ' ')" '^1 3 $'
check "original entry IDs kept" bash -c "$R xrange ev:dlq - + | grep -A1 -x original_id | grep -Eq '^[0-9]+-[0-9]+$'"
expect_eq "result record COMPLETED" "$($R hget "qdeck:task:$(head -1 "$T/good.ids")" status)" COMPLETED
check "log_format = json: every line is a JSON object" bash -c "jq -e '.ts and .level and .msg' '$T/worker.err' >/dev/null"
kill -KILL "$wpid"; wait "$wpid" 2>/dev/null

# entries in flight when a worker dies are claimed by another one
: >"$log"
q publish stream:ev#g --type rec --payload '{"ms":1500}' --count 4 >"$T/slow.ids" 2>/dev/null
"$QDECK" --config "$T/qdeck.conf" worker 2>"$T/worker-a.err" &
apid=$!
check "worker A runs the 4 slow tasks" wait_for 20 starts_at_least 4
kill -KILL "$apid"; wait "$apid" 2>/dev/null
expect_eq "their entries stay pending" "$($R xpending ev g | head -1)" 4
"$QDECK" --config "$T/qdeck.conf" worker 2>"$T/worker-b.err" &
bpid=$!
check "worker B claims and finishes them" wait_for 30 ends_at_least 4
expect_match "worker B says it claimed them" "$(jq -r .msg "$T/worker-b.err")" 'claimed 4 entries'
check "nothing pending at the end" wait_for 10 nothing_pending
kill -TERM "$bpid"; wait "$bpid"
expect_eq "SIGTERM: exit 0" "$?" 0

finish
