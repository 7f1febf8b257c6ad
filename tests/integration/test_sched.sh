#!/usr/bin/env bash
# The scheduler across a fleet of three processes (tests/tools/sched-node:
# heartbeat + scheduler, no pool) on the real Redis: exactly one leader;
# a job with every = 1 runs once per second across the fleet, not three
# times; SIGKILL of the leader hands the lease to another node within a few
# seconds and the schedule carries on; the loss is reported on qdeck:events.
# Then `qdeck sched list | run | pause | resume`, read-only refusal and the
# audit trail, and trim with its limit and its refusal to touch control keys.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/assert.sh"

R="redis-cli -p $REDIS_PORT"
dir=$QDECK_TEST_TMP/sched-$$
mkdir -p "$dir"
cat > "$dir/qdeck.conf" <<EOF
[context test]
redis = $REDIS_URL

[schedule tick]
every = 1
action = probe

[schedule sweep]
every = 3600
action = trim
pattern = qdeck:task:*
limit = 25

[schedule nightly]
cron = 0 3 * * *
action = publish
queue = redis:reports
type = report

[schedule emit]
every = 1
action = publish
queue = redis:emitted
type = report.daily
payload = {"n": 1}

[schedule broken]
cron = 61 * * * *
action = probe
EOF
chmod 600 "$dir/qdeck.conf"

pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

start_node() {
  "$TOOLS/sched-node" --redis "$REDIS_URL" --sched --config "$dir/qdeck.conf" --lease 3 \
    >"$dir/node$1.out" 2>"$dir/node$1.err" &
  pids[$1]=$!
}
node_id() { awk '/^id /{print $2}' "$dir/node$1.out"; }
leader() { $R get qdeck:sched:leader; }
runs() { $R hget qdeck:sched:job:tick runs; }
has_leader() { [ -n "$(leader)" ]; }

for i in 1 2 3; do start_node "$i"; done
check "a leader is elected" wait_for 10 has_leader
check "all three nodes heartbeat" wait_for 10 bash -c "[ \$($R --scan --pattern 'qdeck:worker:*' | wc -l) -eq 3 ]"
ids="$(node_id 1) $(node_id 2) $(node_id 3)"
expect_match "the leader is one of the three nodes" " $ids " " $(leader) "
# the heartbeat itself: TTL three intervals, a PUBLISH per beat, a join event per node
ttl=$($R pttl "qdeck:worker:$(node_id 1)")
check "heartbeat TTL is 3 x interval (2-3 s left of 3 s)" test "$ttl" -gt 1900 -a "$ttl" -le 3000
published=$(timeout 2.5 redis-cli -p "$REDIS_PORT" subscribe qdeck:workers 2>/dev/null | grep -cE "^($(node_id 1)|$(node_id 2)|$(node_id 3))\$")
check "each beat is PUBLISHed on qdeck:workers (3 nodes, ~2 s: >= 3 messages)" test "$published" -ge 3
for i in 1 2 3; do
  expect_match "node $i announced itself (worker.joined)" "$($R xrange qdeck:events - + | grep -A2 -x worker.joined)" "^$(node_id "$i")\$"
done
report=$($R get "qdeck:worker:$(node_id 1)")
expect_eq "the report carries the heartbeat's own fields" \
  "$(jq -r '[.id, .host, (.pid|type), .version, (.at|type), .interval, .state] | join(",")' <<<"$report")" \
  "$(node_id 1),$(hostname),number,test,number,1,running"
expect_eq "and the worker's (callback) fields" "$(jq -c '[.slots_busy, .slots_total, .queues]' <<<"$report")" \
  '[3,8,["amqp:orders","redis:jobs"]]'

# exactly one leader: only one node says so in its heartbeat, over several seconds
one_leader() {
  local n=0 k
  for k in $($R --scan --pattern 'qdeck:worker:*'); do
    [ "$($R get "$k" | jq -r '.sched_leader')" = true ] && n=$((n + 1))
  done
  [ "$n" -eq 1 ]
}
check "exactly one node reports itself leader" wait_for 5 one_leader
stable=ok
for _ in 1 2 3 4 5 6; do one_leader || stable="not exactly one leader at $(date +%T.%N)"; sleep 0.5; done
expect_eq "still exactly one leader three seconds later" "$stable" ok

# every = 1 across three nodes: about one run per second, not three
check "the job has run" wait_for 5 bash -c "[ \"\$($R hget qdeck:sched:job:tick runs)\" -ge 1 ]"
r0=$(runs); t0=$EPOCHREALTIME
sleep 6
r1=$(runs); t1=$EPOCHREALTIME
per_sec=$(awk -v a="$r0" -v b="$r1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.2f", (b - a) / (e - s) }')
echo "  tick ran $((r1 - r0)) times in $(awk -v s="$t0" -v e="$t1" 'BEGIN{printf "%.1f", e - s}') s ($per_sec/s)"
check "every = 1: once per second across the fleet (0.8-1.2/s), not 3/s" \
  awk -v r="$per_sec" 'BEGIN { exit !(r >= 0.8 && r <= 1.2) }'
# the publish job, counted by what it actually put on the queue
# the list is read once: the job goes on publishing while the test counts
e_runs=$($R hget qdeck:sched:job:emit runs); emitted=$($R lrange emitted 0 -1); e_len=$(grep -c . <<<"$emitted")
check "every published run is one task on the list (runs $e_runs, list $e_len)" \
  test "$e_len" -ge "$((e_runs - 1))" -a "$e_len" -le "$((e_runs + 1))" -a "$e_len" -ge 5
expect_eq "no two tasks share an idempotency key (one per due time)" \
  "$(jq -r .idempotency_key <<<"$emitted" | sort -u | wc -l)" "$e_len"
env=$($R lindex emitted 0)
expect_eq "envelope: type" "$(jq -r .type <<<"$env")" report.daily
expect_eq "envelope: payload" "$(jq -c .payload <<<"$env")" '{"n":1}'
expect_match "envelope: idempotency key names the job and run" "$(jq -r .idempotency_key <<<"$env")" '^sched:emit:[0-9]+\.[0-9]{3}$'
expect_match "publish result recorded" "$($R hget qdeck:sched:job:emit last_result)" '^published task [0-9a-f-]{36} to redis:emitted$'
expect_match "probe result recorded" "$($R hget qdeck:sched:job:tick last_result)" '^redis ok [0-9.]+ms$'
expect_eq "the leader ran it" "$($R hget qdeck:sched:job:tick leader)" "$(leader)"
expect_match "a cron job gets its next run (03:00)" "$($R hget qdeck:sched:job:nightly next_run)" '^[0-9]+\.000$'
check "cron next run is at 03:00 local time" bash -c \
  "[ \"\$(date -d @\$($R hget qdeck:sched:job:nightly next_run | cut -d. -f1) +%H:%M)\" = 03:00 ]"
expect_match "an invalid job says why" "$($R hget qdeck:sched:job:broken last_result)" 'invalid: bad cron: minute: 61'

# failover: SIGKILL the leader
old=$(leader)
for i in 1 2 3; do [ "$(node_id "$i")" = "$old" ] && victim=$i; done
kill -KILL "${pids[$victim]}"; wait "${pids[$victim]}" 2>/dev/null; unset "pids[$victim]"
t_kill=$EPOCHREALTIME
new_leader() { local l; l=$(leader); [ -n "$l" ] && [ "$l" != "$old" ]; }
check "a new leader within 5 s of SIGKILL" wait_for 5 new_leader
echo "  failover took $(awk -v s="$t_kill" -v e="$EPOCHREALTIME" 'BEGIN{printf "%.1f", e - s}') s (lease 3 s)"
expect_match "the new leader is a surviving node" " $ids " " $(leader) "
r2=$(runs)
check "the schedule carries on under the new leader" wait_for 4 bash -c "[ \"\$($R hget qdeck:sched:job:tick runs)\" -gt $r2 ]"
lost_event() { $R xrange qdeck:events - + | grep -A2 -x worker.lost | grep -qx "$old"; }
check "the killed node is reported lost on qdeck:events" wait_for 10 lost_event
expect_match "leadership change is an event" "$($R xrange qdeck:events - +)" 'sched.leader'

# the CLI
Q() { "$QDECK" --config "$dir/qdeck.conf" "$@"; }
out=$(Q sched list); rc=$?
expect_eq "sched list exits 0" "$rc" 0
expect_match "sched list names the leader" "$out" "scheduler leader: $(leader)"
expect_match "sched list shows the interval job" "$out" 'tick +every 1s +probe +brokers +active'
expect_match "sched list shows the cron job" "$out" 'nightly +cron 0 3 \* \* \* +publish +redis:reports'
expect_match "sched list shows an invalid job as such" "$out" 'broken .* invalid'
json=$(Q sched list --json)
expect_eq "--json: five jobs" "$(jq '.jobs | length' <<<"$json")" 5
expect_match "--json: last run is ISO-8601" "$(jq -r '.jobs[] | select(.name == "tick") | .last_run' <<<"$json")" \
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$'

for i in $(seq 30); do $R set "qdeck:task:t$i" x >/dev/null; done
$R set qdeck:task:keep-me-not x >/dev/null
out=$(Q sched run sweep); rc=$?
expect_eq "sched run exits 0" "$rc" 0
expect_match "sched run waits for and prints the result" "$out" '^ran sweep on .*: deleted 25 keys matching qdeck:task:\* \(limit reached\)'
expect_eq "trim stopped at its limit (31 - 25 left)" "$($R --scan --pattern 'qdeck:task:*' | wc -l)" 6
expect_eq "run_requested was consumed" "$($R hexists qdeck:sched:job:sweep run_requested)" 0

out=$(Q sched pause tick); rc=$?
expect_eq "sched pause exits 0" "$rc" 0
expect_eq "paused in Redis" "$($R hget qdeck:sched:job:tick paused)" 1
sleep 1.5; p0=$(runs); sleep 2.5
expect_eq "a paused job does not run" "$(runs)" "$p0"
expect_match "sched list shows it paused" "$(Q sched list)" 'tick .* paused'
Q sched resume tick >/dev/null
check "a resumed job runs again" wait_for 4 bash -c "[ \"\$($R hget qdeck:sched:job:tick runs)\" -gt $p0 ]"

out=$(Q --read-only sched pause tick 2>&1); rc=$?
expect_eq "read-only: pause refused with exit 1" "$rc" 1
expect_match "read-only: says why" "$out" 'read-only mode: refusing sched pause tick'
expect_eq "read-only: nothing changed" "$($R hget qdeck:sched:job:tick paused)" 0
out=$(Q --read-only sched run sweep 2>&1); rc=$?
expect_eq "read-only: run refused with exit 1" "$rc" 1

audit=$HOME/.local/state/qdeck/audit.jsonl
expect_match "audit file has the pause" "$(cat "$audit" 2>/dev/null)" '"action":"sched.pause".*"target":"tick"'
expect_match "audit file has the refusal" "$(cat "$audit" 2>/dev/null)" '"result":"refused: read-only"'
expect_match "audit stream has the run" "$($R xrange qdeck:audit - +)" 'sched.run'

out=$(Q sched run nosuch 2>&1); rc=$?
expect_eq "unknown job: exit 1" "$rc" 1
expect_match "unknown job: named" "$out" "no schedule 'nosuch'"
out=$(Q sched frobnicate 2>&1); rc=$?
expect_eq "unknown subcommand: usage error" "$rc" 2
out=$("$QDECK" --redis redis://127.0.0.1:1 sched list 2>&1); rc=$?
expect_eq "unreachable Redis: exit 3" "$rc" 3

# a clean stop releases the lease at once
cur=$(leader)
for i in 1 2 3; do [ "$(node_id "$i")" = "$cur" ] && keeper=$i; done
kill -TERM "${pids[$keeper]}"; wait "${pids[$keeper]}"; st=$?; unset "pids[$keeper]"
expect_eq "SIGTERM: the node exits 0" "$st" 0
check "the last node takes over at once after a clean stop (< 1.5 s)" wait_for 1.5 bash -c \
  "l=\$($R get qdeck:sched:leader); [ -n \"\$l\" ] && [ \"\$l\" != '$cur' ]"
expect_match "the stopped node said goodbye" "$($R get "qdeck:worker:$cur")" '"state":"stopped"'

finish
