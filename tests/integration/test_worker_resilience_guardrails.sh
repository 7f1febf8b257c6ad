#!/usr/bin/env bash
# Guardrails applied by running `qdeck worker` processes (five of them, on
# one Redis list):
#  - propagation: `qdeck policy set shed.priority_below 5` is reported as
#    applied in all five heartbeats within 2 s;
#  - shedding by priority: low-priority tasks are parked in work:parked
#    (never run), high-priority ones still run; turning it off releases the
#    parked ones and they complete;
#  - queue.work.paused: no task is taken while paused, all run after;
#  - queue.work.max_depth: `qdeck publish` refuses (exit 1, says why) when
#    the queue is at max_depth, and takes work again once it is lifted.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"
source "$here/../lib/servers.sh"
source "$here/../lib/worker.sh"

T=$QDECK_TEST_TMP/worker-resilience-guardrails
worker_plugins "$T"
log=$T/runs.log
: >"$log"
cat >"$T/qdeck.conf" <<CONF
[context t]
redis = $REDIS_URL

[worker]
queues = redis:work
concurrency = 2
heartbeat = 0.5
plugin_dir = $T/plugins

[task rec]
handler = worker_record
args = file=$log
CONF
chmod 600 "$T/qdeck.conf"
q() { "$QDECK" --config "$T/qdeck.conf" "$@"; }
R="redis-cli -p $REDIS_PORT"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done' EXIT
for i in 1 2 3 4 5; do
  "$QDECK" --config "$T/qdeck.conf" worker >"$T/worker$i.out" 2>"$T/worker$i.err" &
  pids+=($!)
done
hb() { for k in $($R --scan --pattern 'qdeck:worker:*'); do $R get "$k"; done; }
live() { [ "$(hb | jq -r 'select(.state == "running") | .id' | wc -l)" = 5 ]; }
# all five heartbeats report guardrail $1 applied with value $2
applied() { [ "$(hb | jq -r --arg n "$1" 'select(.state == "running") | .policy.values[$n] // "unset"' | grep -cx -- "$2")" = 5 ]; }
ran() { grep -c "^E $1 " "$log"; }
all_ran() { local id; while read -r id; do [ "$(ran "$id")" -ge 1 ] || return 1; done <"$1"; }
none_ran() { ! grep -q -F -f "$1" "$log"; }
check "five workers heartbeating" wait_for 20 live

# ------------------------------------------------------------ propagation
t0=${EPOCHREALTIME/./}
q policy set shed.priority_below 5 >/dev/null 2>&1
check "shed.priority_below 5 applied in all 5 heartbeats within 2 s" wait_for 2 applied shed.priority_below 5
echo "  (all five reported it after $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms)"

# ------------------------------------------------------------ shedding by priority
q publish redis:work --type rec --priority 2 --count 10 >"$T/low.ids" 2>/dev/null
q publish redis:work --type rec --priority 8 --count 10 >"$T/high.ids" 2>/dev/null
check "high-priority tasks still run while shedding" wait_for 20 all_ran "$T/high.ids"
check "the 10 low-priority tasks are parked in work:parked" wait_for 10 bash -c "[ \$($R llen work:parked) = 10 ]"
check "no low-priority task ran" none_ran "$T/low.ids"
expect_eq "the parked ones are the priority-2 tasks" "$($R lrange work:parked 0 -1 | jq -r .priority | sort -u)" 2
expect_match "a worker logged the parking with reason shed" "$(cat "$T"/worker*.err)" 'parked \(shed\)'
expect_eq "nothing dead-lettered" "$($R llen work:dlq)" 0
# the fleet's counters keep the two apart: 10 parked, 0 dead letters
fleet_sum() { hb | jq -s --arg f "$1" 'map(.[$f] // 0) | add'; }
fleet_sum_is() { [ "$(fleet_sum "$1")" = "$2" ]; }
check "heartbeats: the five workers parked 10 between them" wait_for 3 fleet_sum_is parked 10
expect_eq "heartbeats: and dead-lettered none" "$(fleet_sum dead_lettered)" 0
q policy set shed.priority_below off >/dev/null 2>&1
check "turned off: the parked tasks are released and complete" wait_for 20 all_ran "$T/low.ids"
expect_eq "work:parked is empty" "$($R llen work:parked)" 0
expect_eq "each released task ran exactly once" "$(grep -F -f "$T/low.ids" "$log" | grep -c '^E ')" 10

# ------------------------------------------------------------ paused queue
q policy set queue.work.paused true >/dev/null 2>&1
check "queue.work.paused applied in all 5 heartbeats within 2 s" wait_for 2 applied queue.work.paused true
q publish redis:work --type rec --count 6 >"$T/paused.ids" 2>/dev/null
sleep 2
expect_eq "paused: the 6 tasks stay in the queue" "$($R llen work)" 6
check "paused: none of them ran" none_ran "$T/paused.ids"

# ------------------------------------------------------------ max_depth at publish
q policy set queue.work.max_depth 6 >/dev/null 2>&1
out=$(q publish redis:work --type rec 2>&1); rc=$?
expect_eq "publish at max_depth: exit 1" "$rc" 1
expect_match "publish at max_depth: says why" "$out" 'refused: redis:work holds 6 messages, at or over its max_depth guardrail 6'
expect_eq "publish at max_depth: nothing added" "$($R llen work)" 6
q policy set queue.work.max_depth 10 >/dev/null 2>&1
q publish redis:work --type rec >>"$T/paused.ids" 2>/dev/null; rc=$?
expect_eq "publish below max_depth: exit 0" "$rc" 0
expect_eq "publish below max_depth: added" "$($R llen work)" 7
q policy set queue.work.max_depth off >/dev/null 2>&1

q policy set queue.work.paused false >/dev/null 2>&1
check "resumed: every task taken while paused runs" wait_for 20 all_ran "$T/paused.ids"
expect_eq "resumed: the queue is empty" "$($R llen work)" 0

for p in "${pids[@]}"; do kill -TERM "$p"; done
rcs=""
for p in "${pids[@]}"; do wait "$p"; rcs+="$? "; done
pids=()
expect_eq "all five exit 0 on SIGTERM" "$rcs" "0 0 0 0 0 "
finish
