#!/usr/bin/env bash
# Guardrails applied by `qdeck worker` on RabbitMQ (one worker, queues
# amqp:work and amqp:calls):
#  - shedding by priority: low-priority tasks are parked in work.parked with
#    reason shed while high-priority ones run; turning it off moves them
#    back (basic.get, publish, confirm, ack) and each runs exactly once;
#  - queue.work.paused: within 2 s the queue shows 0 consumers (basic.cancel),
#    nothing stays unacknowledged once in-flight work finished, new messages
#    stay Ready; unpaused, they are consumed;
#  - queue.work.max_depth on the worker side: with 30 Ready and max_depth 10,
#    the excess is dead-lettered with reason shed (passive queue.declare
#    depth), the rest runs, the counts add up;
#  - a breaker FORCED_OPEN refuses tasks without burning attempts: with
#    max_attempts = 2 nothing is dead-lettered over several open_wait
#    periods, refused tasks come back after open_wait plus at most 1 s of
#    jitter, a task with a deadline still expires, and after a reset each
#    task runs exactly once.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"
source "$here/../lib/worker.sh"

T=$QDECK_TEST_TMP/worker-amqp-guardrails
worker_plugins "$T"
log=$T/runs.log
: >"$log"
cat >"$T/qdeck.conf" <<CONF
[context t]
amqp = $AMQP_URL
mgmt = $MGMT_URL
redis = $REDIS_URL

[worker]
queues = amqp:work,amqp:calls
concurrency = 2
heartbeat = 0.5
plugin_dir = $T/plugins
retry_base = 0.2
retry_cap = 0.4
max_attempts = 2
shutdown_timeout = 10

[task rec]
handler = worker_record
args = file=$log

[task slow]
handler = worker_record
args = file=$log,ms=1500

[task call]
handler = worker_record
args = file=$log
dependency = upstream

[dependency upstream]
open_wait = 1
CONF
chmod 600 "$T/qdeck.conf"
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }
R="redis-cli -p $REDIS_PORT"
wpid=
trap '[ -n "$wpid" ] && kill -9 "$wpid" 2>/dev/null' EXIT

ready() { "$TOOLS/amqp-fill" "$AMQP_URL" depth "$1" | cut -d' ' -f1; }
consumers() { "$TOOLS/amqp-fill" "$AMQP_URL" depth "$1" | cut -d' ' -f2; }
ready_is() { [ "$(ready "$1")" = "$2" ]; }
consumers_is() { [ "$(consumers "$1")" = "$2" ]; }
unacked_is() { [ "$(rabbit_api GET "queues/%2F/$1" | jq -r '.messages_unacknowledged')" = "$2" ]; }
hb() { for k in $($R --scan --pattern 'qdeck:worker:*'); do $R get "$k"; done; }
applied() { [ "$(hb | jq -r --arg n "$1" 'select(.state == "running") | .policy.values[$n] // "unset"')" = "$2" ]; }
breaker_is() { [ "$(hb | jq -r '.breakers.upstream.state')" = "$1" ]; }
ends() { grep -c "^E $1 " "$log"; }
all_ran_once() { local id; while read -r id; do [ "$(ends "$id")" = 1 ] || return 1; done <"$1"; }
none_ran() { ! grep -q -F -f "$1" "$log"; }
# the messages of a queue, looked at through the management API and put back
peek() {
  rabbit_api POST "queues/%2F/$1/get" \
    '{"count":100,"ackmode":"ack_requeue_true","encoding":"base64","truncate":50000}'
}

mport=$(free_ports 1)
metric() { curl -s "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
counts_are() {   # counts_are PARKED DEAD: heartbeat and /metrics agree on both
  [ "$(hb | jq -r '"\(.parked) \(.dead_lettered)"')" = "$1 $2" ] &&
    [ "$(metric qdeck_tasks_parked_total) $(metric qdeck_tasks_dead_lettered_total)" = "$1 $2" ]
}
"$QDECK" --config "$T/qdeck.conf" worker --declare --metrics-addr "127.0.0.1:$mport" >"$T/worker.out" 2>"$T/worker.err" &
wpid=$!
check "the worker consumes amqp:work" wait_for 20 consumers_is work 1
check "the worker consumes amqp:calls" wait_for 5 consumers_is calls 1

# ------------------------------------------------------------ 1. parked release
q policy set shed.priority_below 5 >/dev/null 2>&1
check "shed.priority_below 5 applied within 2 s" wait_for 2 applied shed.priority_below 5
q publish amqp:work --type rec --priority 2 --count 10 >"$T/low.ids" 2>/dev/null
q publish amqp:work --type rec --priority 8 --count 10 >"$T/high.ids" 2>/dev/null
check "high-priority tasks run while shedding" wait_for 20 all_ran_once "$T/high.ids"
check "the 10 low-priority tasks are parked in work.parked" wait_for 10 ready_is work.parked 10
check "no low-priority task ran" none_ran "$T/low.ids"
parked=$(peek work.parked)
expect_eq "parked messages carry reason shed" \
  "$(jq -r '[.[].properties.headers["x-qdeck-reason"]] | unique | join(",")' <<<"$parked")" shed
expect_eq "the parked ones are exactly the low-priority ids" \
  "$(jq -r '.[].payload' <<<"$parked" | while read -r b; do base64 -d <<<"$b" | jq -r .id; done | sort | tr '\n' ' ')" \
  "$(sort "$T/low.ids" | tr '\n' ' ')"
expect_match "the worker logged the parking with reason shed" "$(cat "$T/worker.err")" 'parked \(shed\)'
check "parked apart from dead letters: 10 parked, 0 dead-lettered (heartbeat and /metrics)" wait_for 3 counts_are 10 0
q policy set shed.priority_below off >/dev/null 2>&1
check "turned off: every parked task runs, each exactly once" wait_for 20 all_ran_once "$T/low.ids"
check "work.parked is empty" wait_for 5 ready_is work.parked 0
check "work.parked holds nothing unacknowledged" wait_for 5 unacked_is work.parked 0
expect_eq "20 runs in all, no duplicate" "$(grep -c '^E ' "$log")" 20
expect_match "the worker logged the release" "$(cat "$T/worker.err")" 'parked task\(s\) released back to the queue'
check "work is drained" wait_for 5 ready_is work 0

# ------------------------------------------------------------ 2. pause with basic.cancel
q publish amqp:work --type slow --count 6 >"$T/slow.ids" 2>/dev/null
check "two slow tasks started" wait_for 10 bash -c "[ \$(grep -F -f '$T/slow.ids' '$log' | grep -c '^S ') -ge 2 ]"
q policy set queue.work.paused true >/dev/null 2>&1
t0=${EPOCHREALTIME/./}
check "paused: 0 consumers on work within 2 s" wait_for 2 consumers_is work 0
echo "  (consumer gone after $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms)"
started=$(grep -F -f "$T/slow.ids" "$log" | grep -c '^S ')
check "paused: the $started in-flight tasks finish" \
  wait_for 5 bash -c "[ \$(grep -F -f '$T/slow.ids' '$log' | grep -c '^E ') = $started ]"
sleep 1   # management statistics are refreshed every 0.5 s
check "paused: nothing unacknowledged once they finished" wait_for 5 unacked_is work 0
expect_eq "paused: no other task started" "$(grep -F -f "$T/slow.ids" "$log" | grep -c '^S ')" "$started"
expect_eq "paused: the rest of the slow tasks are Ready" "$(ready work)" $((6 - started))
q publish amqp:work --type rec --count 5 >"$T/paused.ids" 2>/dev/null
sleep 2
expect_eq "paused: 5 more published stay Ready" "$(ready work)" $((11 - started))
check "paused: none of them ran" none_ran "$T/paused.ids"
expect_eq "paused: still 0 consumers" "$(consumers work)" 0

q policy set queue.work.paused false >/dev/null 2>&1
check "unpaused: the worker consumes work again" wait_for 3 consumers_is work 1
check "unpaused: the tasks published while paused run, each once" wait_for 20 all_ran_once "$T/paused.ids"
check "unpaused: the slow ones left run, each once" wait_for 20 all_ran_once "$T/slow.ids"
check "work is drained" wait_for 10 ready_is work 0

# ------------------------------------------------------------ 3. max_depth on the worker side
q policy set queue.work.paused true >/dev/null 2>&1
check "paused again: 0 consumers within 2 s" wait_for 2 consumers_is work 0
q publish amqp:work --type rec --count 30 >"$T/deep.ids" 2>/dev/null
expect_eq "30 Ready" "$(ready work)" 30
q policy set queue.work.max_depth 10 >/dev/null 2>&1
check "max_depth 10 applied within 2 s" wait_for 2 applied queue.work.max_depth 10
sleep 0.7   # the worker looks at the depth every 0.5 s while max_depth is on
q policy set queue.work.paused false >/dev/null 2>&1
check "unpaused: work is drained" wait_for 20 ready_is work 0
check "work holds nothing unacknowledged" wait_for 10 unacked_is work 0
dlq=$(peek work.dlq)
dead_ids=$(jq -r '.[].payload' <<<"$dlq" | while read -r b; do base64 -d <<<"$b" | jq -r .id; done)
dead=$(grep -c . <<<"$dead_ids")
ran=$(grep -F -f "$T/deep.ids" "$log" | grep -c '^E ')
echo "  (30 Ready with max_depth 10: $dead dead-lettered, $ran ran)"
expect_eq "every dead letter has reason shed" \
  "$(jq -r '[.[].properties.headers["x-qdeck-reason"]] | unique | join(",")' <<<"$dlq")" shed
check "the excess over max_depth (20, less at most the prefetch window) was dead-lettered" test "$dead" -ge 17 -a "$dead" -le 20
expect_eq "ran + dead-lettered = 30" "$((ran + dead))" 30
expect_eq "no task both ran and was dead-lettered" \
  "$( (grep -F -f "$T/deep.ids" "$log" | awk '$1 == "E" { print $2 }'; echo "$dead_ids") | sort | uniq -d | wc -l)" 0
expect_eq "the head was dropped: every dead letter is among the first 22 published (2 slots)" \
  "$(grep -c -x -F -f <(head -22 "$T/deep.ids") <<<"$dead_ids")" "$dead"
check "shed over max_depth counts as dead-lettered, parked stays 10" wait_for 3 counts_are 10 "$dead"
q policy set queue.work.max_depth off >/dev/null 2>&1

# ------------------------------------------------------------ 4. breaker refusals are not attempts
q breaker open upstream >/dev/null 2>&1
check "breaker open: FORCED_OPEN in the heartbeat within 2 s" wait_for 2 breaker_is FORCED_OPEN
q publish amqp:calls --type call --count 4 >"$T/calls.ids" 2>/dev/null
q publish amqp:calls --type call --deadline 3 >"$T/expiring.id" 2>/dev/null
sleep 6   # several open_wait periods (1 s + up to 1 s of jitter each)
refused=$(grep -c 'breaker upstream FORCED_OPEN' "$T/worker.err")
check "the refused tasks came back several times ($refused refusals)" test "$refused" -ge 12
check "none of them ran while forced open" none_ran "$T/calls.ids"
delays=$(grep -F -f "$T/calls.ids" "$T/worker.err" | grep -o 'retry in [0-9.]*s after attempt [0-9]*' | awk '{ print $3, $6 }' | tr -d s)
expect_eq "every refusal waits open_wait + U(0, 1 s)" \
  "$(awk '$1 < 1.0 || $1 > 2.0' <<<"$delays")" ""
expect_eq "a refusal is not an attempt: the attempt stays 0" "$(awk '{ print $2 }' <<<"$delays" | sort -u)" 0
check "the task with a deadline expired while forced open" wait_for 5 ready_is calls.dlq 1
cdlq=$(peek calls.dlq)
expect_eq "its reason is expired" "$(jq -r '.[0].properties.headers["x-qdeck-reason"]' <<<"$cdlq")" expired
expect_eq "it is the one with the deadline" "$(jq -r '.[0].payload' <<<"$cdlq" | base64 -d | jq -r .id)" "$(cat "$T/expiring.id")"
q breaker reset upstream >/dev/null 2>&1
check "breaker reset: CLOSED within 2 s" wait_for 2 breaker_is CLOSED
check "after the reset each refused task runs exactly once" wait_for 10 all_ran_once "$T/calls.ids"
expect_eq "nothing else went to calls.dlq" "$(ready calls.dlq)" 1
check "in all: 10 parked, $((dead + 1)) dead-lettered (work.dlq and calls.dlq)" wait_for 3 counts_are 10 $((dead + 1))

kill -TERM "$wpid"
wait "$wpid"; rc=$?
wpid=
expect_eq "SIGTERM: exit 0" "$rc" 0
expect_nomatch "no double-ended permit" "$(cat "$T/worker.err")" 'double|ended twice'
finish
