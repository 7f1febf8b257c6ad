#!/usr/bin/env bash
# qdeck worker on a Redis stream consumer group: tasks run and are XACKed;
# poison (not JSON, an entry without a body field) and transient failures
# past max_attempts land in <key>:dlq with reason, error, attempts and the
# original entry ID as fields; retries come back through the delayed ZSET;
# nothing stays pending. Then a worker is SIGKILLed with entries in flight:
# they stay pending and a second worker claims them (XAUTOCLAIM after
# claim_idle) and runs them.
# Last, queue.<name>.max_depth on a stream is the group's lag (entries not
# yet delivered to it), not XLEN: on an untrimmed stream of 50 consumed and
# acked entries, max_depth 10 still lets `qdeck publish` add 5 and the
# worker runs them; a publish once 10 wait for the group is refused, saying
# so; 30 entries XADDed while no worker runs are split exactly: the first
# 20 dead-lettered with reason shed, the last 10 run. When an XDEL leaves
# the lag nil, publish falls back to XLEN - entries-read.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/worker.sh"

R="redis-cli -p $REDIS_PORT"
T=$QDECK_TEST_TMP/worker-stream
worker_plugins "$T"
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

# ------------------------------------------------------------ max_depth = the group's lag
sed -e 's/^queues = .*/queues = stream:lg#g/' -e 's/^claim_idle = .*/claim_idle = 60\nheartbeat = 0.5/' \
  "$T/qdeck.conf" >"$T/lag.conf"
chmod 600 "$T/lag.conf"
ql() { "$QDECK" --config "$T/lag.conf" "$@"; }
lg_pending_none() { [ "$($R xpending lg g | head -1)" = 0 ]; }
hb_applied() {
  local k
  for k in $($R --scan --pattern 'qdeck:worker:*'); do $R get "$k"; done |
    jq -r 'select(.state == "running") | .policy.values["queue.stream:lg#g.max_depth"] // "unset"' | grep -qx -- "$1"
}
: >"$log"
ql publish stream:lg#g --type rec --count 50 >"$T/lag50.ids" 2>/dev/null
"$QDECK" --config "$T/lag.conf" worker 2>"$T/worker-lag1.err" &
lpid=$!
check "50 entries consumed" wait_for 30 ends_at_least 50
check "and acked: nothing pending in lg g" wait_for 10 lg_pending_none
expect_eq "the stream is not trimmed: XLEN 50" "$($R xlen lg)" 50
expect_eq "the group's lag is 0" "$($R xinfo groups lg | grep -A1 -x lag | tail -1)" 0
ql policy set 'queue.stream:lg#g.max_depth' 10 >/dev/null 2>&1
check "max_depth 10 applied in the worker's heartbeat" wait_for 3 hb_applied 10
: >"$log"
ql publish stream:lg#g --type rec --count 5 >"$T/lag5.ids" 2>/dev/null; rc=$?
expect_eq "XLEN 50 > max_depth 10 but lag 0: publish exit 0" "$rc" 0
check "the worker runs all 5" wait_for 20 bash -c "[ \$(grep -c -F -f '$T/lag5.ids' <(grep '^E ' '$log')) = 5 ]"
expect_eq "none of them shed: lg:dlq empty" "$($R xlen lg:dlq)" 0
kill -TERM "$lpid"; wait "$lpid"
expect_eq "worker stopped: exit 0" "$?" 0

# worker side: 30 waiting when a worker starts with max_depth 10
: >"$log"
for i in $(seq 1 30); do
  $R xadd lg '*' body "{\"id\":\"lag-$i\",\"type\":\"rec\",\"payload\":{}}" >/dev/null
done
expect_eq "30 entries wait for the group" "$($R xinfo groups lg | grep -A1 -x lag | tail -1)" 30
"$QDECK" --config "$T/lag.conf" worker 2>"$T/worker-lag2.err" &
lpid=$!
check "30 settled: 20 in lg:dlq" wait_for 30 xlen_is lg:dlq 20
check "nothing pending in lg g" wait_for 10 lg_pending_none
shed_ids=$($R xrange lg:dlq - + | awk 'prev == "body" { print } { prev = $0 }' | jq -r .id | sort -V)
expect_eq "every dead letter has reason shed" \
  "$($R xrange lg:dlq - + | awk 'prev == "reason" { print } { prev = $0 }' | sort -u)" shed
expect_eq "the head was shed: lag-1 .. lag-20" "$(tr '\n' ' ' <<<"$shed_ids")" "$(seq -f 'lag-%g' 1 20 | tr '\n' ' ')"
check "the last 10 ran" wait_for 10 bash -c "[ \$(grep -c '^E lag-' '$log') = 10 ]"
expect_eq "the ones that ran are lag-21 .. lag-30" \
  "$(grep '^E lag-' "$log" | awk '{ print $2 }' | sort -V | tr '\n' ' ')" "$(seq -f 'lag-%g' 21 30 | tr '\n' ' ')"
kill -TERM "$lpid"; wait "$lpid"
expect_eq "worker stopped again: exit 0" "$?" 0

# publish side: refused once the lag reaches max_depth
ql publish stream:lg#g --type rec --count 10 >/dev/null 2>&1; rc=$?
expect_eq "lag 0: 10 more published (exit 0)" "$rc" 0
out=$(ql publish stream:lg#g --type rec 2>&1 >/dev/null); rc=$?
expect_eq "lag 10 = max_depth: publish exit 1" "$rc" 1
expect_match "refused, naming the lag" "$out" \
  'publish refused: stream:lg#g has 10 entries waiting for group g \(consumer group lag\), at or over its max_depth guardrail 10'
expect_eq "nothing added: XLEN 95" "$($R xlen lg)" 95
# an XDEL inside the unread range leaves Redis unable to tell the lag (nil):
# the depth is then XLEN - entries-read (94 - 85 = 9, which is exact here)
$R xdel lg "$($R xrevrange lg + - count 1 | head -1)" >/dev/null
expect_eq "after XDEL of a waiting entry XINFO GROUPS lag is nil" "$($R xinfo groups lg | grep -A1 -x lag | tail -1)" ""
ql publish stream:lg#g --type rec >/dev/null 2>&1; rc=$?
expect_eq "lag nil, XLEN 94 - entries-read 85 = 9 < 10: publish exit 0" "$rc" 0
out=$(ql publish stream:lg#g --type rec 2>&1 >/dev/null); rc=$?
expect_eq "XLEN 95 - entries-read 85 = 10: refused (exit 1)" "$rc" 1
expect_match "refused at 10 waiting" "$out" 'has 10 entries waiting for group g'
ql policy set 'queue.stream:lg#g.max_depth' off >/dev/null 2>&1

finish
